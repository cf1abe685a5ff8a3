"""Reading a complete drop into bronze rows and quarantine rows, through its mapping and contracts.

``read_drop`` is what the bronze assets call for every pending drop. It never writes:
it returns, per feed, the rows that keep their contract (typed, with the drop's date,
plant and lineage) and the rows that break it (with the rule, the reason and the line as
delivered), so that for every drop manifest rows = bronze rows + quarantined rows.

Problems of the drop as a whole raise :class:`DropRejected` with a reason naming the
file: an unknown mapping or file, a checksum or row-count mismatch with the manifest, an
empty file, a truncated gzip, an undecodable file, an unknown plant, a ``plants`` row for
another plant, a mapping whose own ``master:`` rows break the contract.

Master feeds are read first (plants, lines, machines; suppliers, supplier_locations,
parts), so a drop's own master rows extend the ids the lake already knows and give the
plant's time zone: its ``plants`` file, else the mapping's ``master.plants``, else what
the lake knows (``KnownIds.timezones``).

A mapping may also give master rows its export lacks: reference rows of another scope (the
ship-to ``plants`` of a supplier export, ``master:``) and rows derived from the distinct
values of its fact rows (``derive:``). Those land only for keys neither the lake nor the drop
knows yet, so unchanged master rows are not landed again night after night; their
attributes the export does not give are null (unknown), which the contract allows only for
columns marked ``may_be_unknown``. Every row a row breaks is recorded (one quarantine row per
rule); the counts reconcile on rows: manifest rows = bronze rows + distinct quarantined rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.conform import conform
from lakehouse.settings import Settings
from sources import mapping as mappings
from sources import registry
from sources.columns import YAML_DIALECT, Mapped, Sources, map_columns, yaml_text
from sources.contracts import CONTRACTS, NULLED_VALUES, PLANT, QUARANTINE, READINGS, SUPPLIER, Contract, contract
from sources.decode import Decoded, FileProblem, decode
from sources.landing import Drop, DropRejected, InvalidDrop, ManifestFile
from sources.mapping import Mapping
from sources.parse import instant, polars_type
from sources.rates import RatesProblem
from sources.validate import FILE, RAW, ROW, UNRATED, concat_bad, duplicates, raw, row_checks, split

log = logging.getLogger(__name__)

#: Master feeds in reading order: later ones reference earlier ones.
MASTER_ORDER = ("plants", "lines", "machines", "suppliers", "supplier_locations", "parts")
MAPPING_PREFIX = "mapping:"


@dataclass
class KnownIds:
    """What the lake already knows, passed in by the caller."""

    ids: dict[str, set[str]] = field(default_factory=dict)  # master feed -> known keys
    timezones: dict[str, str] = field(default_factory=dict)  # plant_id -> IANA time zone

    def learn(self, result: DropResult) -> KnownIds:
        """What the lake knows once ``result``'s master rows have landed (for reading drops in order)."""
        ids = {feed: set(keys) for feed, keys in self.ids.items()}
        for feed, fr in result.feeds.items():
            spec = contract(feed)
            if spec.master and fr.bronze.num_rows:
                ids.setdefault(feed, set()).update(fr.bronze.column(spec.natural_key[0]).to_pylist())
        timezones = dict(self.timezones)
        if result.timezone and result.drop.ref.scope == PLANT:
            timezones[result.drop.ref.source] = result.timezone
        return KnownIds(ids, timezones)


@dataclass
class FeedResult:
    feed: str
    files: list[str]  # files read for this feed, as named in _source_file (plant=<id>/date=<D>/<file>)
    bronze: pa.Table  # conforms to contract(feed).bronze.schema
    quarantine: pa.Table  # conforms to QUARANTINE.schema: a row per bad row and rule it broke
    manifest_rows: int  # rows the manifest announced for these files
    nulled: pa.Table | None = None  # conforms to NULLED_VALUES.schema: values of landed rows made null on purpose

    @property
    def mapping_rows(self) -> int:
        """Bronze rows declared by the mapping (``master:``), not delivered in a file."""
        if not self.bronze.num_rows:
            return 0
        return pc.sum(pc.starts_with(self.bronze.column("_source_file"), MAPPING_PREFIX)).as_py() or 0

    @property
    def bronze_rows(self) -> int:
        """Bronze rows delivered in the drop's files (mapping rows excluded)."""
        return self.bronze.num_rows - self.mapping_rows

    @property
    def quarantined_rows(self) -> int:
        """Distinct rows quarantined (a row breaking several rules counts once)."""
        return distinct_rows(self.quarantine)

    def rules(self) -> dict[str, int]:
        """Quarantined rows per rule (a row breaking two rules counts for both)."""
        return dict(pl.from_arrow(self.quarantine.select(["rule"])).to_series().value_counts().iter_rows())


