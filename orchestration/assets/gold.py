"""Gold assets: the tables BI and the models read, computed by Spark from silver.

Each asset reads what its formulas need for the run's nights (plus the history windows:
30 days of machine_daily for drift, 365 days of maintenance for recency, 90 days of
deliveries for the rolling scorecard), calls pure transforms, and replaces its slices.
Plant-level tables replace only the plants in scope; supplier tables are recomputed for
the whole night (the supplier drop is one per night).
"""

import datetime as dt

import dagster as dg
from pyspark.sql import functions as F

from lakehouse import gold_tables as gold
from orchestration import partitions
from orchestration.metadata import asset_spec, skipped
from orchestration.resources import LakeResource, NightScope, SparkResource
from orchestration.spark_io import month_end, month_start, read, replace
from sources.silver import DIMENSION_TABLES, EVENT_TABLES
from transforms import machine_daily as md
from transforms import oee, productivity, suppliers

SENSORS = [name for name, _ in gold.SENSORS]
DAY = dt.timedelta(days=1)


def _common(context, lake: LakeResource, spark: SparkResource):
    return partitions.dates(context), lake.lake(), spark.session()


@dg.multi_asset(
    name="gold_machine_daily",
    specs=[
        asset_spec(
            gold.MACHINE_DAILY,
            {"spark"},
            deps=[EVENT_TABLES[f] for f in ("telemetry", "downtime_events", "failures", "maintenance")]
            + [DIMENSION_TABLES["machines"], DIMENSION_TABLES["lines"]],
        ),
        asset_spec(
            gold.MACHINE_COMPONENT_DAILY, {"spark"}, deps=[EVENT_TABLES["maintenance"], EVENT_TABLES["failures"]]
        ),
    ],
    partitions_def=partitions.daily,
    backfill_policy=partitions.single_run,
)
def machine_daily(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
    dates, the_lake, session = _common(context, lake, spark)
    plants = scope.plant_ids
    if plants == []:
        yield from map(skipped, (gold.MACHINE_DAILY, gold.MACHINE_COMPONENT_DAILY))
        return
    stats, daily, components = machine_daily_frames(session, the_lake, min(dates), max(dates), plants)
    try:
        for spec, frame in ((gold.MACHINE_DAILY, daily), (gold.MACHINE_COMPONENT_DAILY, components)):
            yield replace(frame, the_lake, spec, dates, plants, run_id=context.run_id)
    finally:
        stats.unpersist()


def machine_daily_frames(session, the_lake, start: dt.date, end: dt.date, plants=None):
    """gold.machine_daily and gold.machine_component_daily for ``start``..``end`` (of ``plants``), not yet computed.

    Returns (sensor statistics, machine_daily, machine_component_daily). The statistics are
    cached because both tables read them (recency needs only their keys, so it does not wait
    for the drift windows); unpersist them once both are written. The benchmark's Spark side
    runs this same function.
    """
    window = max(gold.DRIFT_WINDOWS)
    telemetry = read(session, the_lake, EVENT_TABLES["telemetry"], start, end, plants)
    stats = md.sensor_stats(telemetry, SENSORS).cache()
    history_columns = ["date", "machine_id", *[f"{s}_{m}" for s in SENSORS for m in ("mean", "std")]]
    history = read(session, the_lake, gold.MACHINE_DAILY, start - window * DAY, start - DAY, plants, history_columns)
    events = md.event_counts(
        read(session, the_lake, EVENT_TABLES["downtime_events"], start, end, plants),
        read(session, the_lake, EVENT_TABLES["failures"], start, end, plants),
        read(session, the_lake, EVENT_TABLES["maintenance"], start, end, plants),
    )
    year_start = start - 365 * DAY
    machine_recency, component_recency = md.recency(
        stats.select("date", "plant_id", "machine_id"),
        read(session, the_lake, EVENT_TABLES["maintenance"], year_start, end, plants),
        read(session, the_lake, EVENT_TABLES["failures"], year_start, end, plants),
    )
    daily = md.machine_daily(
        md.with_drift(stats, history, SENSORS, gold.DRIFT_WINDOWS),
        events,
        machine_recency,
        read(session, the_lake, DIMENSION_TABLES["machines"]),
        read(session, the_lake, DIMENSION_TABLES["lines"]),
    )
    return stats, daily, component_recency


@dg.multi_asset(
    name="gold_oee",
    specs=[
        asset_spec(gold.OEE_DAILY, {"spark"}, deps=[EVENT_TABLES["production"], DIMENSION_TABLES["lines"]]),
        asset_spec(gold.OEE_PLANT_DAILY, {"spark"}, deps=[gold.OEE_DAILY]),
    ],
    partitions_def=partitions.daily,
    backfill_policy=partitions.single_run,
)
def oee_daily(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
    dates, the_lake, session = _common(context, lake, spark)
    plants = scope.plant_ids
    if plants == []:
        yield from map(skipped, (gold.OEE_DAILY, gold.OEE_PLANT_DAILY))
        return
    production = read(session, the_lake, EVENT_TABLES["production"], min(dates), max(dates), plants)
    by_line = oee.oee_by_line(production, read(session, the_lake, DIMENSION_TABLES["lines"])).cache()
    for spec, frame in ((gold.OEE_DAILY, by_line), (gold.OEE_PLANT_DAILY, oee.oee_by_plant(by_line))):
        yield replace(frame, the_lake, spec, dates, plants, run_id=context.run_id)
    by_line.unpersist()


@dg.multi_asset(
    name="gold_plant_productivity",
    specs=[asset_spec(gold.PLANT_PRODUCTIVITY, {"spark"}, deps=[gold.OEE_DAILY, DIMENSION_TABLES["plants"]])],
    partitions_def=partitions.daily,
    backfill_policy=partitions.single_run,
)
def plant_productivity(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
    """Each night recomputes its month so far (and a backfill every month it touches)."""
    dates, the_lake, session = _common(context, lake, spark)
    plants = scope.plant_ids
    if plants == []:
        return skipped(gold.PLANT_PRODUCTIVITY)
    months = sorted({month_start(d) for d in dates})
    lines = read(session, the_lake, gold.OEE_DAILY, months[0], month_end(months[-1]), plants)
    frame = productivity.plant_productivity(lines, read(session, the_lake, DIMENSION_TABLES["plants"]))
    frame = frame.where(F.col("month").isin(months))
    return replace(frame, the_lake, gold.PLANT_PRODUCTIVITY, months, plants, run_id=context.run_id)


@dg.multi_asset(
    name="gold_supplier_scorecard",
    specs=[
        asset_spec(gold.SUPPLIER_SCORECARD, {"spark"}, deps=[EVENT_TABLES["shipments"], EVENT_TABLES["inspections"]]),
        asset_spec(
            gold.SUPPLIER_SCORECARD_90D, {"spark"}, deps=[EVENT_TABLES["shipments"], EVENT_TABLES["inspections"]]
        ),
    ],
    partitions_def=partitions.daily,
    backfill_policy=partitions.single_run,
)
def supplier_scorecard(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    dates, the_lake, session = _common(context, lake, spark)
    months = sorted({month_start(d) for d in dates})
    start = min(months[0], min(dates) - 89 * DAY)
    deliveries = suppliers.deliveries(read(session, the_lake, EVENT_TABLES["shipments"], start, max(dates))).cache()
    inspections = read(session, the_lake, EVENT_TABLES["inspections"], start, max(dates)).cache()

    def in_months(frame):
        frame = frame.where(F.trunc("date", "month").isin(months))
        return frame.withColumn("month", F.trunc("date", "month"))

    monthly = suppliers.scorecard(in_months(deliveries), in_months(inspections), "month")
    rolling = suppliers.scorecard(
        suppliers.rolling_window(deliveries, dates, days=90),
        suppliers.rolling_window(inspections, dates, days=90),
        "date",
    )
    for spec, frame, values in (
        (gold.SUPPLIER_SCORECARD, monthly, months),
        (gold.SUPPLIER_SCORECARD_90D, rolling, dates),
    ):
        yield replace(frame, the_lake, spec, values, None, run_id=context.run_id)
    deliveries.unpersist()
    inspections.unpersist()


#: How far back an in-transit record can still be open (sea freight takes weeks).
OPEN_SHIPMENT_DAYS = 120


@dg.multi_asset(
    name="gold_plant_supply_risk",
    specs=[
        asset_spec(
            gold.PLANT_SUPPLY_RISK,
            {"spark"},
            deps=[EVENT_TABLES["shipments"], gold.SUPPLIER_SCORECARD_90D, DIMENSION_TABLES["parts"]],
        )
    ],
    partitions_def=partitions.daily,
    backfill_policy=partitions.single_run,
)
def plant_supply_risk(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource):
    dates, the_lake, session = _common(context, lake, spark)
    shipments = read(session, the_lake, EVENT_TABLES["shipments"], min(dates) - OPEN_SHIPMENT_DAYS * DAY, max(dates))
    risk = suppliers.supply_risk(
        suppliers.open_shipments(shipments, dates),
        read(session, the_lake, gold.SUPPLIER_SCORECARD_90D, min(dates), max(dates)),
        read(session, the_lake, DIMENSION_TABLES["parts"]),
    )
    return replace(risk, the_lake, gold.PLANT_SUPPLY_RISK, dates, None, run_id=context.run_id)


GOLD_ASSETS = [machine_daily, oee_daily, plant_productivity, supplier_scorecard, plant_supply_risk]
