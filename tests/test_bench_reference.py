"""The benchmark's references compute what the pipeline computes (their times are only compared if they do).

On a tiny network landed and processed by the real nightly job: DuckDB's machine_daily
(``bench/reference.py``) equals Spark's ``gold.machine_daily`` for a backfill range and for
a single night whose drift baseline comes from the gold history; the benchmark's Spark
timing path collects the same rows; the landing reference reads every manifest row.
The benchmark's stages select only the nightly job's daily-partitioned assets (scoring is
exactly the three scoring assets, never the weekly training ones), and the full plan's code
path (each stage as its assets job, then its checks) runs over that lake. No timing is asserted.
"""

from __future__ import annotations

import dagster as dg
import pyarrow.compute as pc
import pytest

from bench import pipeline
from bench.landing_reference import landing_reference
from bench.reference import compare, duckdb_machine_daily, spark_machine_daily
from lakehouse import gold_tables as gold
from lakehouse import spark as plantlake_spark
from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home
from orchestration.definitions import defs
from orchestration.runs import failures
from tests.pipeline import run, tiny_network

DAYS = 5


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    home = tmp_path_factory.mktemp("bench-reference")
    with plantlake_home(home):
        config = tiny_network(home / "landing", days=DAYS)
        instance = dg.DagsterInstance.ephemeral()
        result = run(config.start, config.end, instance=instance)
        assert result.success, failures(result)
        yield home, config, Lake()


def _expected(lake: Lake, start, end):
    return lake.read(gold.MACHINE_DAILY, filters=[("date", ">=", start), ("date", "<=", end)])


def test_duckdb_machine_daily_equals_spark_over_a_backfill_range(processed):
    home, config, lake = processed
    with plantlake_home(home):
        table, seconds = duckdb_machine_daily(lake, config.start, config.end)
        expected = _expected(lake, config.start, config.end)
    comparison = compare(table, expected)
    assert comparison.equal, comparison.mismatches
    assert comparison.rows == expected.num_rows == 2 * 4 * DAYS
    assert pc.count(table["vibration_mm_s_drift_7d"]).as_py() > 0, "the drift columns are exercised"
    assert seconds > 0


def test_duckdb_machine_daily_equals_spark_for_one_night_with_gold_history(processed):
    home, config, lake = processed
    with plantlake_home(home):
        table, _ = duckdb_machine_daily(lake, config.end, config.end)
        expected = _expected(lake, config.end, config.end)
    comparison = compare(table, expected)
    assert comparison.equal, comparison.mismatches
    assert pc.count(table["temperature_c_drift_7d"]).as_py() > 0


def test_the_comparison_catches_a_wrong_value(processed):
    home, config, lake = processed
    with plantlake_home(home):
        table, _ = duckdb_machine_daily(lake, config.end, config.end)
        expected = _expected(lake, config.end, config.end)
    index = table.schema.get_field_index("readings")
    wrong = table.set_column(index, "readings", pc.add(table["readings"], 1))
    assert not compare(wrong, expected).equal
    assert compare(table.slice(1), expected).mismatches


def test_the_benchmark_spark_path_collects_the_pipeline_rows(processed):
    home, config, lake = processed
    with plantlake_home(home):
        table, _ = spark_machine_daily(plantlake_spark.session(), lake, config.end, config.end)
        expected = _expected(lake, config.end, config.end)
    comparison = compare(table, expected)
    assert comparison.equal, comparison.mismatches


def test_the_landing_reference_reads_every_manifest_row(processed, tmp_path):
    home, config, _ = processed
    with plantlake_home(home):
        figures = landing_reference(str(home / "landing"), config.dates, tmp_path / "out")
    assert figures["rows"] == figures["manifest_rows"] > 0
    assert figures["files_out"] > 0


def test_every_stage_selects_only_daily_partitioned_assets_of_the_nightly_job():
    graph = defs().resolve_asset_graph()
    nightly = set(defs().resolve_job_def("nightly").asset_layer.executable_asset_keys)
    daily = defs().resolve_job_def("nightly").partitions_def
    stages = pipeline.stage_keys()
    staged = [key for keys in stages.values() for key in keys]
    assert len(staged) == len(set(staged)), "an asset in two stages"
    for stage, keys in stages.items():
        assert keys, f"stage {stage} is empty"
        for key in keys:
            assert key in nightly and graph.get(key).partitions_def == daily, key
        assert pipeline.assets_job(stage).partitions_def == daily
    assert set(stages["scoring"]) == set(pipeline.SCORING_KEYS) == {
        dg.AssetKey(["gold", name]) for name in ("failure_risk", "maintenance_alerts", "savings_forecast")}
    never = {key for key in graph.materializable_asset_keys | graph.external_asset_keys
             if graph.get(key).group_name in ("landing", "models", "maintenance")}
    assert dg.AssetKey(["landing", "drops"]) in never and dg.AssetKey(["models", "failure_model"]) in never
    assert dg.AssetKey(["gold", "failure_training_set"]) in never
    assert not never & set(staged)
    assert pipeline.unstaged_nightly_assets() == []


def test_the_full_plan_runs_each_stage_as_its_assets_then_its_checks(processed):
    """``bench.run full``'s code path: it once failed at the landing checks ("There is no PartitionsDefinition
    shared by all the provided assets"). Scoring skips here (no champion) and still succeeds."""
    home, config, _ = processed
    with plantlake_home(home):
        instance = dg.DagsterInstance.ephemeral()
        for stage in pipeline.STAGES:
            for part in ("assets", "checks"):
                timing = pipeline.run_stage(stage, config.end, instance, part=part)
                assert timing.success, (stage, part, timing.failures)
                assert timing.steps, (stage, part)
                assert {step.stage for step in timing.steps} == {stage}, (stage, part)


def test_a_stage_whose_checks_were_stopped_counts_its_asset_steps_once():
    """The stopped worker's Dagster log also lists the steps of the assets run before it (a full run once
    reported the landing op at twice its time, and a Spark / DuckDB-style ratio with it)."""
    from bench.run import _step_seconds, combine

    step = {"key": "landing", "stage": "landing", "check": False, "start": 10.0, "end": 305.0, "peak_rss": 3}
    records = {"landing assets": {"id": "landing assets", "status": "ok", "seconds": 300.0, "run_seconds": 296.0,
                                  "peak_rss": 3, "run": {"steps": [step]}, "bronze_rows": 7}}
    killed = [{"id": "landing checks", "reason": "memory", "seconds": 21.0, "peak_rss": 16,
               "finished_steps": [["landing", 295.0], ["bronze__telemetry_expectations", 12.0]]}]
    combine(records, killed)
    landing = records["landing"]
    assert landing["status"] == "killed"
    assert _step_seconds(landing, lambda s: s["key"] == "landing") == 295.0
    assert _step_seconds(landing, lambda s: s["check"]) == 12.0
    assert landing["run_seconds"] == 296.0 + 21.0 and landing["peak_rss"] == 16