def distinct_rows(quarantine: pa.Table) -> int:
    """Rows of a quarantine table, counting each (file, row) once."""
    if not quarantine.num_rows:
        return 0
    return pl.from_arrow(quarantine.select(["_source_file", "_source_row"])).unique().height


@dataclass
class DropResult:
    drop: Drop
    feeds: dict[str, FeedResult]
    timezone: str | None = None  # the plant's zone (plant drops), UTC for the supplier drop

    @property
    def bronze_rows(self) -> int:
        """Rows of the drop's files that landed in bronze (a mapping's ``master:`` rows not counted)."""
        return sum(f.bronze_rows for f in self.feeds.values())

    @property
    def mapping_rows(self) -> int:
        return sum(f.mapping_rows for f in self.feeds.values())

    @property
    def quarantined_rows(self) -> int:
        return sum(f.quarantined_rows for f in self.feeds.values())

    @property
    def manifest_rows(self) -> int:
        return sum(f.manifest_rows for f in self.feeds.values())

    @property
    def reconciles(self) -> bool:
        """Nothing lost, nothing invented: manifest rows = bronze rows + quarantined rows."""
        return self.manifest_rows == self.bronze_rows + self.quarantined_rows


@dataclass
class _Context:
    drop: Drop
    mapping: Mapping
    ids: dict[str, set[str]]
    run_id: str
    ingested_at: dt.datetime
    settings: Settings | None
    timezone: str | None = None
    derived: dict[str, list[pl.DataFrame]] = field(default_factory=dict)  # master feed -> rows derived from facts

    def reject(self, reason: str) -> DropRejected:
        return DropRejected(self.drop.drop_id, reason)

    @property
    def day_zone(self) -> str:
        """Where the drop's date is a calendar day: the plant's zone, UTC for the supplier drop."""
        return self.timezone if self.drop.ref.scope == PLANT else "UTC"

    def zone_for(self, feed: str) -> str | None:
        zone = self.mapping.dialect_for(feed).timezone
        if zone != "plant":
            return zone
        if self.drop.ref.scope == SUPPLIER:
            raise self.reject(f"mapping {self.mapping.name} reads {feed} in the 'plant' time zone, "
                              "but a supplier drop has no plant")
        return self.timezone


def _mapping_for(drop: Drop) -> Mapping:
    """The manifest's ``format`` names the mapping; ``plantlake`` (or none) is the default of the drop's scope."""
    name = drop.manifest.format or mappings.DEFAULT_MAPPING
    try:
        found = mappings.default_for(drop.ref.scope) if name == mappings.DEFAULT_MAPPING else mappings.get(name)
    except (KeyError, ValueError) as exc:
        raise DropRejected(drop.drop_id, f"unknown mapping {name!r} named by the manifest: {exc}") from None
    if found.scope != drop.ref.scope:
        raise DropRejected(drop.drop_id, f"mapping {found.name} reads {found.scope} drops, this is a "
                                         f"{drop.ref.scope} drop")
    return found


def _files_by_feed(drop: Drop, mapping: Mapping) -> dict[str, list[ManifestFile]]:
    by_feed: dict[str, list[ManifestFile]] = {}
    for entry in drop.manifest.files:
        name = entry.path.rsplit("/", 1)[-1]
        feed = mapping.feed_for_file(name)
        if feed is None:
            raise DropRejected(drop.drop_id, f"{entry.path} is not a file mapping {mapping.name} lists "
                                             f"({', '.join(f'{f}: {m.file}' for f, m in mapping.feeds.items())})")
        if feed != entry.feed:
            raise DropRejected(drop.drop_id, f"{entry.path}: the manifest says feed {entry.feed!r}, "
                                             f"mapping {mapping.name} reads it as {feed!r}")
        by_feed.setdefault(feed, []).append(entry)
    return by_feed


def _feed_order(feeds: set[str]) -> list[str]:
    """Master feeds first, in reference order, then the events."""
    masters = [f for f in MASTER_ORDER if f in feeds]
    events = [f for f in CONTRACTS if f in feeds and f not in MASTER_ORDER]
    return masters + events


