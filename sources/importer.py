"""``plantlake import``: turn a plant's export into nightly landing-zone drops, one per day with rows.

A plant that cannot send nightly drops yet (or a history to load once) exports files in
its own format; its mapping says which file holds which feed. The import:

1. finds each feed's files in the export folder by the mapping's file globs;
2. dates every row: the local date (in the plant's time zone; UTC for supplier exports)
   of its feed's event time, typed as the reader will type it; master feeds without an
   event time go into the first drop;
3. copies each row's line verbatim (bytes, encoding and line endings as delivered, with
   the file's header line) into that day's file of the same name, gzipped if the source
   was, Parquet rows into a Parquet file of the same schema;
3a. for a feed the mapping derives from another's records (``from:``/``when:``, a
   run-to-failure export's failures: :mod:`sources.series`), copies those records the same
   way into ``<feed>.derived.<source file>`` on the day of each record;
4. writes each drop with :class:`~sources.landing.DropWriter`, manifest last (format = the
   mapping's name).

Every source row is accounted for: the drops' manifest rows add up to the source files'
rows plus the derived files' rows. A row whose day cannot be determined (an unparsable or missing event time, a line
that cannot be split into fields) stops the import before anything is written, with an
error naming file, row and value; fix the export or its mapping and run it again.

Re-running an import writes byte-identical drops (``created_at`` is the end of the drop's
day), so drops that were landed already are not landed again.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse.settings import Settings, get_settings
from sources import mapping as mappings
from sources import series
from sources.columns import Sources, map_columns, typed_column
from sources.contracts import PLANT, contract
from sources.decode import GZ, FileProblem, ascii_compatible, data_lines, decode, decompress, file_format, split_lines
from sources.landing import SUPPLIERS, DropRef, DropWriter
from sources.mapping import Mapping

log = logging.getLogger(__name__)

UNDATED = -1
EPOCH = dt.date(1970, 1, 1).toordinal()
SHOWN_UNDATED = 20


class ImportFailed(Exception):
    """The export cannot be turned into drops as it is; the message names the files and rows."""


@dataclass
class SourceFile:
    path: Path
    feed: str
    rows: int  # data rows
    days: np.ndarray | None  # date ordinal per data row; None for a master feed (first drop)
    content: bytes | None = None  # a derived feed's file, made here (None: read ``path``)


@dataclass
class ImportReport:
    """Where every source row went: rows per source file, rows per drop and file."""

    mapping: str
    source: str  # plant id, or "suppliers"
    timezone: str
    files: dict[str, int] = field(default_factory=dict)  # source file -> data rows
    drops: dict[str, dict[str, int]] = field(default_factory=dict)  # drop id -> {file: rows}
    undated: list[str] = field(default_factory=list)  # "file row N: why", rows no day could be given
    derived: dict[str, tuple[int, str]] = field(default_factory=dict)  # file made from records -> rows, how

    @property
    def source_rows(self) -> int:
        return sum(self.files.values())

    @property
    def drop_rows(self) -> int:
        return sum(sum(files.values()) for files in self.drops.values())

    @property
    def derived_rows(self) -> int:
        """Rows of the files made from the export's records (a run-to-failure export's failures)."""
        return sum(rows for rows, _ in self.derived.values())

    @property
    def accounted(self) -> bool:
        """Every source row is in exactly one drop, and so is every derived row."""
        return not self.undated and self.source_rows + self.derived_rows == self.drop_rows

    def rows_by_file(self) -> dict[str, int]:
        """Rows the drops hold per file name (compare with ``files``)."""
        totals: dict[str, int] = {}
        for files in self.drops.values():
            for name, rows in files.items():
                totals[name] = totals.get(name, 0) + rows
        return totals


def find_files(mapping: Mapping, folder: Path) -> dict[str, list[Path]]:
    """Each feed's files in the export folder (by the mapping's globs; ``.gz`` accepted)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        feed = mapping.feed_for_file(path.name)
        if feed is None:
            log.info("%s: not a file of mapping %s, left out", path.name, mapping.name)
            continue
        found.setdefault(feed, []).append(path)
    if not found:
        globs = ", ".join(f"{f}: {m.file}" for f, m in mapping.feeds.items())
        raise ImportFailed(f"{folder} holds no file of mapping {mapping.name} ({globs})")
    return found


