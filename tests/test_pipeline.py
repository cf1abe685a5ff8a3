"""The nightly pipeline in Dagster, materialized in process on a tiny simulated network.

One story is told once for the test session (``night_story``, tests/pipeline.py: a real Spark
session, real Delta tables, real checks): four nights with one plant's last drop late; the late
drop arrives and the landing sensor runs for that plant only; then every night is landed again.
The tests read what each step left behind; tests/test_faults.py and tests/test_bench_reference.py
read its lake too.
"""

from __future__ import annotations

import itertools
import json

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakehouse.settings import plantlake_home
from lakehouse.snapshot import differences
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from orchestration.definitions import defs
from orchestration.metadata import key
from sources.silver import EVENT_TABLES
from tests.pipeline import D1, LAST, NIGHTS, Story, check_results, materialized


@pytest.fixture
def story(night_story) -> Story:
    """The session's story, with this process working under its home (``plantlake sql`` reads its lake)."""
    with plantlake_home(night_story.home):
        yield night_story


def test_every_asset_materializes_and_every_check_passes(story):
    """Every nightly asset but scoring and what reads it (no model is champion yet: those skip, and the night
    succeeds)."""
    assert story.first.success
    graph = defs().resolve_asset_graph()
    nightly = defs().resolve_job_def("nightly").asset_layer.selected_asset_keys
    scoring = {key(spec) for spec in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)}
    assert scoring <= nightly
    while downstream := {k for k in nightly - scoring if graph.get(k).parent_keys & scoring}:
        scoring |= downstream  # the outcomes and the monitor read the alerts and the risk
    assert {"gold/alert_outcomes", "gold/model_monitor"} <= {k.to_user_string() for k in scoring}
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
    for day in (D1, LAST):
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
    daily = lake.read("gold.machine_daily", filters=[("date", "=", LAST)])
    assert set(daily.column("plant_id").to_pylist()) == set(story.plants)
    assert lake.count("gold.supplier_scorecard_90d") > 0
    assert lake.count("gold.plant_supply_risk") > 0


def test_a_late_drop_waits_and_its_plant_is_landed_alone(story):
    assert story.late_slice_before == 0  # waited: no manifest, nothing read
    [request] = story.requests
    assert request.partition_key == LAST.isoformat()
    assert request.run_config["resources"]["scope"]["config"]["plants"] == [story.late]
    assert story.late_run.success, [e.message for e in story.late_run.all_events if e.is_failure]
    assert story.lake.count("silver.telemetry", filters=[("date", "=", LAST), ("plant_id", "=", story.late)]) > 0
    assert story.on_time_after == story.on_time_before  # the on-time plant's slice is untouched


def test_rerunning_the_nights_gives_the_same_tables(story):
    assert story.rerun.success
    assert differences(story.contents_after_rerun, story.contents_before_rerun) == []


def test_every_drop_reconciles_and_is_recorded(story):
    drops = story.lake.read("ops.landed_drops").to_pylist()
    assert {d["status"] for d in drops} == {"landed"}
    assert all(d["manifest_rows"] == d["bronze_rows"] + d["quarantined_rows"] for d in drops)
    assert len({d["drop_id"] for d in drops}) == NIGHTS * (len(story.plants) + 1)


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
