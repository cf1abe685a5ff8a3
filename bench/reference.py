"""The single-node reference: the machine-health tables in DuckDB SQL, and Spark doing the same work.

Benchmark-only: the product computes ``gold.machine_sensor_daily`` and ``gold.machine_daily``
with Spark (``transforms.machine_daily``); this SQL exists to measure how far that is from the
fastest single-node engine, over the same silver snapshot (Arrow datasets of the tables' current
Delta snapshots, partition-pruned by date like Spark's reads, never the table folders). Its rows
must equal the pipeline's tables within float tolerance before its time counts.

Both sides do the same work: read the snapshot, compute the night's rows of both tables (the
sensors' statistics from the readings map, then the machine rows with the cycle-time sensor's
mean), hand them over as Arrow (DuckDB: ``to_arrow_table``; Spark: ``toArrow``), nothing written.
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

DAY = dt.timedelta(days=1)
#: Relative and absolute tolerance of float comparisons (sums in another order differ in the last bits).
REL_TOL, ABS_TOL = 1e-9, 1e-9
#: The tables the reference computes, in order (the second reads the first), with their natural keys.
TABLES = {gold.MACHINE_SENSOR_DAILY.name: gold.MACHINE_SENSOR_DAILY, gold.MACHINE_DAILY.name: gold.MACHINE_DAILY}


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
    """The inputs of the machine-health tables for ``start``..``end``, as Spark's assets read them (same windows)."""
    window = max(gold.DRIFT_WINDOWS)
    year_start = start - 365 * DAY
    inputs = {
        "telemetry": _dataset(lake, EVENT_TABLES["telemetry"], start, end),
        "downtime": _dataset(lake, EVENT_TABLES["downtime_events"], start, end),
        "failures_day": _dataset(lake, EVENT_TABLES["failures"], start, end),
        "maintenance_day": _dataset(lake, EVENT_TABLES["maintenance"], start, end),
        "maintenance_year": _dataset(lake, EVENT_TABLES["maintenance"], year_start, end),
        "failures_year": _dataset(lake, EVENT_TABLES["failures"], year_start, end),
        "history": _dataset(lake, gold.MACHINE_SENSOR_DAILY, start - window * DAY, start - DAY),
        "dim_machine": _dataset(lake, DIMENSION_TABLES["machines"]),
        "dim_sensor": _dataset(lake, DIMENSION_TABLES["sensors"]),
        "dim_line": _dataset(lake, DIMENSION_TABLES["lines"]),
    }
    for name, data in inputs.items():
        con.register(name, data)


def machine_sensor_daily_sql(start: dt.date, end: dt.date) -> str:
    """gold.machine_sensor_daily for ``start``..``end`` in DuckDB SQL (docs/kpis.md, Machine health)."""
    window = max(gold.DRIFT_WINDOWS)
    drifts = ",\n".join(
        f"CASE WHEN count(mean) OVER w{n} >= 3 AND avg(std) OVER w{n} <> 0 "
        f"THEN (mean - avg(mean) OVER w{n}) / avg(std) OVER w{n} END AS drift_{n}d"
        for n in gold.DRIFT_WINDOWS
    )
    windows = ", ".join(
        f"w{n} AS (PARTITION BY machine_id, sensor ORDER BY day RANGE BETWEEN {n} PRECEDING AND 1 PRECEDING)"
        for n in gold.DRIFT_WINDOWS
    )
    drift_columns = ", ".join(f"d.drift_{n}d" for n in gold.DRIFT_WINDOWS)
    return f"""
WITH vals AS (
    SELECT date, plant_id, machine_id, unnest(map_keys(readings)) AS sensor, unnest(map_values(readings)) AS value
    FROM telemetry WHERE date BETWEEN DATE '{start}' AND DATE '{end}'
),
stats AS (
    SELECT date, plant_id, machine_id, sensor, count(value) AS readings, avg(value) AS mean,
        stddev_samp(value) AS std, max(value) AS max
    FROM vals GROUP BY date, plant_id, machine_id, sensor
),
earlier AS (
    SELECT h.date, h.machine_id, h.sensor, h.mean, h.std
    FROM history h ANTI JOIN stats s ON s.date = h.date AND s.machine_id = h.machine_id AND s.sensor = h.sensor
    WHERE h.date BETWEEN DATE '{start - window * DAY}' AND DATE '{start - DAY}'
),
baseline AS (
    SELECT date, machine_id, sensor, mean, std, true AS current FROM stats
    UNION ALL
    SELECT date, machine_id, sensor, mean, std, false AS current FROM earlier
),
drift AS (
    SELECT date, machine_id, sensor, current, {drifts}
    FROM (SELECT *, date_diff('day', DATE '1970-01-01', date) AS day FROM baseline)
    WINDOW {windows}
)
SELECT s.date, s.plant_id, s.machine_id, s.sensor, coalesce(own.unit, anytype.unit) AS unit,
    s.readings, s.mean, s.std, s.max, {drift_columns},
    coalesce(own.expected_min, anytype.expected_min) AS expected_min,
    coalesce(own.expected_max, anytype.expected_max) AS expected_max
FROM stats s
JOIN drift d ON d.current AND d.date = s.date AND d.machine_id = s.machine_id AND d.sensor = s.sensor
LEFT JOIN dim_machine dm ON dm.machine_id = s.machine_id
LEFT JOIN dim_sensor own ON own.plant_id = s.plant_id AND own.sensor_id = s.sensor
    AND own.machine_type = dm.machine_type AND own.machine_type <> '*'
LEFT JOIN dim_sensor anytype ON anytype.plant_id = s.plant_id AND anytype.sensor_id = s.sensor
    AND anytype.machine_type = '*'
"""


