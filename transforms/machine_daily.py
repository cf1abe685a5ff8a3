"""gold.machine_daily and gold.machine_component_daily: one row per machine (and component) and day.

Sensor statistics per day, drift of the day's mean against the machine's own recent past,
event counts, maintenance and failure recency, and the machine's master data. Every
function works on a range of dates at once (a backfill is one job, not a loop over days).
:func:`build_machine_daily` and :func:`build_machine_component_daily` are the tables'
transforms as the catalog declares them (``lakehouse.gold_tables``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.ratios import ratio

KEY = ["date", "plant_id", "machine_id"]
LOOKBACK_DAYS = 365  # recency looks at the 365 days up to and including the date


def sensor_stats(telemetry: DataFrame, sensors: Sequence[str]) -> DataFrame:
    """Per (date, plant_id, machine_id): readings, covered_minutes = sum(interval_s) / 60, and per sensor
    ``{s}_mean``, ``{s}_std`` (sample std, null with < 2 values) and ``{s}_max``, nulls ignored."""
    aggs = [F.count("*").alias("readings"), (F.sum("interval_s") / 60.0).alias("covered_minutes")]
    for s in sensors:
        v = F.col(s).cast("double")
        aggs += [F.avg(v).alias(f"{s}_mean"), F.stddev_samp(v).alias(f"{s}_std"), F.max(v).alias(f"{s}_max")]
    return telemetry.groupBy(*KEY).agg(*aggs)


def with_drift(
    stats: DataFrame,
    history: DataFrame,
    sensors: Sequence[str],
    windows: Sequence[int] = (7, 30),
    min_days: int = 3,
) -> DataFrame:
    """Adds ``{s}_drift_{N}d`` = (day mean - avg(baseline means)) / avg(baseline within-day stds).

    The baseline is the machine's days in [date - N, date - 1] from ``history`` (earlier
    gold.machine_daily rows) and ``stats`` together, ``stats`` winning where both hold a date.
    Null with fewer than ``min_days`` baseline days having the sensor, or a null or zero denominator.
    """
    measures = [c for s in sensors for c in (f"{s}_mean", f"{s}_std")]
    earlier = history.select("date", "machine_id", *measures).join(
        stats.select("date", "machine_id"), ["date", "machine_id"], "left_anti"
    )
    both = stats.withColumn("_current", F.lit(True)).unionByName(
        earlier.withColumn("_current", F.lit(False)), allowMissingColumns=True
    )
    day = F.datediff(F.col("date"), F.lit("1970-01-01").cast("date"))
    both = both.withColumn("_day", day)
    after: dict[str, list] = {}  # each sensor's drifts follow its last statistic, as in gold.machine_daily
    for s in sensors:
        mean, std = F.col(f"{s}_mean"), F.col(f"{s}_std")
        anchor = [c for c in stats.columns if c in (f"{s}_mean", f"{s}_std", f"{s}_max")][-1]
        for n in windows:
            w = Window.partitionBy("machine_id").orderBy("_day").rangeBetween(-n, -1)
            drift = ratio(mean - F.avg(mean).over(w), F.avg(std).over(w))
            enough = F.count(mean).over(w) >= min_days
            after.setdefault(anchor, []).append(F.when(enough, drift).alias(f"{s}_drift_{n}d"))
    columns = [x for c in stats.columns for x in (F.col(c), *after.get(c, []))]
    return both.select(*columns, "_current").where("_current").drop("_current")


def event_counts(downtime: DataFrame, failures: DataFrame, maintenance: DataFrame) -> DataFrame:
    """Per (date, plant_id, machine_id): alarm_count (category 'alarm'), downtime_events (other
    categories), downtime_minutes = sum(end_ts - start_ts) over non-alarm events, failure_count,
    maintenance_count (rows of silver.maintenance: one per work order and component)."""
    alarm = F.col("category") == "alarm"
    minutes = (F.unix_micros("end_ts") - F.unix_micros("start_ts")) / 60e6
    events = downtime.groupBy(*KEY).agg(
        F.count(F.when(alarm, 1)).alias("alarm_count"),
        F.count(F.when(~alarm, 1)).alias("downtime_events"),
        F.coalesce(F.sum(F.when(~alarm, minutes)), F.lit(0.0)).alias("downtime_minutes"),
    )
    fails = failures.groupBy(*KEY).agg(F.count("*").alias("failure_count"))
    maint = maintenance.groupBy(*KEY).agg(F.count("*").alias("maintenance_count"))
    out = events.join(fails, KEY, "full").join(maint, KEY, "full")
    return out.fillna(0, ["alarm_count", "downtime_events", "failure_count", "maintenance_count"]).fillna(
        0.0, ["downtime_minutes"]
    )


def _last_events(days: DataFrame, events: DataFrame, prefix: str) -> DataFrame:
    """Per day row and component: the last event date and the event count in the lookback window."""
    ev = events.select("machine_id", "component", F.col("date").alias("_event_date"))
    age = F.datediff(F.col("date"), F.col("_event_date"))
    return (
        days.select(*KEY)
        .join(ev, "machine_id")
        .where(age.between(0, LOOKBACK_DAYS - 1))
        .groupBy(*KEY, "component")
        .agg(
            F.datediff(F.col("date"), F.max("_event_date")).cast("long").alias(f"days_since_{prefix}"),
            F.count("*").alias(f"{prefix}_count_365d"),
        )
    )


def recency(days: DataFrame, maintenance: DataFrame, failures: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Days since maintenance and failure, looking at the 365 days up to and including each date.

    Component level (gold.machine_component_daily), for each component with a maintenance or
    failure in those 365 days: days_since_{maintenance,failure} = datediff(date, last event
    date) (0 for an event on the day, null if none) and the event counts. Machine level:
    days_since_maintenance and days_since_failure = the smallest over the components,
    max_component_days_since_maintenance = the largest days_since_maintenance over them.
    Returns (machine level, component level).
    """
    maint = _last_events(days, maintenance, "maintenance")
    fails = _last_events(days, failures, "failure")
    components = (
        maint.join(fails, [*KEY, "component"], "full")
        .fillna(0, ["maintenance_count_365d", "failure_count_365d"])
        .select(
            *KEY, "component", "days_since_maintenance", "days_since_failure",
            "maintenance_count_365d", "failure_count_365d",
        )
    )
    per_machine = components.groupBy("date", "machine_id").agg(
        F.min("days_since_maintenance").alias("days_since_maintenance"),
        F.max("days_since_maintenance").alias("max_component_days_since_maintenance"),
        F.min("days_since_failure").alias("days_since_failure"),
    )
    machines = days.select("date", "machine_id").distinct().join(per_machine, ["date", "machine_id"], "left")
    return machines, components


