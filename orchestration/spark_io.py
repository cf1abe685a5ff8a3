"""Reading a run's inputs into Spark and writing its results: the only I/O of the Spark assets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg
from pyspark.sql import DataFrame, SparkSession

from lakehouse import bridge
from lakehouse.catalog import TableSpec
from lakehouse.delta import Lake
from lakehouse.slices import Slices
from lakehouse.spark import release_memory
from orchestration.metadata import materialized


def between(start: dt.date, end: dt.date, plants: Sequence[str] | None = None, column: str = "date") -> list:
    filters = [(column, ">=", start), (column, "<=", end)]
    if plants is not None:
        filters.append(("plant_id", "in", list(plants)))
    return filters


def read(
    spark: SparkSession,
    lake: Lake,
    spec: TableSpec,
    start: dt.date | None = None,
    end: dt.date | None = None,
    plants: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> DataFrame:
    """Rows of ``spec`` with ``date`` in [start, end] (and of ``plants``); empty if the table does not exist yet."""
    filters = between(start, end, plants) if start is not None else None
    return bridge.read_table(spark, lake, spec, filters=filters, columns=columns, missing_ok=True)


def slices_for(spec: TableSpec, values: Sequence[dt.date], plants: Sequence[str] | None) -> Slices:
    """The slices a run replaces: each partition value, narrowed to ``plants`` when given."""
    return Slices.of(spec, {value: (list(plants) if plants is not None else None) for value in values})


def write(
    df: DataFrame,
    lake: Lake,
    spec: TableSpec,
    slices: Slices,
    *,
    run_id: str,
    via: str = "arrow",
) -> int:
    """Replace ``slices`` of ``spec`` with ``df`` (cast and ordered like the catalog), then release the step's heap."""
    version = bridge.write_table(
        df.select(*spec.column_names), lake, spec, slices=dict(slices.parts), via=via, run_id=run_id
    )
    release_memory(df.sparkSession)
    return version


def replace(
    df: DataFrame,
    lake: Lake,
    spec: TableSpec,
    values: Sequence[dt.date],
    plants: Sequence[str] | None,
    *,
    run_id: str,
    via: str = "arrow",
) -> dg.MaterializeResult:
    """Replace the slices of ``values`` (narrowed to ``plants``) with ``df``: the materialization to report."""
    slices = slices_for(spec, values, plants)
    return materialized(lake, spec, write(df, lake, spec, slices, run_id=run_id, via=via), slices)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)
