"""Landing: complete drops of the landing zone into bronze, with quarantine and bookkeeping.

Each drop is read once (``sources.reader.read_drop``: pyarrow/Polars, no Spark) into its
feeds' bronze rows and quarantined rows. Rows are buffered per table and written as
slice replacements (``date`` and the drop's plant, or the whole date for the supplier
drop), a few drops per commit, so memory stays bounded and a night of 122 plants is a
handful of commits. Outcomes go to ``ops.landed_drops`` only after every write has
committed: a run killed midway leaves its drops pending, and the rerun replaces the
same slices.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.catalog import TableSpec
from lakehouse.delta import Lake
from sources.contracts import CONTRACTS, NULLED_VALUES, PLANT, QUARANTINE, contract
from sources.landing import Drop, DropRejected, InvalidDrop, Outcome, list_complete, pending, plants_sending, record_all
from sources.reader import DropResult, KnownIds, read_drop
from sources.silver import DIMENSION_TABLES

log = logging.getLogger(__name__)



@dataclass
class Landed:
    drop: Drop
    bronze_rows: int
    quarantined_rows: int  # distinct rows (a row breaking several rules counts once)
    rules: dict[str, int] = field(default_factory=dict)  # rule -> quarantined rows that broke it

    @property
    def quarantined_share(self) -> float:
        """Share of the drop's delivered rows that were quarantined (0 for a drop without rows)."""
        rows = self.drop.manifest.rows
        return self.quarantined_rows / rows if rows else 0.0

    def too_bad(self, max_share: float) -> bool:
        """Quarantined more than ``max_share`` of its rows, or every one of them (it landed nothing)."""
        return self.quarantined_rows > 0 and (self.quarantined_share > max_share or self.bronze_rows == 0)

    def summary(self) -> str:
        """One line: how much was quarantined and the rule that took most rows."""
        rule, rows = max(self.rules.items(), key=lambda kv: (kv[1], kv[0])) if self.rules else ("-", 0)
        return (f"{self.drop.drop_id}: {self.quarantined_rows:,} of {self.drop.manifest.rows:,} rows quarantined, "
                f"most by rule {rule} ({rows:,} rows)")


@dataclass
class LandingReport:
    landed: list[Landed] = field(default_factory=list)
    rejected: list[tuple[Drop, str]] = field(default_factory=list)
    rows: Counter = field(default_factory=Counter)  # table name -> rows written
    versions: dict[str, int] = field(default_factory=dict)


def known_ids(lake: Lake) -> KnownIds:
    """What the lake already knows: master keys from the silver dimensions, plant time zones."""
    ids: dict[str, set[str]] = {}
    timezones: dict[str, str] = {}
    for feed, spec in DIMENSION_TABLES.items():
        key = contract(feed).natural_key[0]
        columns = [key, "timezone"] if feed == "plants" else [key]
        table = lake.read(spec, columns=columns, missing_ok=True)
        ids[feed] = set(table.column(key).to_pylist())
        if feed == "plants":
            timezones = dict(
                zip(table.column("plant_id").to_pylist(), table.column("timezone").to_pylist(), strict=True)
            )
    return KnownIds(ids=ids, timezones=timezones)


class _Buffer:
    """Rows of one table waiting for a commit, with the slices they replace.

    A full buffer is written by the ``writer`` threads while the drops after it are read;
    a table has one write under way at a time (its commits never race each other).
    """

    def __init__(self, lake: Lake, spec: TableSpec, report: LandingReport, run_id: str, writer: Executor,
                 max_rows: int):
        self.lake, self.spec, self.report, self.run_id, self.writer = lake, spec, report, run_id, writer
        self.max_rows = max_rows
        self.tables: list[pa.Table] = []
        self.slices: dict[dt.date, set[str] | None] = {}
        self.rows = 0
        self.writing: Future | None = None

    def add(self, table: pa.Table, date: dt.date, plant: str | None) -> None:
        """Queue ``table`` as the new content of slice (date, plant); plant None = the whole date."""
        if table.num_rows:
            self.tables.append(table)
            self.rows += table.num_rows
        if plant is None:
            self.slices[date] = None
        else:
            self.slices.setdefault(date, set()).add(plant)
        if self.rows >= self.max_rows:
            self.flush()

    def flush(self) -> None:
        """Start writing what is buffered, once this table's previous write has committed."""
        if not self.slices:
            return
        data = pa.concat_tables(self.tables) if self.tables else self.spec.schema.empty_table()
        slices = {d: (sorted(p) if p is not None else None) for d, p in self.slices.items()}
        self.wait()
        self.writing = self.writer.submit(self._write, data, slices)
        self.tables, self.slices, self.rows = [], {}, 0

    def wait(self) -> None:
        """Until the write under way has committed (its error, if any, is raised here)."""
        if self.writing is not None:
            writing, self.writing = self.writing, None
            writing.result()

    def _write(self, data: pa.Table, slices: dict[dt.date, list[str] | None]) -> None:
        version = self.lake.replace_slices(self.spec, data, slices, run_id=self.run_id)
        self.report.versions[self.spec.name] = version
        self.report.rows[self.spec.name] += data.num_rows