def _plants_file_rows(mapping: Mapping, paths: list[Path]) -> list[dict]:
    spec = contract("plants")
    rows: list[dict] = []
    for path in paths:
        decoded = _decode(path, mapping.dialect_for("plants"))
        mapped = map_columns(decoded.frame, decoded.rows, spec, Sources.of(mapping, "plants"),
                             mapping.dialect_for("plants"), None)
        if mapped.frame is not None:
            rows += mapped.frame.select("plant_id", "timezone").to_dicts()
    return rows


def plant_of(mapping: Mapping, files: dict[str, list[Path]], plant_id: str | None) -> tuple[str, str]:
    """(drop source, the zone its days are counted in): the plant and its zone, or suppliers and UTC."""
    if mapping.scope != PLANT:
        return SUPPLIERS, "UTC"
    declared = [{"plant_id": str(r.get("plant_id")), "timezone": r.get("timezone")}
                for r in mapping.master.get("plants", [])]
    candidates = declared or _plants_file_rows(mapping, files.get("plants", []))
    ids = sorted({r["plant_id"] for r in candidates if r["plant_id"]})
    if plant_id is None:
        if len(ids) != 1:
            raise ImportFailed(f"cannot tell which plant this export is ({', '.join(ids) or 'no plants row'}): "
                               "pass --plant-id")
        plant_id = ids[0]
    elif ids and plant_id not in ids:
        raise ImportFailed(f"--plant-id {plant_id} contradicts the export's or mapping's plant {', '.join(ids)}")
    zones = [r["timezone"] for r in candidates if r["plant_id"] == plant_id and r["timezone"]]
    if zones:
        return plant_id, str(zones[0])
    if mapping.dialect.timezone != "plant":
        log.warning("plant %s declares no time zone: counting days in the dialect's zone %s", plant_id,
                    mapping.dialect.timezone)
        return plant_id, mapping.dialect.timezone
    raise ImportFailed(f"plant {plant_id}'s time zone is unknown: declare it in the mapping's master.plants")


def _decode(path: Path, dialect):
    try:
        return decode(path.name, path.read_bytes(), dialect)
    except FileProblem as problem:
        raise ImportFailed(f"{path.name}: {problem}") from None


def date_rows(mapping: Mapping, feed: str, path: Path, zone: str) -> tuple[SourceFile, list[str]]:
    """The local date of every data row of one file, and the rows that cannot be dated (with why)."""
    spec = contract(feed)
    dialect = mapping.dialect_for(feed)
    decoded = _decode(path, dialect)
    if spec.master or not spec.event_time:
        return SourceFile(path, feed, decoded.n_rows, None), []
    sources = Sources.of(mapping, feed)
    header = sources.header_for(spec.event_time)
    if header is None or header not in decoded.frame.columns:
        raise ImportFailed(f"{path.name}: no column {header or spec.event_time!r} to date its rows by "
                           f"({feed}.{spec.event_time})")
    plant_zone = zone if dialect.timezone == "plant" else dialect.timezone
    cmap = sources.maps[header]  # typed as the reader will: the column's own formats, null tokens, counter
    when, values = typed_column(decoded.frame, header, cmap, spec.field(cmap.to), sources, dialect, plant_zone)
    local = when.dt.convert_time_zone(zone).dt.date()
    since_epoch = local.to_physical().cast(pl.Int64)  # days since 1970-01-01
    days = np.full(decoded.n_rows, UNDATED, dtype=np.int64)  # malformed rows stay undated
    days[decoded.rows] = (since_epoch + EPOCH).fill_null(UNDATED).to_numpy()
    undated = [f"{path.name} row {int(r) + 1}: {why}" for r, why in decoded.malformed.items()]
    bad = np.flatnonzero(local.is_null().to_numpy())
    texts = values.gather(bad).to_list() if bad.size else []
    shown = cmap.counter.describe() if cmap.counter else " or ".join(cmap.formats) or dialect.timestamp_format
    undated += [f"{path.name} row {int(decoded.rows[i]) + 1}: {header} = {v!r} is not a timestamp "
                f"({shown}, {plant_zone})" for i, v in zip(bad, texts, strict=True)]
    return SourceFile(path, feed, decoded.n_rows, days), undated


def _terminator(content: bytes) -> bytes:
    if b"\r\n" in content:
        return b"\r\n"
    return b"\r" if b"\r" in content else b"\n"