def _refs(ctx: _Context, spec: Contract) -> dict[str, tuple[str, set[str]]]:
    return {column: (master, ctx.ids.get(master, set())) for column, master in spec.references}


def _checked(ctx: _Context, spec: Contract, mapped: Mapped, with_day: bool = True, unknown_ok: bool = False):
    checks = row_checks(
        registry.checked(spec, mapped.sensor_fields),
        present=mapped.present,
        labels=mapped.labels,
        kinds=mapped.kinds,
        copies=mapped.copies,
        day=ctx.drop.ref.date if with_day else None,
        day_zone=ctx.day_zone or "UTC",
        refs=_refs(ctx, spec),
        unrated=mapped.unrated,
        unknown_ok=(frozenset(spec.may_be_unknown) if unknown_ok else frozenset()) | mapped.unsaid,
    )
    return split(mapped.frame, checks)


def _other_plants(ctx: _Context, spec: Contract, frame: pl.DataFrame, where: str) -> None:
    """A plant drop's ``plants`` rows must all be that plant."""
    if spec.feed != "plants" or ctx.drop.ref.scope != PLANT:
        return
    others = sorted(set(frame["plant_id"].drop_nulls().to_list()) - {ctx.drop.ref.source})
    if others:
        raise ctx.reject(f"{where} has a plants row for {', '.join(others)}, not for this drop's plant "
                         f"{ctx.drop.ref.source}")


def _file_level(mapped: Mapped, rows: np.ndarray, sources: Sources, mapping: Mapping) -> pl.DataFrame:
    """Every row of a file that cannot be mapped: unknown headers first, then missing columns."""
    if mapped.unknown:
        rule = "unknown_column"
        reason = (f"unknown_column: header(s) {', '.join(repr(h) for h in mapped.unknown)} neither mapped nor "
                  f"ignored by mapping {mapping.name}")
    else:
        rule = "missing_column"
        wanted = [f"{c} (header {sources.header_for(c)!r})" if sources.header_for(c) else c for c in mapped.missing]
        reason = f"missing_column: no source for required column(s) {', '.join(wanted)} in mapping {mapping.name}"
    return pl.DataFrame({ROW: np.asarray(rows, dtype=np.int64), "rule": rule, "reason": reason},
                        schema={ROW: pl.Int64, "rule": pl.String, "reason": pl.String})


@dataclass
class _FileRows:
    source_file: str
    decoded: Decoded
    bad: pl.DataFrame  # __row, rule, reason
    nulled: pl.DataFrame | None = None  # __row, column, value, reason


def _read_file(ctx: _Context, spec: Contract, entry: ManifestFile) -> tuple[pl.DataFrame, _FileRows]:
    drop, mapping = ctx.drop, ctx.mapping
    data = drop.read_file(entry, ctx.settings)
    dialect = mapping.dialect_for(spec.feed)
    try:
        decoded = decode(entry.path, data, dialect)
    except FileProblem as problem:
        raise ctx.reject(f"{entry.path}: {problem}") from None
    if decoded.n_rows != entry.rows:
        raise ctx.reject(f"{entry.path}: manifest row mismatch: the file has {decoded.n_rows} data rows, "
                         f"the manifest says {entry.rows}")
    source_file = f"{drop.drop_id}/{entry.path}"
    malformed = pl.DataFrame(
        {ROW: list(decoded.malformed), "rule": "malformed",
         "reason": [f"malformed: {why}" for why in decoded.malformed.values()]},
        schema={ROW: pl.Int64, "rule": pl.String, "reason": pl.String})
    sources = Sources.of(mapping, spec.feed)
    try:
        mapped = map_columns(decoded.frame, decoded.rows, spec, sources, dialect, ctx.zone_for(spec.feed),
                             on=drop.ref.date, settings=ctx.settings)
    except RatesProblem as problem:
        raise ctx.reject(f"{entry.path}: {problem}") from None
    if mapped.frame is None:
        bad = _file_level(mapped, decoded.rows, sources, mapping)
        good = pl.DataFrame()
    else:
        _other_plants(ctx, spec, mapped.frame, entry.path)
        _derive(ctx, spec, mapped.frame, source_file)
        good, bad = _checked(ctx, spec, mapped)
        good = good.drop([c for c in good.columns if c.startswith((RAW, UNRATED))])  # reasons only
    log.debug("%s: %d rows, %d good, %d bad, %d malformed", source_file, decoded.n_rows, good.height, bad.height,
              malformed.height)
    return good.with_columns(pl.lit(source_file).alias(FILE)) if good.height else good, _FileRows(
        source_file, decoded, concat_bad([malformed, bad]), mapped.nulled)