def drops_to_land(
    lake: Lake, landing_uri: str, dates: Iterable[dt.date], sources: set[str] | None, reland: bool = False
) -> list[Drop]:
    """Pending drops of ``dates`` (all complete ones with ``reland``), plants before the supplier drop."""
    if reland:
        drops = [
            d for d in list_complete(landing_uri, dates, lake.settings) if sources is None or d.ref.source in sources
        ]
    else:
        drops = pending(landing_uri, lake, dates, sources)
    return sorted(drops, key=lambda d: (d.ref.scope != PLANT, d.ref.date, d.ref.source))


def read_in_order(
    drops: list[Drop], known: KnownIds, read: Callable[[Drop, KnownIds], DropResult], *, threads: int
) -> Iterator[tuple[Drop, DropResult | DropRejected]]:
    """Each drop's result (or rejection) in the order of ``drops``, read ``threads`` at a time.

    Drops of one wave (same scope and date: one per plant) do not depend on each other, so
    they are read concurrently, each seeing what the lake and the earlier waves know; a
    wave starts once the one before it is read and learned (a backfill's day 2 may name
    a machine first delivered on day 1). At most ``threads + 1`` results are held at once.
    """

    def settle(queue: deque[tuple[Drop, Future]]) -> tuple[Drop, DropResult | DropRejected]:
        nonlocal known
        drop, future = queue.popleft()
        try:
            result = future.result()
        except DropRejected as exc:
            return drop, exc
        known = known.learn(result)
        return drop, result

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="landing") as pool:
        for _, wave in itertools.groupby(drops, key=lambda d: (d.ref.scope, d.ref.date)):
            base, queue = known, deque()
            for drop in wave:
                queue.append((drop, pool.submit(read, drop, base)))
                if len(queue) > threads:
                    yield settle(queue)
            while queue:
                yield settle(queue)


