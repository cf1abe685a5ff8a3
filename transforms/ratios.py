"""Safe ratios and the ISO 22400 OEE roll-up from sums, shared by the OEE and productivity transforms.

Ratios of aggregates are computed from sums of times and quantities, never as means of
per-line ratios, so a plant or a month weighs each line by what it actually planned and made.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F


def ratio(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator as a double; null where the denominator is 0 or null."""
    return F.when(denominator != 0, numerator.cast("double") / denominator)


def oee_sums() -> list[Column]:
    """Aggregates a roll-up needs: PBT, APT, PQ, GQ and sum(PQ x ideal_ct_min).

    ``_ideal_minutes`` (PQ x planned runtime per item) is null when a line that produced
    has no ideal cycle time: its performance is then unknown rather than understated.
    """
    ideal = F.col("total_count") * F.col("ideal_cycle_time_s") / 60.0
    unknown = F.count(F.when(ideal.isNull() & (F.col("total_count") > 0), 1))
    return [
        F.sum("planned_minutes").cast("double").alias("planned_minutes"),
        F.sum("run_minutes").cast("double").alias("run_minutes"),
        F.sum("total_count").cast("long").alias("total_count"),
        F.sum("good_count").cast("long").alias("good_count"),
        F.when(unknown == 0, F.coalesce(F.sum(ideal), F.lit(0.0))).alias("_ideal_minutes"),
    ]


def oee_ratios(ideal_minutes: Column) -> list[Column]:
    """availability = APT / PBT, performance = ideal_minutes / APT, quality = GQ / PQ, oee = their product.

    OEE is computed as ideal_minutes x quality / PBT, which equals the product wherever all
    three exist and is 0 for a line that was planned but never ran (its performance is undefined).
    """
    availability = ratio(F.col("run_minutes"), F.col("planned_minutes"))
    performance = ratio(ideal_minutes, F.col("run_minutes"))
    quality = ratio(F.col("good_count"), F.col("total_count"))
    return [
        availability.alias("availability"),
        performance.alias("performance"),
        quality.alias("quality"),
        ratio(ideal_minutes * F.coalesce(quality, F.lit(1.0)), F.col("planned_minutes")).alias("oee"),
    ]
