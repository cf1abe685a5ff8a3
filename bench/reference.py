"""The single-node reference: ``gold.machine_daily`` in DuckDB SQL, and Spark doing the same work.

Benchmark-only: the product computes machine_daily with Spark (``transforms.machine_daily``);
this SQL exists to measure how far that is from the fastest single-node engine, over the
same silver snapshot (Arrow datasets of the tables' current Delta snapshots, partition-pruned
by date like Spark's reads, never the table folders). Its rows must equal the pipeline's
``gold.machine_daily`` within float tolerance before its time counts.

Both sides do the same work: read the snapshot, compute the night's rows, hand them over as
Arrow (DuckDB: ``to_arrow_table``; Spark: ``toArrow``), nothing written.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import time
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from lakehouse import gold_tables as gold
from lakehouse.delta import Lake
from sources.silver import DIMENSION_TABLES, EVENT_TABLES

SENSORS = [name for name, _ in gold.SENSORS]
DAY = dt.timedelta(days=1)
#: Relative and absolute tolerance of float comparisons (sums in another order differ in the last bits).
REL_TOL, ABS_TOL = 1e-9, 1e-9


def duckdb_connection(threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that downloads nothing (extension autoinstall and autoload off)."""
    config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
              "threads": threads or os.cpu_count() or 2}
    if memory_limit:
        config["memory_limit"] = memory_limit
    return duckdb.connect(config=config)


def _dataset(lake: Lake, spec, start: dt.date | None = None, end: dt.date | None = None):
    filters = [("date", ">=", start), ("date", "<=", end)] if start is not None else None
    dataset = lake.dataset(spec, filters=filters, missing_ok=True)
    if dataset is None:
        return spec.schema.empty_table()
    return dataset


def register_snapshot(con: duckdb.DuckDBPyConnection, lake: Lake, start: dt.date, end: dt.date) -> None:
    """The inputs of machine_daily for ``start``..``end``, as Spark's asset reads them (same date windows)."""
    window = max(gold.DRIFT_WINDOWS)
    year_start = start - 365 * DAY
    inputs = {
        "telemetry": _dataset(lake, EVENT_TABLES["telemetry"], start, end),
        "downtime": _dataset(lake, EVENT_TABLES["downtime_events"], start, end),
        "failures_day": _dataset(lake, EVENT_TABLES["failures"], start, end),
        "maintenance_day": _dataset(lake, EVENT_TABLES["maintenance"], start, end),
        "maintenance_year": _dataset(lake, EVENT_TABLES["maintenance"], year_start, end),
        "failures_year": _dataset(lake, EVENT_TABLES["failures"], year_start, end),
        "history": _dataset(lake, gold.MACHINE_DAILY, start - window * DAY, start - DAY),
        "dim_machine": _dataset(lake, DIMENSION_TABLES["machines"]),
        "dim_line": _dataset(lake, DIMENSION_TABLES["lines"]),
    }
    for name, data in inputs.items():
        con.register(name, data)


