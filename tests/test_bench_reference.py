"""The benchmark's references compute what the pipeline computes (their times are only compared if they do).

On the session's tiny lake (``night_story``: four nights landed and processed by the real nightly job,
read only here; the full plan runs on a copy of it): DuckDB's machine-health tables
(``bench/reference.py``) equal Spark's ``gold.machine_sensor_daily`` and ``gold.machine_daily``
for a backfill range and for a single night whose drift baseline comes from the gold history; the benchmark's Spark
timing path collects the same rows; the landing reference reads every manifest row; the telemetry form
measurement's three forms (``bench/telemetry_form.py``) hold the night's sensor values.
The benchmark's stages select only the nightly job's daily-partitioned assets (scoring is
exactly the three scoring assets, never the weekly training ones), and the full plan's code
path (each stage as its assets job, then its checks) runs over that lake. No timing is asserted.
"""

from __future__ import annotations

import shutil

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bench import pipeline, telemetry_form
from bench.landing_reference import landing_reference
from bench.reference import compare, compare_all, duckdb_machine_health, spark_machine_health
from lakehouse import gold_tables as gold
from lakehouse import spark as plantlake_spark
from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home
from orchestration.definitions import defs
from sources.silver import EVENT_TABLES


@pytest.fixture(scope="module")
def processed(night_story):
    """The session's story lake: its home, its simulated network, the lake (read only)."""
    assert night_story.first.success and night_story.rerun.success
    return night_story.home, night_story.config, night_story.lake


def _expected(lake: Lake, start, end):
    return lake.read(gold.MACHINE_DAILY, filters=[("date", ">=", start), ("date", "<=", end)])


def _sensor(table, sensor: str):
    return table.filter(pc.equal(table["sensor"], sensor))


def test_duckdb_machine_health_equals_spark_over_a_backfill_range(processed):
    home, config, lake = processed
    with plantlake_home(home):
        tables, seconds = duckdb_machine_health(lake, config.start, config.end)
        comparisons = compare_all(tables, lake, config.start, config.end)
    assert all(c.equal for c in comparisons.values()), {n: c.mismatches for n, c in comparisons.items()}
    machines = config.plants * config.machines_per_plant * config.days
    assert comparisons[gold.MACHINE_DAILY.name].rows == machines
    assert comparisons[gold.MACHINE_SENSOR_DAILY.name].rows > 4 * machines  # a sensor row per sensor reported
    sensors = tables[gold.MACHINE_SENSOR_DAILY.name]
    assert pc.count(_sensor(sensors, "vibration_mm_s")["drift_7d"]).as_py() > 0, "the drift columns are exercised"
    assert pc.count(tables[gold.MACHINE_DAILY.name]["cycle_time_slowdown"]).as_py() > 0
    assert seconds > 0


def test_duckdb_machine_health_equals_spark_for_one_night_with_gold_history(processed):
    home, config, lake = processed
    with plantlake_home(home):
        tables, _ = duckdb_machine_health(lake, config.end, config.end)
        comparisons = compare_all(tables, lake, config.end, config.end)
    assert all(c.equal for c in comparisons.values()), {n: c.mismatches for n, c in comparisons.items()}
    assert pc.count(_sensor(tables[gold.MACHINE_SENSOR_DAILY.name], "temperature_c")["drift_7d"]).as_py() > 0


def test_the_comparison_catches_a_wrong_value(processed):
    home, config, lake = processed
    with plantlake_home(home):
        tables, _ = duckdb_machine_health(lake, config.end, config.end)
        expected = _expected(lake, config.end, config.end)
    table = tables[gold.MACHINE_DAILY.name]
    index = table.schema.get_field_index("readings")
    wrong = table.set_column(index, "readings", pc.add(table["readings"], 1))
    assert not compare(wrong, expected).equal
    assert compare(table.slice(1), expected).mismatches
    sensors = tables[gold.MACHINE_SENSOR_DAILY.name]
    index = sensors.schema.get_field_index("mean")
    shifted = {gold.MACHINE_SENSOR_DAILY.name: sensors.set_column(index, "mean", pc.add(sensors["mean"], 1e-6))}
    with plantlake_home(home):
        assert not compare_all(shifted, lake, config.end, config.end)[gold.MACHINE_SENSOR_DAILY.name].equal