@functools.lru_cache(maxsize=256)
def _typed_mapping_rows(feed: str, rows_json: str) -> Mapped:
    """A mapping's ``master:`` rows typed by the contract (the same for every drop the mapping reads)."""
    spec = contract(feed)
    rows = json.loads(rows_json)
    keys = list(dict.fromkeys([*(k for r in rows for k in r), *spec.may_be_unknown]))  # not given: unknown
    frame = pl.DataFrame({k: pl.Series([r.get(k) for r in rows], dtype=pl.String) for k in keys})
    return map_columns(frame, np.arange(len(rows)), spec, Sources.identity(spec), YAML_DIALECT, "UTC")


def _mapping_rows(ctx: _Context, spec: Contract) -> pl.DataFrame:
    """The mapping's ``master:`` rows of a feed the drop has no file for, typed and checked (or the drop fails)."""
    rows = [{k: yaml_text(v) for k, v in r.items()} for r in ctx.mapping.master[spec.feed]]
    mapped = _typed_mapping_rows(spec.feed, json.dumps(rows, sort_keys=True))
    where = f"mapping {ctx.mapping.name} master {spec.feed}"
    if mapped.frame is None:
        raise ctx.reject(f"{where}: columns {', '.join(mapped.unknown + mapped.missing)} unknown or missing")
    _other_plants(ctx, spec, mapped.frame, where)
    good, bad = _checked(ctx, spec, mapped, with_day=False, unknown_ok=True)
    good = good.drop([c for c in good.columns if c.startswith(RAW)])
    if spec.scope != ctx.drop.ref.scope:  # reference rows (a supplier export's plants): only keys nobody knows
        good = good.filter(~pl.col(spec.natural_key[0]).is_in(sorted(ctx.ids.get(spec.feed, set()))))
    good = good.with_columns(pl.lit(MAPPING_PREFIX + ctx.mapping.name).alias(FILE))
    good, dups = duplicates(good, list(spec.natural_key))
    problems = [f"row {r + 1}: {why}" for r, why in zip(bad[ROW].to_list() + dups[ROW].to_list(),
                                                        bad["reason"].to_list() + dups["reason"].to_list(),
                                                        strict=True)]
    if problems:
        raise ctx.reject(f"{where} break the contract: {'; '.join(problems)}")
    return good


def _bronze(ctx: _Context, spec: Contract, good: pl.DataFrame) -> pa.Table:
    table = spec.bronze
    date = ctx.drop.ref.date
    if not good.height:
        return conform(table, pa.Table.from_pylist([], schema=table.schema))
    columns: list[pl.Expr] = []
    for name in table.column_names:
        if name == "date":
            columns.append(pl.lit(date, dtype=pl.Date).alias(name))
        elif name == "plant_id" and name not in spec.names:
            columns.append(pl.lit(ctx.drop.ref.source).alias(name))
        elif name == "_source_file":
            columns.append(pl.col(FILE).alias(name))
        elif name == "_source_row":
            columns.append((pl.col(ROW) + 1).alias(name))
        elif name == "_ingested_at":
            columns.append(instant(ctx.ingested_at).alias(name))
        elif name == "_run_id":
            columns.append(pl.lit(ctx.run_id).alias(name))
        elif name != READINGS.name or not spec.readings:
            columns.append(pl.col(name))
    arrow = good.select(columns).to_arrow()
    return conform(table, registry.with_readings(arrow, good) if spec.readings else arrow)


def _quarantine(ctx: _Context, feed: str, files: list[_FileRows]) -> pa.Table:
    parts = []
    for f in files:
        if not f.bad.height:
            continue
        bad = f.bad.sort(ROW)
        rows = bad[ROW].to_numpy()
        parts.append(bad.with_columns(
            pl.lit(f.source_file).alias("_source_file"),
            pl.Series("raw_line", f.decoded.raw(rows), dtype=pl.String),
        ))
    if not parts:
        return conform(QUARANTINE, pa.Table.from_pylist([], schema=QUARANTINE.schema))
    frame = pl.concat(parts).select(
        pl.lit(ctx.drop.ref.date, dtype=pl.Date).alias("date"),
        pl.lit(ctx.drop.ref.source).alias("plant_id"),
        pl.lit(feed).alias("feed"),
        pl.lit(ctx.drop.drop_id).alias("drop_id"),
        "_source_file",
        (pl.col(ROW) + 1).alias("_source_row"),
        "rule",
        "reason",
        "raw_line",
        instant(ctx.ingested_at).alias("_ingested_at"),
        pl.lit(ctx.run_id).alias("_run_id"),
    )
    return conform(QUARANTINE, frame.to_arrow())