def _pieces(source: SourceFile, dialect, content: bytes, groups: dict[int, np.ndarray]) -> dict[int, bytes]:
    """Per day, the file's bytes holding that day's rows (with the header line for CSV)."""
    fmt = file_format(source.path.name, dialect)
    if fmt == "parquet":
        table = pq.read_table(pa.BufferReader(content))
        out = {}
        for day, rows in groups.items():
            sink = io.BytesIO()
            pq.write_table(table.take(pa.array(rows)), sink)
            out[day] = sink.getvalue()
        return out
    if not ascii_compatible(dialect.encoding):
        raise ImportFailed(f"{source.path.name}: import copies lines byte by byte and needs an ASCII-compatible "
                           f"encoding (utf-8, latin-1, cp1252, ...), not {dialect.encoding}")
    if fmt == "csv":
        starts, ends, span = data_lines(content, dialect)
        header = content[span[0]:span[1]] if span else b""
    else:
        (starts, ends), header = split_lines(content, quote=None), b""
    if starts.size != source.rows:
        raise ImportFailed(f"{source.path.name}: found {starts.size} lines for {source.rows} rows")
    eol = _terminator(content)
    out = {}
    for day, rows in groups.items():
        lines = [content[s:e] for s, e in zip(starts[rows].tolist(), ends[rows].tolist(), strict=True)]
        out[day] = (header + eol if header else b"") + eol.join(lines) + eol
    return out


def derived_file(mapping: Mapping, feed: str, source: SourceFile, zone: str) -> SourceFile:
    """The records of ``source`` where ``feed``'s event happened (``when:``, sources.series), copied as a file of
    ``feed`` (``<feed>.derived.<source file>``), each on the day of the record it copies."""
    fmap, spec = mapping.feeds[feed], contract(source.feed)
    dialect = mapping.dialect_for(source.feed)
    decoded = _decode(source.path, dialect)
    sources = Sources.of(mapping, source.feed)
    status = units = times = None
    if isinstance(fmap.when, series.Occurs):
        if fmap.when.column not in decoded.frame.columns:
            raise ImportFailed(f"{source.path.name}: no status column {fmap.when.column!r} to find {feed} in")
        status = decoded.frame[fmap.when.column]
    else:
        unit = next(k for k in spec.natural_key if k != spec.event_time)
        headers = [sources.header_for(unit), sources.header_for(spec.event_time)]
        if any(h is None or h not in decoded.frame.columns for h in headers):
            raise ImportFailed(f"{source.path.name}: {feed} comes from each {unit}'s {fmap.when} record, but it has "
                               f"no column for its {unit} or {spec.event_time}")
        plant_zone = zone if dialect.timezone == "plant" else dialect.timezone
        units, times = (typed_column(decoded.frame, h, sources.maps[h], spec.field(sources.maps[h].to), sources,
                                     dialect, plant_zone)[0] for h in headers)
    rows = decoded.rows[series.event_rows(units, times, status, fmap.when)]
    content = decompress(source.path.name, source.path.read_bytes())
    copied = _pieces(source, dialect, content, {0: rows}).get(0, b"") if rows.size else b""
    name = f"{feed}.derived.{source.path.name}"
    return SourceFile(source.path.with_name(name), feed, int(rows.size), source.days[rows], content=copied)


def _groups(source: SourceFile, first_day: int) -> dict[int, np.ndarray]:
    if source.days is None:
        return {first_day: np.arange(source.rows)} if source.rows else {}
    order = np.argsort(source.days, kind="stable")
    days = source.days[order]
    cuts = np.flatnonzero(np.diff(days)) + 1
    return {int(chunk_days[0]): rows for chunk_days, rows in zip(np.split(days, cuts), np.split(order, cuts),
                                                                  strict=True) if chunk_days.size}


