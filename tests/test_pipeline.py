"""The nightly pipeline in Dagster, materialized in process on a tiny simulated network.

One story runs once for the module (a real Spark session, real Delta tables, real checks):
three nights with one plant's last drop late; the late drop arrives and the landing
sensor runs for that plant only; then every night is landed again. The tests read what
each step left behind.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home, restored_environment
from lakehouse.snapshot import contents, differences
from lakehouse.spark import session
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from orchestration.definitions import defs
from orchestration.metadata import key
from orchestration.sensors import landing_requests
from sources.silver import EVENT_TABLES
from tests.pipeline import START, check_results, file_digest, materialized, run, tiny_network

D1, D3 = START, START + dt.timedelta(days=2)
AT_SCALE = {"spark.sql.adaptive.coalescePartitions.enabled": "false", "spark.sql.files.maxPartitionBytes": "16384",
            "spark.sql.files.openCostInBytes": "16384"}


@dataclass
class Story:
    lake: Lake
    plants: list[str]
    late: str
    first: dg.ExecuteInProcessResult
    requests: list[dg.RunRequest]
    late_run: dg.ExecuteInProcessResult
    late_slice_before: int
    on_time_before: dict
    on_time_after: dict
    contents_before_rerun: dict
    rerun: dg.ExecuteInProcessResult
    contents_after_rerun: dict
    cached_after_first: bool


def on_time_slices(lake: Lake, plant: str) -> dict:
    """The on-time plant's night-3 rows and the files of the landing step's Arrow writes."""
    rows = {spec.name: sorted(map(repr, lake.read(spec, filters=[("date", "=", D3), ("plant_id", "=", plant)],
                                                  columns=[c for c in spec.column_names if not c.startswith("_")])
                                  .to_pylist()))
            for spec in (EVENT_TABLES["telemetry"], EVENT_TABLES["production"])}
    files = file_digest(lake, "bronze.telemetry", [("date", "=", D3), ("plant_id", "=", plant)])
    return {"rows": rows, "bronze_files": files}


@contextmanager
def at_scale(spark):
    """Runs in the block read files in many splits and keep their shuffles' partitions, so that a tiny
    night is written in several files, as at scale (PLANTLAKE_SPARK_CONF); the session is put back after."""
    before = {name: spark.conf.get(name) for name in AT_SCALE}
    with restored_environment(["PLANTLAKE_SPARK_CONF"]):
        os.environ["PLANTLAKE_SPARK_CONF"] = ";".join(f"{k}={v}" for k, v in AT_SCALE.items())
        try:
            yield
        finally:
            for name, value in before.items():
                spark.conf.set(name, value)


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Story:
    home = tmp_path_factory.mktemp("pipeline")
    with plantlake_home(home):
        instance = dg.DagsterInstance.ephemeral()
        tiny_network(home / "landing")
        plants = sorted(p.name.split("=", 1)[1] for p in (home / "landing").glob("plant=*"))
        on_time, late = plants
        manifest = home / "landing" / f"plant={late}" / f"date={D3}" / "_manifest.json"
        held_back = manifest.read_bytes()
        manifest.unlink()  # the late plant's last drop is still being written: it must wait

        spark = session()
        spark.catalog.clearCache()
        with at_scale(spark):
            first = run(D1, D3, instance=instance)
            cached_after_first = not spark._jsparkSession.sharedState().cacheManager().isEmpty()
            lake = Lake()
            late_slice_before = lake.count("silver.telemetry", filters=[("date", "=", D3), ("plant_id", "=", late)])
            on_time_before = on_time_slices(lake, on_time)

            manifest.write_bytes(held_back)  # the drop is complete now
            requests = landing_requests(lake, str(home / "landing"), D3 + dt.timedelta(days=1), 7,
                                        defs().resolve_job_def("nightly").partitions_def)
            plants_requested = requests[0].run_config["resources"]["scope"]["config"]["plants"]
            late_run = run(D3, plants=plants_requested, instance=instance)
            on_time_after = on_time_slices(lake, on_time)

            before_rerun = contents(lake)
            rerun = run(D1, D3, reland=True, instance=instance)
        yield Story(lake, plants, late, first, requests, late_run, late_slice_before, on_time_before, on_time_after,
                    before_rerun, rerun, contents(lake), cached_after_first)


def test_every_asset_materializes_and_every_check_passes(story):
    """Every nightly asset but scoring (no model is champion yet: those skip, and the night succeeds)."""
    assert story.first.success
    graph = defs().resolve_asset_graph()
    nightly = defs().resolve_job_def("nightly").asset_layer.selected_asset_keys
    scoring = {key(spec) for spec in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)}
    assert scoring <= nightly
    assert materialized(story.first) == {k.to_user_string() for k in nightly - scoring}
    assert graph.get(dg.AssetKey(["bronze", "telemetry"])).parent_keys == {dg.AssetKey(["landing", "drops"])}
    checks = check_results(story.first)
    expected = {c for c in graph.asset_check_keys if c.asset_key in nightly - scoring}
    assert set(checks) == {f"{c.asset_key.to_user_string()}:{c.name}" for c in expected}
    assert all(checks.values()), [name for name, ok in checks.items() if not ok]


def test_a_night_leaves_nothing_cached_in_the_spark_session(story):
    """Each Spark asset unpersists what it cached: a process running night after night does not fill up."""
    assert not story.cached_after_first


def test_silver_telemetry_files_hold_whole_plants_in_key_order(story):
    """The layout readers rely on: a plant's rows of a night are in one file (reading a plant skips the
    others' files), together, and in machine and time order (row groups prune on machine and time)."""
    spec = EVENT_TABLES["telemetry"]
    for day in (D1, D3):
        files = story.lake.delta_table(spec).file_uris(file_pruning_predicate=[("date", "=", day)])
        plants_per_file = []
        for uri in files:
            rows = pq.read_table(uri.removeprefix("file://"), columns=["plant_id", "machine_id", "ts"])
            plant = rows.column("plant_id").to_pylist()
            plants = set(plant)
            runs = sum(1 for _ in itertools.groupby(plant))
            assert runs == len(plants), f"{uri}: a plant's rows are not together"
            for p in plants:
                own = rows.filter(pc.equal(rows.column("plant_id"), p))
                order = pc.sort_indices(own, [("machine_id", "ascending"), ("ts", "ascending")])
                assert order.equals(pa.array(range(own.num_rows), pa.uint64())), f"{uri}: {p} out of order"
            plants_per_file.append(plants)
        assert sum(map(len, plants_per_file)) == len(set().union(*plants_per_file)) == len(story.plants)


