"""A gold table is one declaration: its asset, dependencies and check follow from its spec.

The worked example of docs/pipeline.md ("Adding a gold table") is built here as written there,
a transform and a spec, and materialized with Spark on a lake holding its input.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse import catalog
from lakehouse.catalog import DATE, FLOAT64, INT64, PLANT, STRING, TableSpec, col, derived
from lakehouse.delta import Lake
from lakehouse.gold_tables import OEE_DAILY
from lakehouse.settings import get_settings
from orchestration.assets.gold import derived_asset
from orchestration.checks import expectations_check
from orchestration.definitions import build_definitions
from orchestration.resources import NightScope, SparkResource, resources
from transforms.ratios import ratio

NIGHT = dt.date(2026, 1, 5)


def scrap_by_plant(oee_line: DataFrame) -> DataFrame:
    """Per (date, plant_id): units made, scrapped, and the scrap rate (the docs' example transform)."""
    sums = oee_line.groupBy("date", "plant_id").agg(
        F.sum("total_count").alias("total_count"), F.sum("good_count").alias("good_count"))
    scrap = F.col("total_count") - F.col("good_count")
    return sums.select("date", "plant_id", "total_count", scrap.alias("scrap_count"),
                       ratio(scrap, F.col("total_count")).alias("scrap_rate"))


PLANT_SCRAP = TableSpec(
    name="gold.plant_scrap",
    description="Scrap per plant and day: units made that were not good.",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("total_count", INT64, "Units made", nullable=False, min=0),
        col("scrap_count", INT64, "Units not good", nullable=False, min=0),
        col("scrap_rate", FLOAT64, "scrap_count / total_count", min=0, max=1),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id"),
    at_most=(("scrap_count", "total_count"),),
    scope=PLANT,
    derived=derived("tests.test_gold_declarations:scrap_by_plant", oee_line="gold.oee_daily"),
)


def test_every_derived_gold_table_is_an_asset_whose_deps_are_its_declared_inputs():
    defs = build_definitions(get_settings())
    graph = defs.resolve_asset_graph()
    derived_specs = [s for s in catalog.tables("gold") if s.derived]
    assert len(derived_specs) >= 8
    for spec in derived_specs:
        node = graph.get(dg.AssetKey([spec.layer, spec.table]))
        declared = {dg.AssetKey(name.split(".")) for name in spec.derived.reads if name != spec.name}
        assert set(node.parent_keys) == declared, spec.name
        assert node.partitions_def == defs.resolve_job_def("nightly").partitions_def
        check = graph.get_check_spec(dg.AssetCheckKey(node.key, "expectations"))
        assert check.blocking == spec.blocking, spec.name
    blocking = {s.name for s in derived_specs if s.blocking}
    # the models read them
    assert blocking == {"gold.machine_sensor_daily", "gold.machine_daily", "gold.machine_component_daily"}


def test_a_run_for_training_builds_what_training_reads_and_nothing_else():
    """``runs.upstream_of(TRAINING_INPUTS)``: the nightly job's assets those tables are built from, the landing
    step whole (it cannot land one feed alone), and none of the tables training does not read."""
    from ml.train import TRAINING_INPUTS
    from orchestration.runs import upstream_of

    keys = {k.to_user_string() for k in upstream_of(TRAINING_INPUTS)}
    nightly = build_definitions(get_settings()).resolve_job_def("nightly").asset_layer.asset_graph
    landing = {k.to_user_string() for k in nightly.get(dg.AssetKey(["bronze", "telemetry"])).execution_set_asset_keys}
    assert {name.replace(".", "/") for name in TRAINING_INPUTS} <= keys
    assert landing <= keys and "ops/landed_drops" in landing
    assert {"silver/telemetry", "gold/failure_risk", "gold/maintenance_alerts"} <= keys  # outcomes' own inputs
    assert not keys & {"gold/oee_daily", "gold/supplier_scorecard", "gold/plant_supply_risk", "gold/savings_forecast",
                       "silver/shipments", "models/failure_model"}


def test_the_docs_example_table_materializes_from_its_declaration_alone(spark, tmp_path):
    """docs/pipeline.md, "Adding a gold table": the transform and the spec above, nothing else."""
    lake = Lake(str(tmp_path / "lake"), get_settings())
    oee = [
        {"date": NIGHT, "plant_id": "DE01", "line_id": "DE01-L1", "ideal_cycle_time_s": 60.0,
         "planned_minutes": 480.0, "run_minutes": 400.0, "total_count": 300, "good_count": 270,
         "availability": None, "performance": None, "quality": None, "oee": None},
        {"date": NIGHT, "plant_id": "DE01", "line_id": "DE01-L2", "ideal_cycle_time_s": 60.0,
         "planned_minutes": 480.0, "run_minutes": 400.0, "total_count": 100, "good_count": 100,
         "availability": None, "performance": None, "quality": None, "oee": None},
        {"date": NIGHT, "plant_id": "FR02", "line_id": "FR02-L1", "ideal_cycle_time_s": 60.0,
         "planned_minutes": 480.0, "run_minutes": 0.0, "total_count": 0, "good_count": 0,
         "availability": None, "performance": None, "quality": None, "oee": None},
    ]
    lake.append(OEE_DAILY, pa.Table.from_pylist(oee, schema=OEE_DAILY.schema))
    daily = dg.DailyPartitionsDefinition(start_date="2026-01-01")
    asset = derived_asset(PLANT_SCRAP, daily)
    assert set(asset.asset_deps[asset.key]) == {dg.AssetKey(["gold", "oee_daily"])}
    settings = get_settings().replace(lake_uri=lake.root)
    lake_resource = resources(settings)["lake"]
    result = dg.materialize(
        [asset, expectations_check(PLANT_SCRAP)],
        partition_key=NIGHT.isoformat(),
        resources={"lake": lake_resource, "spark": SparkResource(master=settings.spark_master),
                   "scope": NightScope()},
        selection=[asset.key],
        raise_on_error=True,
    )
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed
    rows = {r["plant_id"]: r for r in lake.read(PLANT_SCRAP).to_pylist()}
    assert (rows["DE01"]["total_count"], rows["DE01"]["scrap_count"]) == (400, 30)
    assert rows["DE01"]["scrap_rate"] == 30 / 400
    assert rows["FR02"]["scrap_rate"] is None  # nothing made: no rate, not 0
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["dagster/row_count"].value == 2


def test_a_run_replaces_its_nights_their_months_or_the_days_an_outcome_reaches_back():
    nights = [NIGHT, NIGHT + dt.timedelta(days=1)]
    assert OEE_DAILY.periods(nights) == nights
    monthly = catalog.get("gold.plant_productivity")
    assert monthly.periods([dt.date(2026, 1, 31), dt.date(2026, 2, 1)]) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    outcome = TableSpec(name="gold.test_outcome", description="d", columns=PLANT_SCRAP.columns,
                        natural_key=("date", "plant_id"),
                        derived=derived("x:y", reach_back_days=3, oee="gold.oee_daily"))
    assert outcome.periods(nights) == [NIGHT - dt.timedelta(days=d) for d in (3, 2, 1, 0)] + [nights[1]]