def _read_feed(ctx: _Context, feed: str, entries: list[ManifestFile]) -> FeedResult:
    spec = contract(feed)
    goods: list[pl.DataFrame] = []
    files: list[_FileRows] = []
    for entry in entries:
        good, rows = _read_file(ctx, spec, entry)
        files.append(rows)
        if good.height:
            goods.append(good)
    if not entries and feed in ctx.mapping.master:
        goods.append(_mapping_rows(ctx, spec))
    # a sensor feed's files may report different sensors: their value columns are aligned by name
    how = "diagonal_relaxed" if spec.readings else "vertical_relaxed"
    good = pl.concat(goods, how=how) if goods else pl.DataFrame()
    if good.height:
        good, dups = duplicates(good, list(spec.natural_key))
        for f in files:
            mine = dups.filter(pl.col(FILE) == f.source_file).drop(FILE)
            if mine.height:
                f.bad = concat_bad([f.bad, mine])
    if spec.master and good.height:
        ctx.ids.setdefault(feed, set()).update(good[spec.natural_key[0]].to_list())
    return FeedResult(
        feed=feed,
        files=[f.source_file for f in files],
        bronze=_bronze(ctx, spec, good),
        quarantine=_quarantine(ctx, feed, files),
        manifest_rows=sum(e.rows for e in entries),
        nulled=_nulled(ctx, feed, files, good),
    )


def _nulled(ctx: _Context, feed: str, files: list[_FileRows], good: pl.DataFrame) -> pa.Table:
    """The values made null on purpose in the rows that landed, with their reasons (bronze.nulled_values)."""
    parts = [f.nulled.with_columns(pl.lit(f.source_file).alias(FILE)) for f in files
             if f.nulled is not None and f.nulled.height]
    if parts and good.height:
        landed = good.select(FILE, ROW)
        frame = pl.concat(parts).join(landed, on=[FILE, ROW], how="semi").select(
            pl.lit(ctx.drop.ref.date, dtype=pl.Date).alias("date"),
            pl.lit(ctx.drop.ref.source).alias("plant_id"),
            pl.lit(feed).alias("feed"),
            pl.lit(ctx.drop.drop_id).alias("drop_id"),
            pl.col(FILE).alias("_source_file"),
            (pl.col(ROW) + 1).alias("_source_row"),
            "column", "value", "reason",
            instant(ctx.ingested_at).alias("_ingested_at"),
            pl.lit(ctx.run_id).alias("_run_id"),
        )
        if frame.height:
            return conform(NULLED_VALUES, frame.to_arrow())
    return NULLED_VALUES.schema.empty_table()


def _derive(ctx: _Context, facts: Contract, frame: pl.DataFrame, source_file: str) -> None:
    """Master rows the mapping derives from these fact rows (``derive:``), for keys nobody knows yet.

    A key takes the attributes of its latest fact row (by event time); the rows join the drop's
    master rows of their feed (reference order: suppliers before their locations) and their keys
    become known, so the fact rows naming them pass ``reference``."""
    for feed in [f for f in MASTER_ORDER if f in ctx.mapping.derive]:
        how = ctx.mapping.derive[feed]
        if how.from_feed != facts.feed:
            continue
        spec = contract(feed)
        key = spec.natural_key[0]
        order = [facts.event_time] if facts.event_time else []
        rows = (frame.sort([*order, ROW], nulls_last=False) if order else frame).select(
            *[pl.col(origin).alias(target) for target, origin in how.columns.items()],
            *[pl.lit(value).cast(polars_type(spec.field(target).type)).alias(target)
              for target, value in how.constants.items()], ROW)
        rows = rows.filter(pl.col(key).is_not_null() & ~pl.col(key).is_in(sorted(ctx.ids.get(feed, set()))))
        rows = rows.unique(subset=[key], keep="last", maintain_order=True)
        if not rows.height:
            continue
        mapped = _derived_rows(spec, rows)
        good, bad = _checked(ctx, spec, mapped, with_day=False, unknown_ok=True)
        for reason in bad["reason"].to_list()[:5]:
            log.warning("%s: a %s row derived from %s breaks its contract: %s", ctx.drop.drop_id, feed,
                        source_file, reason)
        if good.height:
            good = good.drop([c for c in good.columns if c.startswith(RAW)])
            ctx.derived.setdefault(feed, []).append(
                good.with_columns(pl.lit(f"{MAPPING_PREFIX}{ctx.mapping.name} (derived from {source_file})")
                                  .alias(FILE)))
            ctx.ids.setdefault(feed, set()).update(good[key].to_list())


