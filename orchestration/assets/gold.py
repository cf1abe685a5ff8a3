"""Gold assets: one per table the catalog declares as derived, generated from the declaration.

A declaration (``lakehouse.gold_tables``) names the table's transform and the rows of each
input it reads; the asset reads those rows for the run's nights (plus the history windows the
inputs ask for), calls the pure transform, and replaces the table's slices. A plant-scoped table
replaces only the plants in the run's scope; a network table (the suppliers' drop is one per
night) is recomputed for the whole night. Dependencies are the declared inputs, so the lineage
in the UI is the one the code reads.
"""


import dagster as dg

from lakehouse import catalog
from lakehouse.catalog import TableSpec
from orchestration import partitions
from orchestration.metadata import asset_spec, skipped
from orchestration.resources import LakeResource, NightScope, SparkResource
from orchestration.spark_io import derive, replace


def derived_asset(
    spec: TableSpec, partitions_def: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy | None = None
) -> dg.AssetsDefinition:
    """The asset of a derived table: reads its declared inputs, computes it with Spark, replaces its slices."""
    reads = [dg.AssetKey([*name.split(".")]) for name in spec.derived.reads if name != spec.name]

    @dg.multi_asset(
        name=f"{spec.layer}_{spec.table}",
        specs=[asset_spec(spec, {"spark"}, deps=reads, freshness=freshness)],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource, spark: SparkResource, scope: NightScope):
        plants = scope.plants_of(spec)
        if plants == []:
            return skipped(spec)
        nights = partitions.dates(context)
        values = spec.periods(nights)
        the_lake = lake.lake()
        frame = derive(spark.session(), the_lake, spec, values, plants)
        return replace(frame, the_lake, spec, values, plants, run_id=context.run_id, via=spec.derived.write_via)

    return _asset


def gold_assets(
    partitions_def: dg.PartitionsDefinition, freshness: dg.FreshnessPolicy | None = None
) -> list[dg.AssetsDefinition]:
    """Every gold table the catalog declares as derived."""
    return [derived_asset(spec, partitions_def, freshness) for spec in catalog.tables("gold") if spec.derived]

