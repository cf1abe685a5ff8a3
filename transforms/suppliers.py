"""Supplier scorecard (monthly and rolling 90 days) and inbound supply risk per plant.

All supplier times and dates are UTC. silver.shipments holds status records: one
``in_transit`` record (with ``eta``) when a shipment leaves, one ``delivered`` record
(``delivered_at``, ``delivered_qty``) when it arrives. Per delivery:

    on_time = delivered_at <= promised_at      in_full = delivered_qty >= ordered_qty
    otif    = on_time and in_full              lead_time_days = (delivered_at - shipped_at) / 1 day

Rolling windows and open shipments are built for a list of as-of dates in one job
(each row repeated for the dates it belongs to), never in a loop over dates.

What the source does not say stays unknown: a delivery without ``shipped_at`` has no lead
time, one without ``delivered_qty`` is neither in full nor not (so its OTIF is unknown unless it
was late: a late delivery is not OTIF whatever its quantity), a
period whose shipments never say whether freight was premium has no premium figures, and a
part without a known unit cost makes the value at risk unknown, not smaller. Averages are
over the deliveries that say (null when none does). A rolling window that reaches before the
first night the source was loaded says so (``window_days_covered``, ``window_complete``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from transforms.ratios import ratio

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def deliveries(shipments: DataFrame) -> DataFrame:
    """The delivered records with on_time, in_full, otif (booleans) and lead_time_days (double)."""
    on_time = F.col("delivered_at") <= F.col("promised_at")
    in_full = F.col("delivered_qty") >= F.col("ordered_qty")
    lead = (F.unix_micros("delivered_at") - F.unix_micros("shipped_at")) / DAY_US
    return (
        shipments.where(F.col("status") == "delivered")
        .withColumn("on_time", on_time)
        .withColumn("in_full", in_full)
        .withColumn("otif", on_time & in_full)
        .withColumn("lead_time_days", lead.cast("double"))
    )


def _share(flag: str) -> Column:
    return F.avg(F.col(flag).cast("double"))


def scorecard(deliveries: DataFrame, inspections: DataFrame, period: str) -> DataFrame:
    """Per (``period``, supplier_id): deliveries; on-time, in-full and OTIF shares (0..1) of the deliveries;
    lead time mean and sample std (days); inspected and defective units; defect_ppm = defective /
    inspected x 1e6; premium freight shipments and their freight cost (EUR).

    Both inputs carry the ``period`` column (a month or an as-of date) added by the caller.
    """
    premium = F.col("premium_freight")
    said = F.count("premium_freight") > 0  # some shipment of the period says whether it was premium
    delivered = deliveries.groupBy(period, "supplier_id").agg(
        F.count("*").alias("deliveries"),
        _share("on_time").alias("on_time_rate"),
        _share("in_full").alias("in_full_rate"),
        _share("otif").alias("otif_rate"),
        F.avg("lead_time_days").alias("lead_time_days_mean"),
        F.stddev_samp("lead_time_days").alias("lead_time_days_std"),
        F.when(said, F.count(F.when(premium, 1))).alias("premium_freight_shipments"),
        F.when(said, F.coalesce(F.sum(F.when(premium, F.col("freight_cost_eur"))), F.lit(0.0)))
        .alias("premium_freight_eur"),
    )
    inspected = inspections.groupBy(period, "supplier_id").agg(
        F.sum("inspected_qty").cast("long").alias("inspected_qty"),
        F.sum("defective_qty").cast("long").alias("defective_qty"),
    )
    none_delivered = F.col("deliveries").isNull()  # inspections only: no shipment, so none premium
    out = (
        delivered.join(inspected, [period, "supplier_id"], "full")
        .withColumn("premium_freight_shipments",
                    F.when(none_delivered, F.lit(0)).otherwise(F.col("premium_freight_shipments")))
        .withColumn("premium_freight_eur",
                    F.when(none_delivered, F.lit(0.0)).otherwise(F.col("premium_freight_eur")))
        .fillna(0, ["deliveries", "inspected_qty", "defective_qty"])
    )
    return out.select(
        period,
        "supplier_id",
        "deliveries",
        "on_time_rate",
        "in_full_rate",
        "otif_rate",
        "lead_time_days_mean",
        "lead_time_days_std",
        "inspected_qty",
        "defective_qty",
        (ratio(F.col("defective_qty"), F.col("inspected_qty")) * 1e6).alias("defect_ppm"),
        "premium_freight_shipments",
        "premium_freight_eur",
    )


def _dates(dates: Sequence) -> Column:
    return F.array(*[F.lit(d).cast("date") for d in sorted(set(dates))])


def _no_rows(df: DataFrame) -> DataFrame:
    return df.where(F.lit(False)).withColumn("date", F.lit(None).cast("date"))


def rolling_window(events: DataFrame, dates: Sequence[dt.date], days: int = 90, event_date: str = "date") -> DataFrame:
    """Each event once per as-of date d in ``dates`` with d - days + 1 <= event date <= d, as column ``date``.

    An event's own ``date`` column is renamed ``event_date`` (and used as the event date if it was).
    """
    if "date" in events.columns:
        events = events.withColumnRenamed("date", "event_date")
        event_date = "event_date" if event_date == "date" else event_date
    if not dates:
        return _no_rows(events)
    e = F.col(event_date)
    windows = F.filter(_dates(dates), lambda d: (d >= e) & (d <= F.date_add(e, days - 1)))
    return events.withColumn("date", F.explode(windows))


def open_shipments(shipments: DataFrame, as_of: Sequence[dt.date]) -> DataFrame:
    """Per as-of date D: the shipments with an in_transit record dated <= D and no delivered record dated <= D.

    One row per shipment and D (its latest in_transit record up to D), with D as ``date``.
    """
    transit = shipments.where(F.col("status") == "in_transit").withColumnRenamed("date", "_transit_date")
    if not as_of:
        return _no_rows(transit.drop("_transit_date"))
    arrived = (
        shipments.where(F.col("status") == "delivered")
        .groupBy("shipment_id")
        .agg(F.min("date").alias("_delivered_date"))
    )
    t, arrival = F.col("_transit_date"), F.col("_delivered_date")
    pending = F.filter(_dates(as_of), lambda d: (d >= t) & (arrival.isNull() | (d < arrival)))
    rows = transit.join(arrived, "shipment_id", "left").withColumn("date", F.explode(pending))
    latest = Window.partitionBy("shipment_id", "date").orderBy(t.desc(), F.col("updated_at").desc())
    return (
        rows.withColumn("_rank", F.row_number().over(latest))
        .where(F.col("_rank") == 1)
        .drop("_rank", "_transit_date", "_delivered_date")
    )


def supply_risk(
    open: DataFrame,
    scorecard_90d: DataFrame,
    parts: DataFrame,
    due_days: int = 3,
    otif_threshold: float = 0.85,
) -> DataFrame:
    """Per (date, plant_id, supplier_id) of the open shipments: which are at risk, and how badly.

    A shipment is at risk if its eta > promised_at (late), or if the supplier's 90-day OTIF
    < ``otif_threshold`` and promised_at <= end of D + ``due_days`` days (due soon, or overdue).
    risk_level: 'high' if any is late, 'medium' if any other is at risk, else 'low'.
    at_risk_value_eur = sum(ordered_qty x unit_cost_eur) over at-risk shipments; null (unknown) when a
    part of an at-risk shipment has no known unit cost.
    """
    otif = scorecard_90d.select("date", "supplier_id", F.col("otif_rate").alias("supplier_otif_90d"))
    cost = parts.select("part_id", "unit_cost_eur")
    rows = open.join(otif, ["date", "supplier_id"], "left").join(cost, "part_id", "left")

    late = F.coalesce(F.col("eta") > F.col("promised_at"), F.lit(False))
    end_of_day = (F.unix_date(F.col("date")).cast("long") + 1) * DAY_US
    due = F.unix_micros("promised_at") <= end_of_day + due_days * DAY_US
    poor = F.coalesce(F.col("supplier_otif_90d") < otif_threshold, F.lit(False))
    at_risk = late | (poor & due)
    delay_h = (F.unix_micros("eta") - F.unix_micros("promised_at")) / HOUR_US
    value = F.col("ordered_qty") * F.col("unit_cost_eur")
    unpriced = F.count(F.when(at_risk & F.col("unit_cost_eur").isNull(), 1)) > 0

    out = rows.groupBy("date", "plant_id", "supplier_id").agg(
        F.count("*").alias("open_shipments"),
        F.count(F.when(at_risk, 1)).alias("at_risk_shipments"),
        F.coalesce(F.sum(F.when(at_risk, F.col("ordered_qty"))), F.lit(0)).cast("long").alias("at_risk_qty"),
        F.when(unpriced, F.lit(None).cast("double"))
        .otherwise(F.coalesce(F.sum(F.when(at_risk, value)), F.lit(0.0))).alias("at_risk_value_eur"),
        F.max(delay_h).cast("double").alias("max_expected_delay_h"),
        F.max("supplier_otif_90d").alias("supplier_otif_90d"),
        F.max(late.cast("int")).alias("_late"),
    )
    level = (
        F.when(F.col("_late") == 1, "high").when(F.col("at_risk_shipments") > 0, "medium").otherwise("low")
    )
    return out.withColumn("risk_level", level).drop("_late")


def monthly_scorecard(shipments: DataFrame, inspections: DataFrame) -> DataFrame:
    """gold.supplier_scorecard: per month (of the events' dates) and supplier."""

    def by_month(frame: DataFrame) -> DataFrame:
        return frame.withColumn("month", F.trunc("date", "month"))

    return scorecard(by_month(deliveries(shipments)), by_month(inspections), "month")


def rolling_scorecard(periods: Sequence[dt.date], shipments: DataFrame, inspections: DataFrame,
                      days: int, landed: DataFrame, source: str) -> DataFrame:
    """gold.supplier_scorecard_90d: per as-of date of ``periods`` and supplier, over the ``days`` ending on it,
    with how many of those days the source had been loaded (``landed``: ops.landed_drops, ``source``: its
    plant_id value, e.g. suppliers)."""
    card = scorecard(
        rolling_window(deliveries(shipments), periods, days=days),
        rolling_window(inspections, periods, days=days),
        "date",
    )
    return with_window_cover(card, first_loaded(landed, source), days)


def first_loaded(landed: DataFrame, source: str) -> DataFrame:
    """One row, ``first_loaded``: the earliest night a drop of ``source`` landed (null: none yet)."""
    mine = landed.where((F.col("plant_id") == source) & (F.col("status") == "landed"))
    return mine.agg(F.min("date").alias("first_loaded"))


def with_window_cover(card: DataFrame, first: DataFrame, days: int) -> DataFrame:
    """``window_days_covered``: days of the window ending on ``date`` on or after the first loaded night;
    ``window_complete``: all ``days`` of them (earlier windows count from a part of the window only)."""
    since = F.datediff(F.col("date"), F.col("first_loaded")) + 1
    covered = F.least(F.lit(days), F.greatest(since, F.lit(0)))
    return (card.crossJoin(first)
            .withColumn("window_days_covered", F.coalesce(covered, F.lit(0)).cast("long"))
            .withColumn("window_complete", F.col("window_days_covered") == days)
            .drop("first_loaded"))


def supply_risk_of(periods: Sequence[dt.date], shipments: DataFrame, scorecard_90d: DataFrame,
                   parts: DataFrame, landed: DataFrame, days: int, source: str) -> DataFrame:
    """gold.plant_supply_risk: the shipments open at the end of each date of ``periods``, judged; with how much
    of ``supplier_otif_90d``'s window the loaded history covers (as gold.supplier_scorecard_90d says it)."""
    risk = supply_risk(open_shipments(shipments, periods), scorecard_90d, parts)
    return with_window_cover(risk, first_loaded(landed, source), days)
