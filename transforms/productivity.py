"""Plant productivity per month against the plant's baseline; the target is the baseline + 1/3.

    units_per_hour     = good_count / planned_hours        (planned_hours = sum(PBT) / 60)
    target             = baseline_units_per_hour x 4/3
    productivity_index = units_per_hour / baseline         (1.0 = baseline)
    target_attainment  = units_per_hour / target           (1.0 = target reached)
    oee                = OEE of the month from the summed PBT, APT, PQ, GQ, PQ x PRI (ISO 22400)
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.ratios import oee_ratios, oee_sums, ratio

TARGET_FACTOR = 4.0 / 3.0


def plant_productivity(oee_line: DataFrame, dim_plant: DataFrame) -> DataFrame:
    """Per (month, plant_id) from gold.oee_daily line rows and silver.dim_plant's baseline."""
    monthly = (
        oee_line.withColumn("month", F.trunc("date", "month"))
        .groupBy("month", "plant_id")
        .agg(F.countDistinct("date").alias("days"), *oee_sums())
    )
    baseline = dim_plant.select("plant_id", F.col("baseline_units_per_hour").cast("double"))
    out = monthly.join(baseline, "plant_id", "left")
    planned_hours = F.col("planned_minutes") / 60.0
    uph = ratio(F.col("good_count"), planned_hours)
    target = F.col("baseline_units_per_hour") * TARGET_FACTOR
    oee = oee_ratios(F.col("_ideal_minutes"))[-1]
    return out.select(
        "month",
        "plant_id",
        "days",
        planned_hours.alias("planned_hours"),
        "good_count",
        uph.alias("units_per_hour"),
        "baseline_units_per_hour",
        target.alias("target_units_per_hour"),
        ratio(uph, F.col("baseline_units_per_hour")).alias("productivity_index"),
        ratio(uph, target).alias("target_attainment"),
        oee,
    )
