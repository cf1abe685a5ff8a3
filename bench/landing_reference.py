"""The landing reference: DuckDB reads the same drop files and writes Parquet (benchmark-only).

For every (mapping, feed) of the night's complete drops, one ``COPY (SELECT ... FROM
read_csv([...]))`` with the mapping's dialect (delimiter, decimal comma, encoding, null
tokens, timestamp and date formats, time zone), the contract's column types and names (a
sensor feed's sensors typed and gathered into its ``readings`` map, as the reader does),
plant and date from the drop folder, into one Parquet file. No contract rules, no
quarantine, no lineage, no Delta commit: the floor of what turning these files into typed
columnar data costs on this machine.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.reference import duckdb_connection
from sources import mapping as mappings
from sources.contracts import contract
from sources.landing import list_complete

DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float64(): "DOUBLE",
    pa.date32(): "DATE",
    pa.bool_(): "VARCHAR",  # tokens differ by mapping (ja/nein): decided in SQL below
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _header(path: str, delimiter: str, encoding: str) -> list[str]:
    import gzip

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        line = f.readline().decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    return line.split(delimiter)


def _feed_select(mapping: mappings.Mapping, feed: str, files: list[str]) -> str:
    """SELECT of one feed's files of one mapping: typed contract columns plus plant_id and date of the drop."""
    spec, dialect = contract(feed), mapping.dialect_for(feed)
    maps, sensors = mapping.column_maps(feed), mapping.sensor_maps(feed)
    header = _header(files[0], dialect.delimiter, dialect.encoding)
    iso = dialect.timestamp_format == "iso"
    types, columns, readings = {}, [], []
    for source in header:
        cmap = maps.get(source)
        if source in sensors and not sensors[source].source_unit:
            types[source] = "DOUBLE"
            readings.append(f"{{'key': {_quote(sensors[source].sensor)}, 'value': {_ident(source)}}}")
            continue
        if cmap is None or cmap.unit or cmap.template or cmap.age_at:
            # The reference covers the simulator's mappings (renames only); a converting mapping is not comparable.
            raise ValueError(f"{mapping.name}.{feed}: column {source!r} needs more than a rename; the DuckDB "
                             "landing reference only measures mappings that rename columns")
        target = spec.field(cmap.to)
        if pa.types.is_timestamp(target.type):
            types[source] = "TIMESTAMPTZ" if iso else "TIMESTAMP"
            expr = _ident(source)
            if not iso and dialect.timezone not in ("UTC", "plant"):
                expr = f"timezone({_quote(dialect.timezone)}, {expr})"
        elif pa.types.is_boolean(target.type):
            types[source] = "VARCHAR"
            true = ", ".join(map(_quote, dialect.true_tokens))
            false = ", ".join(map(_quote, dialect.false_tokens))
            expr = f"CASE WHEN {_ident(source)} IN ({true}) THEN true WHEN {_ident(source)} IN ({false}) THEN false END"
        else:
            types[source] = DUCK_TYPES[target.type]
            expr = _ident(source)
        columns.append(f"{expr} AS {_ident(cmap.to)}")
    for name, value in mapping.feeds[feed].constants.items():
        columns.append(f"{_quote(str(value))} AS {_ident(name)}")
    if readings:
        entries = f"list_filter([{', '.join(readings)}], lambda e: e.value IS NOT NULL)"
        columns.append(f"map_from_entries({entries}) AS readings")
    options = [
        f"delim={_quote(dialect.delimiter)}",
        f"decimal_separator={_quote(dialect.decimal)}",
        f"encoding={_quote(dialect.encoding.lower().replace('_', '-'))}",
        "header=true",
        f"nullstr=[{', '.join(map(_quote, dialect.null_tokens))}]",
        "hive_partitioning=true",
        "types={" + ", ".join(f"{_quote(k)}: {_quote(v)}" for k, v in types.items()) + "}",
    ]
    if not iso:
        options.append(f"timestampformat={_quote(dialect.timestamp_format)}")
    if dialect.date_format != "%Y-%m-%d":
        options.append(f"dateformat={_quote(dialect.date_format)}")
    targets = {maps[source].to for source in header if source in maps}
    partition = ["plant AS plant_id"] if spec.scope == "plant" and "plant_id" not in targets else []
    partition += [] if "date" in targets else ["date"]
    file_list = "[" + ", ".join(map(_quote, files)) + "]"
    return f"SELECT {', '.join(columns + partition)} FROM read_csv({file_list}, {', '.join(options)})"


def landing_reference(landing: str, dates: list[dt.date], out: Path, threads: int | None = None,
                      memory_limit: str | None = None) -> dict:
    """Read the complete drops of ``dates`` from a local landing zone and write Parquet; figures of the work."""
    started = time.perf_counter()
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    manifest_rows = 0
    for drop in list_complete(landing, dates):
        name = drop.manifest.format or mappings.DEFAULT_MAPPING
        for entry in drop.manifest.files:
            groups[(name, entry.feed)].append(str(Path(landing) / drop.drop_id / entry.path))
            manifest_rows += entry.rows
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb_connection(threads, memory_limit)
    written = []
    for (name, feed), files in sorted(groups.items()):
        target = out / f"{feed}-{name}.parquet"
        select = _feed_select(mappings.get(name), feed, sorted(files))
        con.execute(f"COPY ({select}) TO {_quote(str(target))} (FORMAT parquet, COMPRESSION snappy)")
        written.append(target)
    con.close()
    seconds = time.perf_counter() - started
    rows = sum(pq.read_metadata(p).num_rows for p in written)
    size = sum(p.stat().st_size for p in written)
    input_bytes = sum(Path(f).stat().st_size for files in groups.values() for f in files)
    return {"seconds": seconds, "rows": rows, "manifest_rows": manifest_rows,
            "files_in": sum(map(len, groups.values())), "bytes_in": input_bytes, "files_out": len(written),
            "bytes_out": size}