def machine_daily_sql(start: dt.date, end: dt.date) -> str:
    """gold.machine_daily for ``start``..``end`` in DuckDB SQL (docs/kpis.md, Machine health)."""
    window = max(gold.DRIFT_WINDOWS)
    stats = ",\n".join(
        f"avg({s}::DOUBLE) AS {s}_mean, stddev_samp({s}::DOUBLE) AS {s}_std, max({s}::DOUBLE) AS {s}_max"
        for s in SENSORS
    )
    measures = ", ".join(f"{s}_{m}" for s in SENSORS for m in ("mean", "std"))
    drifts = ",\n".join(
        f"CASE WHEN count({s}_mean) OVER w{n} >= 3 AND avg({s}_std) OVER w{n} <> 0 "
        f"THEN ({s}_mean - avg({s}_mean) OVER w{n}) / avg({s}_std) OVER w{n} END AS {s}_drift_{n}d"
        for s in SENSORS for n in gold.DRIFT_WINDOWS
    )
    windows = ", ".join(
        f"w{n} AS (PARTITION BY machine_id ORDER BY day RANGE BETWEEN {n} PRECEDING AND 1 PRECEDING)"
        for n in gold.DRIFT_WINDOWS
    )
    stat_columns = ", ".join(
        f"s.{s}_{m}" if m != "drift" else f"d.{s}_drift_{n}d"
        for s in SENSORS for m, n in [("mean", 0), ("std", 0), ("max", 0), *[("drift", w) for w in gold.DRIFT_WINDOWS]]
    )
    return f"""
WITH stats AS (
    SELECT date, plant_id, machine_id, count(*) AS readings, sum(interval_s) / 60.0 AS covered_minutes,
    {stats}
    FROM telemetry WHERE date BETWEEN DATE '{start}' AND DATE '{end}'
    GROUP BY date, plant_id, machine_id
),
earlier AS (
    SELECT h.date, h.machine_id, {", ".join("h." + m for m in measures.split(", "))}
    FROM history h ANTI JOIN stats s ON s.date = h.date AND s.machine_id = h.machine_id
    WHERE h.date BETWEEN DATE '{start - window * DAY}' AND DATE '{start - DAY}'
),
baseline AS (
    SELECT date, machine_id, {measures}, true AS current FROM stats
    UNION ALL
    SELECT date, machine_id, {measures}, false AS current FROM earlier
),
drift AS (
    SELECT date, machine_id, current, {drifts}
    FROM (SELECT *, date_diff('day', DATE '1970-01-01', date) AS day FROM baseline)
    WINDOW {windows}
),
events AS (
    SELECT date, plant_id, machine_id,
        count(*) FILTER (WHERE category = 'alarm') AS alarm_count,
        count(*) FILTER (WHERE category <> 'alarm') AS downtime_events,
        sum((epoch_us(end_ts) - epoch_us(start_ts)) / 60e6) FILTER (WHERE category <> 'alarm') AS downtime_minutes
    FROM downtime WHERE date BETWEEN DATE '{start}' AND DATE '{end}'
    GROUP BY date, plant_id, machine_id
),
fails AS (
    SELECT date, plant_id, machine_id, count(*) AS failure_count
    FROM failures_day WHERE date BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY ALL
),
maint AS (
    SELECT date, plant_id, machine_id, count(*) AS maintenance_count
    FROM maintenance_day WHERE date BETWEEN DATE '{start}' AND DATE '{end}' GROUP BY ALL
),
last_maintenance AS (
    SELECT d.date, d.machine_id, m.component, date_diff('day', max(m.date), d.date) AS days_since
    FROM stats d JOIN maintenance_year m ON m.machine_id = d.machine_id
    WHERE date_diff('day', m.date, d.date) BETWEEN 0 AND 364
      AND m.date BETWEEN DATE '{start - 365 * DAY}' AND DATE '{end}'
    GROUP BY d.date, d.machine_id, m.component
),
last_failure AS (
    SELECT d.date, d.machine_id, f.component, date_diff('day', max(f.date), d.date) AS days_since
    FROM stats d JOIN failures_year f ON f.machine_id = d.machine_id
    WHERE date_diff('day', f.date, d.date) BETWEEN 0 AND 364
      AND f.date BETWEEN DATE '{start - 365 * DAY}' AND DATE '{end}'
    GROUP BY d.date, d.machine_id, f.component
),
recency AS (
    SELECT date, machine_id,
        min(m_days) AS days_since_maintenance,
        max(m_days) AS max_component_days_since_maintenance,
        min(f_days) AS days_since_failure
    FROM (
        SELECT coalesce(m.date, f.date) AS date, coalesce(m.machine_id, f.machine_id) AS machine_id,
               m.days_since AS m_days, f.days_since AS f_days
        FROM last_maintenance m FULL JOIN last_failure f
          ON m.date = f.date AND m.machine_id = f.machine_id AND m.component = f.component
    )
    GROUP BY date, machine_id
)
SELECT s.date, s.plant_id, dm.line_id, s.machine_id, dm.machine_type, dm.criticality,
    date_diff('day', dm.install_date, s.date) / 365.25 AS age_years,
    dm.downtime_cost_eur_h,
    s.readings, s.covered_minutes,
    {stat_columns},
    CASE WHEN dl.ideal_cycle_time_s <> 0 THEN s.cycle_time_s_mean / dl.ideal_cycle_time_s END - 1
        AS cycle_time_slowdown,
    coalesce(e.alarm_count, 0) AS alarm_count,
    coalesce(e.downtime_events, 0) AS downtime_events,
    coalesce(e.downtime_minutes, 0.0) AS downtime_minutes,
    coalesce(f.failure_count, 0) AS failure_count,
    coalesce(m.maintenance_count, 0) AS maintenance_count,
    r.days_since_maintenance, r.max_component_days_since_maintenance, r.days_since_failure
FROM stats s
JOIN drift d ON d.current AND d.date = s.date AND d.machine_id = s.machine_id
LEFT JOIN events e ON e.date = s.date AND e.plant_id = s.plant_id AND e.machine_id = s.machine_id
LEFT JOIN fails f ON f.date = s.date AND f.plant_id = s.plant_id AND f.machine_id = s.machine_id
LEFT JOIN maint m ON m.date = s.date AND m.plant_id = s.plant_id AND m.machine_id = s.machine_id
LEFT JOIN recency r ON r.date = s.date AND r.machine_id = s.machine_id
LEFT JOIN dim_machine dm ON dm.machine_id = s.machine_id
LEFT JOIN dim_line dl ON dl.line_id = dm.line_id
"""