def _derived_rows(spec: Contract, rows: pl.DataFrame) -> Mapped:
    """Derived master rows as a mapped frame: the derived columns, every other contract column null."""
    columns, present = [], set()
    for f in spec.fields:
        if f.name in rows.columns:
            columns.append(rows[f.name].alias(f.name))
            present.add(f.name)
        else:
            columns.append(pl.Series(f.name, [None] * rows.height, dtype=polars_type(f.type)))
    columns += [pl.Series(raw(f.name), rows[f.name].cast(pl.String) if f.name in rows.columns
                          else [None] * rows.height, dtype=pl.String) for f in spec.fields]
    columns.append(rows[ROW])
    labels = {f.name: f"{f.name} (derived)" for f in spec.fields}
    kinds = {f.name: str(f.type) for f in spec.fields}
    return Mapped(pl.DataFrame(columns), [], [], present=present, labels=labels, kinds=kinds)


def _derived_results(ctx: _Context, results: dict[str, FeedResult]) -> None:
    """The derived master rows joined to their feeds' bronze rows (as rows of the mapping, not of a file)."""
    for feed, frames in ctx.derived.items():
        spec = contract(feed)
        table = _bronze(ctx, spec, pl.concat(frames, how="vertical_relaxed"))
        if feed in results:
            before = results[feed]
            results[feed] = FeedResult(feed, before.files, pa.concat_tables([before.bronze, table]),
                                       before.quarantine, before.manifest_rows, before.nulled)
        else:
            results[feed] = FeedResult(feed, [], table, QUARANTINE.schema.empty_table(), 0, None)


def _plant_zone(ctx: _Context, plants: FeedResult | None, known: KnownIds) -> str:
    """The plant's time zone: its plants file, else the mapping's master.plants, else what the lake knows."""
    plant = ctx.drop.ref.source
    if plants is not None:
        rows = [r for r in plants.bronze.select(["plant_id", "timezone"]).to_pylist() if r["plant_id"] == plant]
        if rows:
            return rows[0]["timezone"]
    for row in ctx.mapping.master.get("plants", []):
        if str(row.get("plant_id")) == plant and row.get("timezone"):
            return str(row["timezone"])
    if known.timezones.get(plant):  # a plant a supplier export declared has no known zone
        return known.timezones[plant]
    raise ctx.reject(f"unknown plant {plant}: the drop has no plants row for it, mapping {ctx.mapping.name} "
                     "declares none, and the lake does not know it")


def read_drop(
    drop: Drop,
    known: KnownIds,
    *,
    run_id: str,
    ingested_at: dt.datetime,
    settings: Settings | None = None,
) -> DropResult:
    """Read a complete drop into bronze and quarantine rows per feed; raises DropRejected for drop-level problems."""
    if isinstance(drop, InvalidDrop):
        raise DropRejected(drop.drop_id, drop.problem or "invalid manifest")
    if ingested_at.tzinfo is None:
        raise ValueError("ingested_at must be timezone-aware")
    mapping = _mapping_for(drop)
    by_feed = _files_by_feed(drop, mapping)
    ctx = _Context(drop, mapping, {k: set(v) for k, v in known.ids.items()}, run_id, ingested_at, settings)
    feeds = set(by_feed) | {f for f in mapping.master if f not in by_feed}
    order = _feed_order(feeds)
    results: dict[str, FeedResult] = {}
    if drop.ref.scope == SUPPLIER:
        ctx.timezone = "UTC"
    elif "plants" not in order:
        ctx.timezone = _plant_zone(ctx, None, known)
    for feed in order:
        results[feed] = _read_feed(ctx, feed, by_feed.get(feed, []))
        if feed == "plants" and drop.ref.scope == PLANT:
            ctx.timezone = _plant_zone(ctx, results[feed], known)
    _derived_results(ctx, results)
    result = DropResult(drop, results, ctx.timezone)
    log.info("%s (%s): %d manifest rows -> %d bronze + %d quarantined%s", drop.drop_id, mapping.name,
             result.manifest_rows, result.bronze_rows, result.quarantined_rows,
             f" (+{result.mapping_rows} from the mapping)" if result.mapping_rows else "")
    return result
