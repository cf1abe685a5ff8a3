"""Great Expectations asset checks: one suite per nightly table, generated from the catalog.

Each check reads back exactly the slices the run wrote and validates them with the table's
suite (the catalog's columns, types, keys, ranges, allowed values and ordered pairs). A table
declared ``blocking`` (bronze, silver, and the gold tables the models read) stops what is
downstream of it when its check fails: bad data never flows into gold. Failures show the
column, the count and examples in the Dagster UI.
"""

import warnings
from collections.abc import Iterable, Iterator, Mapping

import dagster as dg
import pyarrow as pa

from lakehouse.catalog import PLANT, TableSpec
from lakehouse.delta import Filters, Lake
from orchestration import partitions
from orchestration.metadata import check_results, key, period, run_partitions
from orchestration.resources import LakeResource, NightScope


def run_filters(spec: TableSpec, context, scope: NightScope) -> list | None:
    """Filters selecting the slices this run wrote to ``spec``."""
    if not spec.partition_by:
        return None
    column = spec.partition_by[0]
    filters = [(column, "in", spec.periods(partitions.dates(context)))]
    if spec.scope == PLANT and scope.plant_ids is not None:
        filters.append(("plant_id", "in", scope.plant_ids or ["(none)"]))
    return filters


def plant_groups(rows_per_plant: Mapping[str, int], max_rows: int) -> list[list[str]]:
    """Plants in order, in groups of at most ``max_rows`` rows (a larger plant is a group of its own)."""
    groups: list[list[str]] = []
    size = 0
    for plant in sorted(rows_per_plant):
        if not groups or size + rows_per_plant[plant] > max_rows:
            groups.append([])
            size = 0
        groups[-1].append(plant)
        size += rows_per_plant[plant]
    return groups


def slice_parts(lake: Lake, spec: TableSpec, filters: Filters | None, max_rows: int) -> Iterator[pa.Table]:
    """The slice to validate, read in parts of whole plants when it has more than ``max_rows`` rows.

    GX's pandas engine holds a frame of every row it checks, so a night of the whole network's
    telemetry is validated in parts. Only tables whose natural key holds ``plant_id`` are split:
    no key spans two parts, so a duplicate key is still found. Others (and a slice with rows of
    no plant) are read whole.
    """
    if "plant_id" in spec.natural_key and lake.count(spec, filters=filters) > max_rows:
        rows_per_plant = lake.value_counts(spec, "plant_id", filters=filters)
        if None not in rows_per_plant:
            for plants in plant_groups(rows_per_plant, max_rows):
                yield lake.read(spec, filters=[*(filters or []), ("plant_id", "in", plants)])
            return
    yield lake.read(spec, filters=filters, missing_ok=True)


def expectations_check(spec: TableSpec, partitions_def: dg.PartitionsDefinition | None = None
                       ) -> dg.AssetChecksDefinition:
    """The check of ``spec``: its suite on the slices the run wrote, blocking if the table says so.

    It validates the run's slices once and records the result for each night of the run
    (:func:`orchestration.metadata.check_results`); when a range fails, each night is validated
    alone so that the nights that failed are the ones marked failed (if none fails alone, every
    night carries the range's failure).
    """
    asset = key(spec)

    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource, scope: NightScope):
        from expectations.runner import validate_parts  # GX loads when a check runs, not with the code location
        from expectations.suites import suite_for

        the_lake, suite = lake.lake(), suite_for(spec)

        def result(filters: list | None) -> dg.AssetCheckResult:
            outcome = validate_parts(spec, slice_parts(the_lake, spec, filters, lake.check_part_rows), suite)
            return dg.AssetCheckResult(asset_key=asset, check_name="expectations", passed=outcome.success,
                                       description=outcome.summary(), metadata=outcome.to_metadata())

        filters = run_filters(spec, context, scope)
        whole = result(filters)
        nights = run_partitions(context)
        by_night = None
        if not whole.passed and filters and len(nights) > 1:
            by_period = {value: result([(spec.partition_by[0], "=", value), *filters[1:]])
                         for value in {period(spec, night) for night in nights}}
            if not all(r.passed for r in by_period.values()):
                by_night = {night: by_period[period(spec, night)] for night in nights}
        yield from check_results(context, whole, by_night)

    with warnings.catch_warnings():  # a partitioned check is a preview in Dagster 1.13: no warning in every log
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.asset_check(
            asset=asset,
            name="expectations",
            blocking=spec.blocking,
            partitions_def=partitions_def,
            description=f"Great Expectations suite {spec.name} on the slices the run wrote",
        )(_check)


def expectation_checks(specs: Iterable[TableSpec], partitions_def: dg.PartitionsDefinition | None = None
                       ) -> list[dg.AssetChecksDefinition]:
    """One check per table, partitioned like the nightly assets (a result per night)."""
    return [expectations_check(spec, partitions_def) for spec in specs]