def test_the_gold_tables_hold_every_plant_and_night(story):
    lake = story.lake
    oee = lake.read("gold.oee_plant_daily")
    assert {(r["plant_id"], r["date"]) for r in oee.to_pylist()} >= {(p, D1) for p in story.plants}
    daily = lake.read("gold.machine_daily", filters=[("date", "=", D3)])
    assert set(daily.column("plant_id").to_pylist()) == set(story.plants)
    assert lake.count("gold.supplier_scorecard_90d") > 0
    assert lake.count("gold.plant_supply_risk") > 0


def test_a_late_drop_waits_and_its_plant_is_landed_alone(story):
    assert story.late_slice_before == 0  # waited: no manifest, nothing read
    [request] = story.requests
    assert request.partition_key == D3.isoformat()
    assert request.run_config["resources"]["scope"]["config"]["plants"] == [story.late]
    assert story.late_run.success, [e.message for e in story.late_run.all_events if e.is_failure]
    assert story.lake.count("silver.telemetry", filters=[("date", "=", D3), ("plant_id", "=", story.late)]) > 0
    assert story.on_time_after == story.on_time_before  # the on-time plant's slice is untouched


def test_rerunning_the_nights_gives_the_same_tables(story):
    assert story.rerun.success
    assert differences(story.contents_after_rerun, story.contents_before_rerun) == []


def test_every_drop_reconciles_and_is_recorded(story):
    drops = story.lake.read("ops.landed_drops").to_pylist()
    assert {d["status"] for d in drops} == {"landed"}
    assert all(d["manifest_rows"] == d["bronze_rows"] + d["quarantined_rows"] for d in drops)
    assert len({d["drop_id"] for d in drops}) == 3 * (len(story.plants) + 1)


def test_sql_answers_on_every_gold_table(story):
    from typer.testing import CliRunner

    from lakehouse.gold_tables import GOLD_TABLES
    from orchestration.cli import app

    runner = CliRunner()
    for spec in GOLD_TABLES:  # the models' gold tables are queried in tests/test_ml_dagster.py
        result = runner.invoke(app, ["sql", f"SELECT count(*) AS n FROM {spec.name}", "--format", "json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)[0]["n"] == story.lake.count(spec)
    csv = runner.invoke(app, ["sql", "SELECT plant_id, oee FROM gold.oee_plant_daily ORDER BY 1, 2", "--format", "csv"])
    assert csv.output.splitlines()[0] == '"plant_id","oee"'
    table = runner.invoke(app, ["sql", "SELECT * FROM silver.dim_plant"])
    assert table.exit_code == 0 and story.plants[0] in table.output
    bad = runner.invoke(app, ["sql", "SELECT * FROM gold.nope"])
    assert bad.exit_code == 1 and "Table with name nope does not exist" in bad.output