def land(
    lake: Lake,
    landing_uri: str,
    dates: Iterable[dt.date],
    sources: set[str] | None,
    *,
    run_id: str,
    reland: bool = False,
    buffer_rows: int = 2_000_000,
    threads: int = 2,
) -> LandingReport:
    """Land the drops of ``dates`` (of ``sources``: plant ids and/or 'suppliers'; None = all).

    ``buffer_rows`` rows are buffered per table before a commit (bounding memory on a full-network
    night); ``threads`` drops are read at once (Polars releases the GIL, so cores read in parallel).
    """
    report = LandingReport()
    drops = drops_to_land(lake, landing_uri, dates, sources, reland)
    known = known_ids(lake)
    known.ids.setdefault("plants", set()).update(plants_sending(landing_uri, lake.settings))
    ingested_at = dt.datetime.now(dt.UTC)

    def read(drop: Drop, known: KnownIds) -> DropResult:
        if isinstance(drop, InvalidDrop):
            raise DropRejected(drop.drop_id, drop.problem)
        return read_drop(drop, known, run_id=run_id, ingested_at=ingested_at, settings=lake.settings)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="landing-write") as writer:
        buffers = {
            spec.name: _Buffer(lake, spec, report, run_id, writer, buffer_rows)
            for spec in [*(c.bronze for c in CONTRACTS.values()), QUARANTINE, NULLED_VALUES]
        }
        for drop, result in read_in_order(drops, known, read, threads=threads):
            if isinstance(result, DropRejected):
                log.error("drop rejected: %s", result)
                report.rejected.append((drop, result.reason))
                continue
            plant = drop.ref.source
            for feed, feed_result in result.feeds.items():
                buffer = buffers[contract(feed).bronze_name]
                if CONTRACTS[feed].scope != PLANT:
                    buffer.add(feed_result.bronze, drop.ref.date, None)
                elif drop.ref.scope == PLANT:
                    buffer.add(feed_result.bronze, drop.ref.date, plant)
                else:  # ship-to plants a supplier mapping declares: the slices of those plants only
                    for ship_to in sorted(set(feed_result.bronze.column("plant_id").to_pylist())):
                        rows = feed_result.bronze.filter(pc.equal(feed_result.bronze.column("plant_id"), ship_to))
                        buffer.add(rows, drop.ref.date, ship_to)
            for spec, tables in ((QUARANTINE, [r.quarantine for r in result.feeds.values()]),
                                 (NULLED_VALUES, [r.nulled for r in result.feeds.values() if r.nulled is not None])):
                buffers[spec.name].add(pa.concat_tables(tables) if tables else spec.schema.empty_table(),
                                       drop.ref.date, plant)
            rules = Counter()
            for r in result.feeds.values():
                rules.update(r.rules())
            report.landed.append(Landed(drop, result.bronze_rows, result.quarantined_rows, dict(rules)))
        for buffer in buffers.values():
            buffer.flush()
        for buffer in buffers.values():
            buffer.wait()
    outcomes = [Outcome(e.drop, "landed", None, e.bronze_rows, e.quarantined_rows) for e in report.landed]
    outcomes += [Outcome(drop, "rejected", reason) for drop, reason in report.rejected]
    record_all(lake, outcomes, run_id)
    return report


def _rows_per_file(lake: Lake, spec: TableSpec, dates: list[dt.date], distinct: bool = False) -> Counter:
    """Rows per ``_source_file`` in the given dates, scanned batch by batch (bounded memory).

    ``distinct`` counts each ``_source_row`` of a file once (the quarantine has a row per rule broken)."""
    counts: Counter = Counter()
    dataset = lake.dataset(spec, filters=[("date", "in", dates)], missing_ok=True)
    if dataset is None:
        return counts
    columns = ["_source_file", "_source_row"] if distinct else ["_source_file"]
    scanner = dataset.scanner(columns=columns, filter=pq.filters_to_expression([("date", "in", dates)]))
    if distinct:
        seen = pa.concat_tables([pa.Table.from_batches([b]) for b in scanner.to_batches() if b.num_rows]
                                or [pa.table({c: pa.array([], pa.string() if c == "_source_file" else pa.int64())
                                              for c in columns})])
        unique = seen.group_by(columns).aggregate([])
        values = pc.value_counts(unique.column("_source_file"))
        return Counter({item["values"]: item["counts"] for item in values.to_pylist()})
    for batch in scanner.to_batches():
        if batch.num_rows:
            values = pc.value_counts(batch.column(0))
            for item in values.to_pylist():
                counts[item["values"]] += item["counts"]
    return counts


def reconcile(lake: Lake, landed: list[Drop]) -> list[dict]:
    """For each landed drop, read back what the lake holds: manifest rows = bronze + quarantined rows?"""
    if not landed:
        return []
    dates = sorted({d.ref.date for d in landed})
    bronze: Counter = Counter()
    for c in CONTRACTS.values():
        bronze.update(_rows_per_file(lake, c.bronze, dates))
    quarantined = _rows_per_file(lake, QUARANTINE, dates, distinct=True)
    rows = []
    for drop in landed:
        files = [f"{drop.drop_id}/{f.path}" for f in drop.manifest.files]
        in_bronze = sum(bronze[f] for f in files)
        in_quarantine = sum(quarantined[f] for f in files)
        rows.append(
            {
                "drop": drop.drop_id,
                "manifest_rows": drop.manifest.rows,
                "bronze_rows": in_bronze,
                "quarantined_rows": in_quarantine,
                "reconciles": drop.manifest.rows == in_bronze + in_quarantine,
            }
        )
    return rows
