"""OEE per line and per plant, ISO 22400.

PBT = planned_minutes, APT = run_minutes, PQ = total_count, GQ = good_count and the
planned runtime per item PRI = ideal_cycle_time_s / 60 (minutes):

    availability = APT / PBT    performance = PQ x PRI / APT    quality = GQ / PQ
    oee = availability x performance x quality

Each ratio is null where its denominator is 0. A plant rolls its lines up from sums
(sum(PQ x PRI) / sum(APT), ...), never by averaging line ratios.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.ratios import oee_ratios, oee_sums


def oee_by_line(production: DataFrame, dim_line: DataFrame) -> DataFrame:
    """Per (date, plant_id, line_id): the shift sums of silver.production and the OEE ratios."""
    line = dim_line.select("line_id", "ideal_cycle_time_s")
    sums = production.groupBy("date", "plant_id", "line_id").agg(
        F.sum("planned_minutes").cast("double").alias("planned_minutes"),
        F.sum("run_minutes").cast("double").alias("run_minutes"),
        F.sum("total_count").cast("long").alias("total_count"),
        F.sum("good_count").cast("long").alias("good_count"),
    )
    out = sums.join(line, "line_id", "left")
    ideal_minutes = F.col("total_count") * F.col("ideal_cycle_time_s") / 60.0
    return out.select(
        "date", "plant_id", "line_id", "ideal_cycle_time_s",
        "planned_minutes", "run_minutes", "total_count", "good_count",
        *oee_ratios(ideal_minutes),
    )


def oee_by_plant(oee_line: DataFrame) -> DataFrame:
    """Per (date, plant_id): lines reporting, summed PBT/APT/PQ/GQ and ratios from the sums.

    performance = sum(PQ x PRI) / sum(APT); null if a line that produced lacks its ideal cycle time.
    """
    sums = oee_line.groupBy("date", "plant_id").agg(F.count("*").alias("lines"), *oee_sums())
    return sums.select(
        "date", "plant_id", "lines", "planned_minutes", "run_minutes", "total_count", "good_count",
        *oee_ratios(F.col("_ideal_minutes")),
    )