def import_source(
    mapping: Mapping | str,
    folder: Path | str,
    landing_uri: str,
    *,
    plant_id: str | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Write one drop per day of the export in ``folder``; returns where every row went."""
    mapping = mapping if isinstance(mapping, Mapping) else mappings.get(mapping)
    folder = Path(folder)
    files = find_files(mapping, folder)
    source, zone = plant_of(mapping, files, plant_id)
    report = ImportReport(mapping.name, source, zone)
    dated: list[SourceFile] = []
    paths = [(feed, p) for feed, ps in files.items() for p in ps]
    task = progress.add_task("dating rows", total=len(paths)) if progress else None
    for feed, path in paths:
        sf, undated = date_rows(mapping, feed, path, zone)
        dated.append(sf)
        report.files[path.name] = sf.rows
        report.undated += undated
        log.info("%s: %d rows of %s", path.name, sf.rows, feed)
        if progress:
            progress.advance(task)
    if report.undated:
        shown = "; ".join(report.undated[:SHOWN_UNDATED])
        more = f" (and {len(report.undated) - SHOWN_UNDATED} more)" if len(report.undated) > SHOWN_UNDATED else ""
        raise ImportFailed(f"{len(report.undated)} rows cannot be given a day, nothing was written: {shown}{more}")
    for feed, fmap in mapping.derived_feeds().items():  # run-to-failure: events the records imply
        for sf in [d for d in dated if d.feed == fmap.from_feed]:
            made = derived_file(mapping, feed, sf, zone)
            dated.append(made)
            rule = f"the {fmap.when} record of each unit" if isinstance(fmap.when, str) else \
                f"the records whose {fmap.when.column} is {' or '.join(fmap.when.equals)}"
            report.derived[made.path.name] = (made.rows, f"{feed}: {rule} of {sf.path.name}")
            log.info("%s: %d %s derived (%s)", made.path.name, made.rows, feed, rule)
    all_days = [sf.days for sf in dated if sf.days is not None and sf.days.size]
    if not all_days:
        raise ImportFailed("the export has no dated rows (only master data): there is no day to drop it on")
    first_day = int(min(d.min() for d in all_days))
    writers: dict[int, DropWriter] = {}
    task = progress.add_task("writing drops", total=report.source_rows) if progress else None
    for sf in dated:
        dialect = mapping.dialect_for(sf.feed)
        content = sf.content if sf.content is not None else decompress(sf.path.name, sf.path.read_bytes())
        groups = _groups(sf, first_day)
        for day, data in sorted(_pieces(sf, dialect, content, groups).items()):
            date = dt.date.fromordinal(day)
            if day not in writers:
                end_of_day = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
                writers[day] = DropWriter(landing_uri, DropRef(date, source), mapping.name, settings,
                                          created_at=end_of_day.isoformat()).__enter__()
            body = gzip.compress(data, mtime=0) if sf.path.name.endswith(GZ) else data
            rows = len(groups[day])
            writers[day].write(sf.path.name, sf.feed, body, rows=rows)
            report.drops.setdefault(writers[day].ref.drop_id, {})[sf.path.name] = rows
            if progress:
                progress.advance(task, rows)
    for day in sorted(writers):
        writers[day].write_manifest()
    if not report.accounted:
        raise ImportFailed(f"rows lost: the export has {report.source_rows} rows (and {report.derived_rows} derived), "
                           f"the drops {report.drop_rows}")
    log.info("%s: %d rows of %d files in %d drops (%s to %s)", folder, report.drop_rows, len(report.files),
             len(writers), dt.date.fromordinal(min(writers)), dt.date.fromordinal(max(writers)))
    return report


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def import_export(
    mapping: Annotated[str, typer.Option("--mapping", help="Mapping name (e.g. azure_pdm) or path to a mapping YAML.")],
    source: Annotated[Path, typer.Option("--source", help="Folder holding the export's files.", exists=True,
                                         file_okay=False, dir_okay=True, resolve_path=True)],
    landing: Annotated[str | None, typer.Option(
        "--landing", help="Landing zone to write the drops to: a folder or s3://bucket/prefix "
                          "(default: PLANTLAKE_LANDING_URI).")] = None,
    plant_id: Annotated[str | None, typer.Option(
        "--plant-id", help="Plant the export belongs to (default: the plant the mapping or export declares).")] = None,
) -> None:
    """Turn an export into nightly landing-zone drops with manifests: one drop per day that has rows."""
    settings = get_settings()
    landing_uri = landing or settings.landing_uri
    console = Console(stderr=True)
    try:
        with _progress(console) as progress:
            report = import_source(mapping, source, landing_uri, plant_id=plant_id, settings=settings,
                                   progress=progress)
    except (ImportFailed, KeyError, ValueError) as exc:
        log.error("import failed: %s", exc)
        raise typer.Exit(1) from None
    out = Table("file", "source rows", "rows in drops", title=f"{report.mapping} -> {landing_uri} ({report.source})")
    in_drops = report.rows_by_file()
    for name, rows in report.files.items():
        out.add_row(name, f"{rows:,}", f"{in_drops.get(name, 0):,}")
    for name, (rows, how) in report.derived.items():
        out.add_row(f"{name} (derived: {how})", f"{rows:,}", f"{in_drops.get(name, 0):,}")
    Console().print(out)
    dates = sorted(drop_id.rsplit("date=", 1)[-1] for drop_id in report.drops)
    typer.echo(f"{len(dates)} drops of {report.source} from {dates[0]} to {dates[-1]}; "
               f"all {report.source_rows:,} source rows are in them")
