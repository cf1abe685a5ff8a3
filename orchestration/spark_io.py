"""Reading a run's inputs into Spark and writing its results: the only I/O of the Spark assets."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
from collections.abc import Sequence

import dagster as dg
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakehouse import bridge, catalog
from lakehouse.catalog import PLANT, Input, TableSpec
from lakehouse.delta import Lake
from lakehouse.slices import Slices
from lakehouse.spark import release_memory
from orchestration.metadata import materialized
from orchestration.partitions import month_end, month_start


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
    column: str = "date",
) -> DataFrame:
    """Rows of ``spec`` with ``column`` in [start, end] (and of ``plants``); empty if the table does not exist yet."""
    filters = between(start, end, plants, column) if start is not None else None
    return bridge.read_table(spark, lake, spec, filters=filters, columns=columns, missing_ok=True)


def read_input(
    spark: SparkSession,
    lake: Lake,
    declared: Input,
    periods: Sequence[dt.date],
    plants: Sequence[str] | None,
) -> DataFrame:
    """The rows of one declared input for a run that replaces ``periods`` (nights or months) of ``plants``."""
    spec = catalog.get(declared.table)
    columns = list(declared.columns) or None
    if plants is not None and "plant_id" not in spec.column_names:
        plants = None
    if declared.everything or not spec.partition_by:
        filters = [("plant_id", "in", list(plants))] if plants is not None else None
        return bridge.read_table(spark, lake, spec, filters=filters, columns=columns, missing_ok=True)
    first, last = min(periods), max(periods)
    if declared.whole_months:
        first, last = month_start(first), month_end(last)
    if spec.partition_by[0] == "month":  # a monthly input: the months the nights fall in
        first = month_start(first)
    start = first - dt.timedelta(days=declared.days_before)
    end = first - dt.timedelta(days=1) if declared.history_only else last + dt.timedelta(days=declared.days_after)
    return read(spark, lake, spec, start, end, plants, columns, column=spec.partition_by[0])


def derive(spark: SparkSession, lake: Lake, spec: TableSpec, periods: Sequence[dt.date],
           plants: Sequence[str] | None) -> DataFrame:
    """``spec``'s rows for ``periods`` (of ``plants``), computed by its declared transform; nothing is written."""
    how = spec.derived
    transform = resolve(how.transform)
    frames = {name: read_input(spark, lake, declared, periods, plants if spec.scope == PLANT else None)
              for name, declared in how.inputs}
    if "periods" in inspect.signature(transform).parameters:
        frames["periods"] = list(periods)
    frame = transform(**frames, **{k: list(v) if isinstance(v, tuple) else v for k, v in how.params})
    return frame.where(F.col(spec.partition_by[0]).isin(list(periods)))


def resolve(path: str):
    """The function a ``module:function`` path names."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


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
        bridge.ordered(df, spec.column_names), lake, spec, slices=dict(slices.parts), via=via, run_id=run_id
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
