"""Silver assets: bronze conformed and deduplicated by Spark, and the dimension tables.

Each asset only reads (the run's nights of its bronze table), calls a pure transform and
writes; plant feeds replace only the plants in scope.
"""

import dagster as dg

from orchestration import partitions
from orchestration.metadata import asset_spec, written
from orchestration.resources import LakeResource, NightScope, SparkResource
from orchestration.spark_io import read, slices_for, write
from sources.contracts import CONTRACTS, PLANT, contract
from sources.silver import DIMENSION_TABLES, EVENT_TABLES
from transforms.silver import conform_events, latest_snapshot

#: Feeds large enough for the executors to write Parquet in parallel (the rest go through Arrow).
LARGE_FEEDS = {"telemetry"}


def event_asset(feed: str) -> dg.AssetsDefinition:
    spec, bronze, c = EVENT_TABLES[feed], contract(feed).bronze, CONTRACTS[feed]

    @dg.multi_asset(
        name=f"silver_{feed}",
        specs=[asset_spec(spec, {"spark"}, deps=[bronze])],
        partitions_def=partitions.daily,
        backfill_policy=partitions.single_run,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
        dates = partitions.dates(context)
        plants = scope.plant_ids if c.scope == PLANT else None
        the_lake = lake.lake()
        if plants == []:
            return dg.MaterializeResult(metadata={"skipped": "no plant in the run's scope"})
        rows = read(spark.session(), the_lake, bronze, min(dates), max(dates), plants)
        if feed in LARGE_FEEDS:  # each file holds whole plants, in key order: readers of a plant skip the rest
            rows = rows.repartition("plant_id")  # the window's own shuffle, by plant: no extra one
        conformed = conform_events(rows, list(spec.natural_key))
        slices = slices_for(spec, dates, plants)
        version = write(
            conformed, the_lake, spec, slices, run_id=context.run_id, via="parquet" if feed in LARGE_FEEDS else "arrow"
        )
        return dg.MaterializeResult(metadata=written(the_lake, spec, version, slices))

    return _asset


def dimension_asset(feed: str) -> dg.AssetsDefinition:
    spec, bronze, c = DIMENSION_TABLES[feed], contract(feed).bronze, CONTRACTS[feed]

    @dg.multi_asset(
        name=f"silver_{spec.table}",
        specs=[asset_spec(spec, {"spark"}, deps=[bronze])],
        partitions_def=partitions.daily,
        backfill_policy=partitions.single_run,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
        dates = partitions.dates(context)
        plants = scope.plant_ids if c.scope == PLANT else None
        the_lake = lake.lake()
        if plants == []:
            return dg.MaterializeResult(metadata={"skipped": "no plant in the run's scope"})
        snapshot = latest_snapshot(
            read(spark.session(), the_lake, bronze, min(dates), max(dates), plants), list(c.natural_key)
        )
        # Type 1 dimension: a re-run of an old night never overwrites newer attributes.
        version = the_lake.merge(
            spec,
            snapshot.select(*spec.column_names).toArrow(),
            newer="as_of",
            keep_earliest=["first_seen"],
            run_id=context.run_id,
        )
        return dg.MaterializeResult(metadata=written(the_lake, spec, version))

    return _asset


SILVER_ASSETS = [dimension_asset(feed) for feed in DIMENSION_TABLES] + [event_asset(feed) for feed in EVENT_TABLES]