def machine_daily_sql(start: dt.date, end: dt.date) -> str:
    """gold.machine_daily for ``start``..``end`` in DuckDB SQL, reading ``sensor_days`` (the sensor table's rows)."""
    return f"""
WITH counts AS (
    SELECT date, plant_id, machine_id, count(*) AS readings, sum(interval_s) / 60.0 AS covered_minutes
    FROM telemetry WHERE date BETWEEN DATE '{start}' AND DATE '{end}'
    GROUP BY date, plant_id, machine_id
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
    FROM counts d JOIN maintenance_year m ON m.machine_id = d.machine_id
    WHERE date_diff('day', m.date, d.date) BETWEEN 0 AND 364
      AND m.date BETWEEN DATE '{start - 365 * DAY}' AND DATE '{end}'
    GROUP BY d.date, d.machine_id, m.component
),
last_failure AS (
    SELECT d.date, d.machine_id, f.component, date_diff('day', max(f.date), d.date) AS days_since
    FROM counts d JOIN failures_year f ON f.machine_id = d.machine_id
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
),
cycle AS (
    SELECT date, machine_id, mean FROM sensor_days WHERE sensor = '{gold.CYCLE_TIME_SENSOR}'
)
SELECT s.date, s.plant_id, dm.line_id, s.machine_id, dm.machine_type, dm.criticality,
    date_diff('day', dm.install_date, s.date) / 365.25 AS age_years,
    dm.downtime_cost_eur_h, s.readings, s.covered_minutes,
    CASE WHEN dl.ideal_cycle_time_s <> 0 THEN c.mean / dl.ideal_cycle_time_s END - 1 AS cycle_time_slowdown,
    coalesce(e.alarm_count, 0) AS alarm_count,
    coalesce(e.downtime_events, 0) AS downtime_events,
    coalesce(e.downtime_minutes, 0.0) AS downtime_minutes,
    coalesce(f.failure_count, 0) AS failure_count,
    coalesce(m.maintenance_count, 0) AS maintenance_count,
    r.days_since_maintenance, r.max_component_days_since_maintenance, r.days_since_failure
FROM counts s
LEFT JOIN events e ON e.date = s.date AND e.plant_id = s.plant_id AND e.machine_id = s.machine_id
LEFT JOIN fails f ON f.date = s.date AND f.plant_id = s.plant_id AND f.machine_id = s.machine_id
LEFT JOIN maint m ON m.date = s.date AND m.plant_id = s.plant_id AND m.machine_id = s.machine_id
LEFT JOIN recency r ON r.date = s.date AND r.machine_id = s.machine_id
LEFT JOIN cycle c ON c.date = s.date AND c.machine_id = s.machine_id
LEFT JOIN dim_machine dm ON dm.machine_id = s.machine_id
LEFT JOIN dim_line dl ON dl.line_id = dm.line_id
"""


def duckdb_machine_health(lake: Lake, start: dt.date, end: dt.date, threads: int | None = None,
                          memory_limit: str | None = None) -> tuple[dict[str, pa.Table], float]:
    """The reference's rows of both tables (by table name) and its seconds (snapshot registration, queries,
    Arrow results)."""
    started = time.perf_counter()
    con = duckdb_connection(threads, memory_limit)
    register_snapshot(con, lake, start, end)
    sensors = con.sql(machine_sensor_daily_sql(start, end)).to_arrow_table()
    con.register("sensor_days", sensors)
    machines = con.sql(machine_daily_sql(start, end)).to_arrow_table()
    seconds = time.perf_counter() - started
    con.close()
    tables = {gold.MACHINE_SENSOR_DAILY.name: sensors, gold.MACHINE_DAILY.name: machines}
    return {name: table.cast(TABLES[name].schema, safe=False) for name, table in tables.items()}, seconds


def spark_machine_health(spark, lake: Lake, start: dt.date, end: dt.date) -> tuple[dict[str, pa.Table], float]:
    """What the gold_machine_sensor_daily and gold_machine_daily assets compute, collected as Arrow, with the
    seconds: the assets' own reads and transforms (``spark_io.derive``, all plants), without the writes and the
    Dagster metadata. machine_daily reads the night's machine_sensor_daily rows the pipeline wrote."""
    from orchestration.spark_io import derive

    started = time.perf_counter()
    nights = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    out = {name: derive(spark, lake, spec, nights, None).select(*spec.column_names).toArrow()
           for name, spec in TABLES.items()}
    return out, time.perf_counter() - started


def compare_all(result: dict[str, pa.Table], lake: Lake, start: dt.date, end: dt.date) -> dict[str, Comparison]:
    """Each table of ``result`` against the pipeline's rows of ``start``..``end``, on the table's natural key."""
    window = [("date", ">=", start), ("date", "<=", end)]
    return {name: compare(table, lake.read(TABLES[name], filters=window), key=TABLES[name].natural_key)
            for name, table in result.items()}


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