def duckdb_machine_daily(lake: Lake, start: dt.date, end: dt.date, threads: int | None = None,
                         memory_limit: str | None = None) -> tuple[pa.Table, float]:
    """The reference's rows and its seconds (snapshot registration, query, Arrow result)."""
    started = time.perf_counter()
    con = duckdb_connection(threads, memory_limit)
    register_snapshot(con, lake, start, end)
    table = con.sql(machine_daily_sql(start, end)).to_arrow_table()
    seconds = time.perf_counter() - started
    con.close()
    return table.cast(gold.MACHINE_DAILY.schema, safe=False), seconds


def spark_machine_daily(spark, lake: Lake, start: dt.date, end: dt.date) -> tuple[pa.Table, float]:
    """What the gold_machine_daily asset computes for machine_daily, collected as Arrow, with its seconds.

    The asset's own reads and transform (``spark_io.derive``, all plants), without the writes and
    the Dagster metadata.
    """
    from orchestration.spark_io import derive

    started = time.perf_counter()
    nights = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    daily = derive(spark, lake, gold.MACHINE_DAILY, nights, None)
    table = daily.select(*gold.MACHINE_DAILY.column_names).toArrow()
    return table, time.perf_counter() - started


@dataclass
class Comparison:
    rows: int
    other_rows: int
    mismatches: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.rows == self.other_rows and not self.mismatches


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return a == b


def compare(result: pa.Table, expected: pa.Table, key=("date", "machine_id"), limit: int = 10) -> Comparison:
    """Row by row on ``key``, every column of ``expected``: equal values, floats within tolerance, nulls alike."""
    columns = expected.column_names
    ours = {tuple(r[k] for k in key): r for r in result.select(columns).to_pylist()}
    theirs = {tuple(r[k] for k in key): r for r in expected.to_pylist()}
    out = Comparison(len(ours), len(theirs))
    for k in sorted(set(ours) ^ set(theirs), key=repr)[:limit]:
        out.mismatches.append(f"row {k} only in {'the reference' if k in ours else 'Spark'}")
    for k in sorted(set(ours) & set(theirs), key=repr):
        for c in columns:
            if not _close(ours[k][c], theirs[k][c]):
                out.mismatches.append(f"{k} {c}: reference {ours[k][c]!r}, Spark {theirs[k][c]!r}")
                if len(out.mismatches) >= limit:
                    return out
    return out