def test_the_benchmark_spark_path_collects_the_pipeline_rows(processed):
    home, config, lake = processed
    with plantlake_home(home):
        tables, _ = spark_machine_health(plantlake_spark.session(), lake, config.end, config.end)
        comparisons = compare_all(tables, lake, config.end, config.end)
    assert set(comparisons) == {gold.MACHINE_SENSOR_DAILY.name, gold.MACHINE_DAILY.name}
    assert all(c.equal for c in comparisons.values()), {n: c.mismatches for n, c in comparisons.items()}


def test_the_landing_reference_reads_every_manifest_row(processed, tmp_path):
    home, config, _ = processed
    with plantlake_home(home):
        figures = landing_reference(str(home / "landing"), config.dates, tmp_path / "out")
    assert figures["rows"] == figures["manifest_rows"] > 0
    assert figures["files_out"] > 0


def _sensor_values(form: str, table) -> dict:
    """(plant, machine, time, sensor) -> value of a telemetry form's rows, as each form holds them."""
    out = {}
    for row in table.to_pylist():
        where = (row["plant_id"], row["machine_id"], row["ts"])
        if form == "long":
            pairs = [(row["sensor"], row["value"])]
        elif form == "map":
            pairs = row["readings"]
        else:
            pairs = [(c, v) for c, v in row.items() if c not in (*telemetry_form.KEY, "interval_s", "_source_file",
                                                                   "_ingested_at") and v is not None]
        for sensor, value in pairs:
            assert (*where, sensor) not in out, (form, where, sensor)
            out[(*where, sensor)] = value
    return out


def test_the_telemetry_forms_hold_the_nights_values_and_report_their_bytes(processed, tmp_path):
    """bench/telemetry_form.py, the measurement that chose how the lake keeps a reading's sensor values, on a night
    of the tiny lake: each form, written as it writes it and read back, holds exactly the night's sensor values of
    silver; its report gives each form's rows and bytes per sensor value (its times are not asserted)."""
    home, config, lake = processed
    night = lake.read(EVENT_TABLES["telemetry"], filters=[("date", "=", config.end)])
    expected = _sensor_values("map", night)
    assert len(expected) > night.num_rows > 0
    forms = telemetry_form._forms(night)
    assert set(forms) == set(telemetry_form.FORMS)
    for form, table in forms.items():
        size = telemetry_form._write(table, tmp_path / form)
        assert size == sum(f.stat().st_size for f in (tmp_path / form).iterdir()) > 0
        assert _sensor_values(form, pq.read_table(tmp_path / form)) == expected, form
    with plantlake_home(home):
        report = telemetry_form.measure(plantlake_spark.session(), lake, config.end, tmp_path / "work", repeats=1)
    assert (report["readings"], report["values"]) == (night.num_rows, len(expected))
    assert report["sensors"] == len({key[-1] for key in expected})
    assert set(report["forms"]) == set(telemetry_form.FORMS)
    rows = {"wide": night.num_rows, "map": night.num_rows, "long": len(expected)}
    for form, figures in report["forms"].items():
        assert figures["rows"] == rows[form], form
        assert figures["bytes"] > 0 and figures["bytes_per_value"] == figures["bytes"] / len(expected) > 0, form
    assert not (tmp_path / "work").exists()  # it leaves no files behind


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


def test_the_full_plan_runs_each_stage_as_its_assets_then_its_checks(processed, tmp_path):
    """``bench.run full``'s code path: it once failed at the landing checks ("There is no PartitionsDefinition
    shared by all the provided assets"). Scoring skips here (no champion) and still succeeds."""
    home, config, _ = processed
    copy = tmp_path / "home"
    shutil.copytree(home, copy)  # the stages write: a copy of the session's lake
    with plantlake_home(copy):
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
