"""gold.machine_sensor_daily, gold.machine_daily and gold.machine_component_daily: per machine (and
sensor, or component) and day.

Sensor statistics per machine, sensor and day over whatever sensors the machine reported (the
``readings`` map of silver.telemetry), with the drift of the day's mean against the machine's
own recent past and the sensor's unit and expected range from the registry; per machine and
day the readings, event counts, maintenance and failure recency, cycle-time slowdown and the
machine's master data. Every function works on a range of dates at once (a backfill is one job,
not a loop over days). The ``build_*`` functions are the tables' transforms as the catalog
declares them (``lakehouse.gold_tables``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from transforms.ratios import ratio

KEY = ["date", "plant_id", "machine_id"]
SENSOR_KEY = [*KEY, "sensor"]
LOOKBACK_DAYS = 365  # recency looks at the 365 days up to and including the date
#: A registry row of this machine type holds for every machine type (sources.registry.ANY_TYPE).
ANY_TYPE = "*"


def sensor_stats(telemetry: DataFrame) -> DataFrame:
    """Per (date, plant_id, machine_id, sensor) of the ``readings`` values: readings (values of the sensor),
    mean, std (sample std, null with < 2 values) and max."""
    values = telemetry.select(*KEY, F.explode("readings").alias("sensor", "value"))
    return values.groupBy(*SENSOR_KEY).agg(
        F.count("value").alias("readings"),
        F.avg("value").alias("mean"),
        F.stddev_samp("value").alias("std"),
        F.max("value").alias("max"),
    )


def reading_counts(telemetry: DataFrame) -> DataFrame:
    """Per (date, plant_id, machine_id): readings (rows) and covered_minutes = sum(interval_s) / 60."""
    return telemetry.groupBy(*KEY).agg(F.count("*").alias("readings"),
                                       (F.sum("interval_s") / 60.0).alias("covered_minutes"))


def with_drift(
    stats: DataFrame,
    history: DataFrame,
    windows: Sequence[int] = (7, 30),
    min_days: int = 3,
) -> DataFrame:
    """Adds ``drift_{N}d`` = (day mean - avg(baseline means)) / avg(baseline within-day stds), per sensor.

    The baseline is the machine's days in [date - N, date - 1] with the sensor, from ``history``
    (earlier gold.machine_sensor_daily rows) and ``stats`` together, ``stats`` winning where both
    hold a date. Null with fewer than ``min_days`` baseline days, or a null or zero denominator.
    """
    # One pass over ``stats``: a history row is dropped where ``stats`` holds its day (a window on
    # the union, not an anti-join, which would compute ``stats`` a second time).
    both = stats.withColumn("_current", F.lit(True)).unionByName(
        history.select("date", "machine_id", "sensor", "mean", "std").withColumn("_current", F.lit(False)),
        allowMissingColumns=True,
    )
    same_day = Window.partitionBy("machine_id", "sensor", "date")
    both = (both.withColumn("_shadowed", ~F.col("_current") & F.max("_current").over(same_day))
            .where(~F.col("_shadowed"))
            .withColumn("_day", F.datediff(F.col("date"), F.lit("1970-01-01").cast("date"))))
    drifts = []
    for n in windows:
        w = Window.partitionBy("machine_id", "sensor").orderBy("_day").rangeBetween(-n, -1)
        drift = ratio(F.col("mean") - F.avg("mean").over(w), F.avg("std").over(w))
        drifts.append(F.when(F.count("mean").over(w) >= min_days, drift).alias(f"drift_{n}d"))
    return both.select(*stats.columns, *drifts, "_current").where("_current").drop("_current")


def registered(stats: DataFrame, dim_machine: DataFrame, dim_sensor: DataFrame) -> DataFrame:
    """Adds the sensor's unit and expected range from its plant's registry: the row for the machine's type,
    else the one for any type (``*``); null when the sensor is not registered."""
    types = dim_machine.select("machine_id", "machine_type")
    entries = dim_sensor.select("plant_id", F.col("sensor_id").alias("sensor"), "machine_type", "unit",
                                "expected_min", "expected_max")
    own = entries.where(F.col("machine_type") != ANY_TYPE)
    anytype = entries.where(F.col("machine_type") == ANY_TYPE).select(
        "plant_id", "sensor", *[F.col(c).alias(f"_any_{c}") for c in ("unit", "expected_min", "expected_max")])
    joined = (stats.join(types, "machine_id", "left")
              .join(own, ["plant_id", "sensor", "machine_type"], "left")
              .join(anytype, ["plant_id", "sensor"], "left"))
    return joined.select(
        *stats.columns,
        *[F.coalesce(F.col(c), F.col(f"_any_{c}")).alias(c) for c in ("unit", "expected_min", "expected_max")])


def build_machine_sensor_daily(
    telemetry: DataFrame,
    history: DataFrame,
    dim_machine: DataFrame,
    dim_sensor: DataFrame,
    windows: Sequence[int],
) -> DataFrame:
    """gold.machine_sensor_daily from the nights' silver telemetry and the table's own past ``history``."""
    stats = with_drift(sensor_stats(telemetry), history, windows)
    out = registered(stats, dim_machine, dim_sensor)
    return out.select(*SENSOR_KEY, "unit", "readings", "mean", "std", "max", *[f"drift_{n}d" for n in windows],
                      "expected_min", "expected_max")


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
    counts: DataFrame,
    events: DataFrame,
    recency: DataFrame,
    dim_machine: DataFrame,
    dim_line: DataFrame,
    cycle_time: DataFrame | None = None,
) -> DataFrame:
    """The gold.machine_daily rows: one per machine with telemetry on the date.

    age_years = datediff(date, install_date) / 365.25; cycle_time_slowdown = the day's mean cycle
    time (``cycle_time``: date, machine_id, mean) / the line's ideal_cycle_time_s - 1, null for a
    machine without a cycle-time sensor; event counts 0 where none.
    """
    machine = dim_machine.select(
        "machine_id", "line_id", "machine_type", "criticality", "downtime_cost_eur_h", "install_date"
    )
    line = dim_line.select("line_id", "ideal_cycle_time_s")
    event_columns = ["alarm_count", "downtime_events", "downtime_minutes", "failure_count", "maintenance_count"]
    recency_columns = ["days_since_maintenance", "max_component_days_since_maintenance", "days_since_failure"]
    out = (
        counts.join(events.select(*KEY, *event_columns), KEY, "left")
        .join(recency.select("date", "machine_id", *recency_columns), ["date", "machine_id"], "left")
        .join(machine, "machine_id", "left")
        .join(line, "line_id", "left")
        .fillna(0, ["alarm_count", "downtime_events", "failure_count", "maintenance_count"])
        .fillna(0.0, ["downtime_minutes"])
    )
    if cycle_time is not None:
        out = out.join(cycle_time.select("date", "machine_id", F.col("mean").alias("_cycle_time")),
                       ["date", "machine_id"], "left")
        slowdown = ratio(F.col("_cycle_time"), F.col("ideal_cycle_time_s")) - 1
    else:
        slowdown = F.lit(None).cast("double")
    age = F.datediff(F.col("date"), F.col("install_date")) / 365.25
    return out.select(
        *KEY[:2], "line_id", "machine_id", "machine_type", "criticality",
        age.alias("age_years"), "downtime_cost_eur_h", "readings", "covered_minutes",
        slowdown.alias("cycle_time_slowdown"),
        *event_columns, *recency_columns,
    )


def build_machine_daily(
    telemetry: DataFrame,
    sensor_days: DataFrame,
    downtime: DataFrame,
    failures: DataFrame,
    maintenance: DataFrame,
    maintenance_year: DataFrame,
    failures_year: DataFrame,
    dim_machine: DataFrame,
    dim_line: DataFrame,
    cycle_time_sensor: str,
) -> DataFrame:
    """gold.machine_daily from the nights' silver rows, their gold.machine_sensor_daily rows (the cycle-time
    sensor's mean) and the maintenance and failures of the year up to each night (for recency)."""
    counts = reading_counts(telemetry)
    machine_recency, _ = recency(counts.select(*KEY), maintenance_year, failures_year)
    return machine_daily(
        counts,
        event_counts(downtime, failures, maintenance),
        machine_recency,
        dim_machine,
        dim_line,
        sensor_days.where(F.col("sensor") == cycle_time_sensor),
    )


def build_machine_component_daily(
    machine_days: DataFrame, maintenance_year: DataFrame, failures_year: DataFrame
) -> DataFrame:
    """gold.machine_component_daily for the machine-days of gold.machine_daily."""
    return recency(machine_days, maintenance_year, failures_year)[1]
