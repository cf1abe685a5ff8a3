"""Bronze to silver: one row per natural key for event feeds, the latest snapshot for master feeds.

A drop may be re-landed (a late or corrected file), so bronze can hold several versions of
one key; the latest landing wins, and ties are broken by file and row so a rerun always
keeps the same row.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

LINEAGE = ("_source_file", "_source_row", "_ingested_at", "_run_id")


def _first(df: DataFrame, key: list[str], order: list) -> DataFrame:
    w = Window.partitionBy(*key).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(w)).where(F.col("_rank") == 1).drop("_rank")


def conform_events(bronze: DataFrame, key: list[str]) -> DataFrame:
    """One row per ``key``: the latest ``_ingested_at``, then the highest ``_source_file``, ``_source_row``.

    Drops ``_source_row`` and ``_run_id``; keeps ``_source_file`` and ``_ingested_at`` for traceability.
    """
    order = [F.col("_ingested_at").desc(), F.col("_source_file").desc(), F.col("_source_row").desc()]
    return _first(bronze, list(key), order).drop("_source_row", "_run_id")


def latest_snapshot(bronze: DataFrame, key: list[str]) -> DataFrame:
    """Type 1 dimension: per ``key`` the attributes of the latest drop ``date`` (then latest landing).

    ``as_of`` = that date, ``first_seen`` = the earliest date the key appears in the input;
    ``date`` and the lineage columns are dropped.
    """
    key = list(key)
    order = [
        F.col("date").desc(),
        F.col("_ingested_at").desc(),
        F.col("_source_file").desc(),
        F.col("_source_row").desc(),
    ]
    first_seen = F.min("date").over(Window.partitionBy(*key))
    latest = _first(bronze.withColumn("first_seen", first_seen), key, order)
    return latest.withColumn("as_of", F.col("date")).drop("date", *LINEAGE)
