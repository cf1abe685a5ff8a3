"""Silver assets: bronze conformed and deduplicated by Spark, and the dimension tables.

Each asset only reads (the run's nights of its bronze table), calls a pure transform and
writes; plant feeds replace only the plants in scope.
"""

from collections.abc import Callable

import dagster as dg

from lakehouse import bridge
from lakehouse.catalog import TableSpec
from orchestration import partitions
from orchestration.metadata import asset_spec, materialized, skipped
from orchestration.resources import LakeResource, NightScope, SparkResource
from orchestration.spark_io import read, replace
from sources.contracts import contract
from sources.silver import DIMENSION_TABLES, EVENT_TABLES
from transforms.silver import conform_events, latest_snapshot

#: Feeds large enough for the executors to write Parquet in parallel (the rest go through Arrow).
LARGE_FEEDS = {"telemetry"}


def silver_asset(spec: TableSpec, feed: str, build: Callable[..., dg.MaterializeResult],
                 partitions_def: dg.PartitionsDefinition):
    """A silver asset over the bronze table of ``feed``, for the run's nights and plants in scope.

    ``build(context, lake, rows, dates, plants)`` turns the bronze rows (a Spark frame) into ``spec``.
    """
    bronze = contract(feed).bronze

    @dg.multi_asset(
        name=f"silver_{spec.table}",
        specs=[asset_spec(spec, {"spark"}, deps=[bronze])],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
        dates = partitions.dates(context)
        plants = scope.plants_of_feed(feed)
        if plants == []:
            return skipped(spec)
        the_lake = lake.lake()
        rows = read(spark.session(), the_lake, bronze, min(dates), max(dates), plants)
        return build(context, the_lake, rows, dates, plants)

    return _asset


def event_asset(feed: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    spec = EVENT_TABLES[feed]

    def build(context, the_lake, rows, dates, plants):
        if feed in LARGE_FEEDS:  # each file holds whole plants, in key order: readers of a plant skip the rest
            rows = rows.repartition("plant_id")  # the window's own shuffle, by plant: no extra one
        conformed = conform_events(rows, list(spec.natural_key))
        via = "parquet" if feed in LARGE_FEEDS else "arrow"
        return replace(conformed, the_lake, spec, dates, plants, run_id=context.run_id, via=via)

    return silver_asset(spec, feed, build, partitions_def)


def dimension_asset(feed: str, partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    spec = DIMENSION_TABLES[feed]

    def build(context, the_lake, rows, dates, plants):
        snapshot = latest_snapshot(rows, list(spec.natural_key))  # a registry's key includes its plant
        # Type 1 dimension: a re-run of an old night never overwrites newer attributes.
        version = the_lake.merge(
            spec,
            bridge.ordered(snapshot, spec.column_names).toArrow(),
            newer="as_of",
            keep_earliest=["first_seen"],
            run_id=context.run_id,
        )
        return materialized(the_lake, spec, version)

    return silver_asset(spec, feed, build, partitions_def)


def silver_assets(partitions_def: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    """Every dimension and event table of silver."""
    return [dimension_asset(feed, partitions_def) for feed in DIMENSION_TABLES] + [
        event_asset(feed, partitions_def) for feed in EVENT_TABLES
    ]
