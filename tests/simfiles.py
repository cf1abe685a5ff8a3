"""Reading simulator files back for the tests, independently of the landing reader: strictly by the
mapping's dialect and the contract's types, so any deviation fails loudly."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sources.contracts import BOOL, DATE, FLOAT64, INT64, TIMESTAMP, contract
from sources.mapping import Mapping
from sources.simulator import tables


def raw_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def text_rows(path: Path, mapping: Mapping, feed: str) -> tuple[list[str], list[list[str | None]]]:
    """Header and rows as strings (None for null) of a CSV or JSON-lines file."""
    data = raw_bytes(path)
    dialect = mapping.dialect_for(feed)
    if ".jsonl" in path.name:
        objects = [json.loads(line) for line in data.decode("utf-8").split("\n") if line]
        header = list(objects[0]) if objects else list(contract(feed).names)
        rows = [[None if o[h] is None else o[h] if isinstance(o[h], str) else json.dumps(o[h]) for h in header]
                for o in objects]
        return header, rows
    lines = data.decode(dialect.encoding).split("\n")
    assert lines[-1] == "", f"{path.name} does not end with a newline"
    header = lines[0].split(dialect.delimiter)
    rows = [[None if v in dialect.null_tokens else v for v in line.split(dialect.delimiter)] for line in lines[1:-1]]
    assert all(len(r) == len(header) for r in rows), f"{path.name}: ragged rows"
    return header, rows


def read_typed(path: Path, mapping: Mapping, feed: str, plant_timezone: str) -> pa.Table:
    """A file as a table of the contract's columns and types, and a sensor feed's sensors (parsing strictly)."""
    fields = list(tables.schema(feed))  # the contract's columns and, for a sensor feed, the simulator's sensors
    if ".parquet" in path.name:
        return pq.read_table(io.BytesIO(raw_bytes(path)))
    header, rows = text_rows(path, mapping, feed)
    maps = mapping.column_maps(feed)
    sensors = {h: s.sensor for h, s in mapping.sensor_maps(feed).items()}
    names = [maps[h].to if h in maps else sensors[h] for h in header]
    assert names == [f.name for f in fields], f"{path.name}: columns {names} != {[f.name for f in fields]}"
    frame = pl.DataFrame({n: [r[i] for r in rows] for i, n in enumerate(names)}, schema=dict.fromkeys(names, pl.String))
    dialect = mapping.dialect_for(feed)
    zone = plant_timezone if dialect.timezone == "plant" else dialect.timezone
    exprs = []
    for f in fields:
        c = pl.col(f.name)
        if f.type == FLOAT64:
            c = (c.str.replace(",", ".", literal=True) if dialect.decimal == "," else c).cast(pl.Float64, strict=True)
        elif f.type == INT64:
            c = c.cast(pl.Int64, strict=True)
        elif f.type == BOOL:
            c = pl.when(c.is_in(dialect.true_tokens)).then(True).when(c.is_in(dialect.false_tokens)).then(False)
        elif f.type == DATE:
            fmt = "%Y-%m-%d" if ".jsonl" in path.name else dialect.date_format
            c = c.str.to_date(fmt, strict=True)
        elif f.type == TIMESTAMP:
            if ".jsonl" in path.name or dialect.timestamp_format == "iso":
                c = c.str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="us", time_zone="UTC", strict=True)
            else:
                c = (c.str.to_datetime(dialect.timestamp_format, time_unit="us", strict=True)
                     .dt.replace_time_zone(zone, ambiguous="earliest").dt.convert_time_zone("UTC"))
        exprs.append(c.alias(f.name))
    table = frame.select(exprs).to_arrow()
    schema = pa.schema([pa.field(f.name, f.type) for f in fields])
    return table.cast(schema)