def machine_daily(
    stats: DataFrame,
    events: DataFrame,
    recency: DataFrame,
    dim_machine: DataFrame,
    dim_line: DataFrame,
) -> DataFrame:
    """The gold.machine_daily rows: one per machine with telemetry on the date.

    age_years = datediff(date, install_date) / 365.25; cycle_time_slowdown =
    cycle_time_s_mean / the line's ideal_cycle_time_s - 1; event counts 0 where none.
    """
    machine = dim_machine.select(
        "machine_id", "line_id", "machine_type", "criticality", "downtime_cost_eur_h", "install_date"
    )
    line = dim_line.select("line_id", "ideal_cycle_time_s")
    event_columns = ["alarm_count", "downtime_events", "downtime_minutes", "failure_count", "maintenance_count"]
    recency_columns = ["days_since_maintenance", "max_component_days_since_maintenance", "days_since_failure"]
    out = (
        stats.join(events.select(*KEY, *event_columns), KEY, "left")
        .join(recency.select("date", "machine_id", *recency_columns), ["date", "machine_id"], "left")
        .join(machine, "machine_id", "left")
        .join(line, "line_id", "left")
        .fillna(0, ["alarm_count", "downtime_events", "failure_count", "maintenance_count"])
        .fillna(0.0, ["downtime_minutes"])
    )
    age = F.datediff(F.col("date"), F.col("install_date")) / 365.25
    if "cycle_time_s_mean" in stats.columns:
        slowdown = ratio(F.col("cycle_time_s_mean"), F.col("ideal_cycle_time_s")) - 1
    else:
        slowdown = F.lit(None).cast("double")
    stat_columns = [c for c in stats.columns if c not in KEY]
    return out.select(
        *KEY[:2], "line_id", "machine_id", "machine_type", "criticality",
        age.alias("age_years"), "downtime_cost_eur_h",
        *stat_columns,
        slowdown.alias("cycle_time_slowdown"),
        *event_columns, *recency_columns,
    )


def build_machine_daily(
    telemetry: DataFrame,
    history: DataFrame,
    downtime: DataFrame,
    failures: DataFrame,
    maintenance: DataFrame,
    maintenance_year: DataFrame,
    failures_year: DataFrame,
    dim_machine: DataFrame,
    dim_line: DataFrame,
    sensors: Sequence[str],
    windows: Sequence[int],
) -> DataFrame:
    """gold.machine_daily from the nights' silver rows, the table's own past ``history`` (for drift) and
    the maintenance and failures of the year up to each night (for recency)."""
    stats = sensor_stats(telemetry, sensors)
    machine_recency, _ = recency(stats.select(*KEY), maintenance_year, failures_year)
    return machine_daily(
        with_drift(stats, history, sensors, windows),
        event_counts(downtime, failures, maintenance),
        machine_recency,
        dim_machine,
        dim_line,
    )


def build_machine_component_daily(
    machine_days: DataFrame, maintenance_year: DataFrame, failures_year: DataFrame
) -> DataFrame:
    """gold.machine_component_daily for the machine-days of gold.machine_daily."""
    return recency(machine_days, maintenance_year, failures_year)[1]
