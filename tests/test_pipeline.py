"""The nightly pipeline in Dagster, materialized in process on a tiny simulated network.

One story is told once for the test session (``night_story``, tests/pipeline.py: a real Spark
session, real Delta tables, real checks): four nights with one plant's last drop late; the late
drop arrives and the landing sensor runs for that plant only; then every night is landed again.
The tests read what each step left behind; tests/test_faults.py and tests/test_bench_reference.py
read its lake too.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakehouse.settings import plantlake_home
from lakehouse.snapshot import differences
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from orchestration.definitions import defs
from orchestration.metadata import key
from orchestration.runs import NIGHTS_TAG
from sources.silver import EVENT_TABLES
from sources.simulator import sensors as simulated
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


#: Nightly gold tables whose materializations the range runs' history is read for, night by night.
GOLD_BY_NIGHT = ("gold.oee_daily", "gold.machine_daily")


def story_nights() -> list[str]:
    return [(D1 + dt.timedelta(days=i)).isoformat() for i in range(NIGHTS)]


def preview_column(markdown: str, column: str) -> list[str]:
    """The values of ``column`` in a materialization's preview (a markdown table; ``\\|`` is a pipe in a cell)."""
    header, _, *rows = markdown.splitlines()
    cells = [[c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))] for line in (header, *rows)]
    at = cells[0].index(column)
    return [row[at] for row in cells[1:]]


def test_a_range_run_records_each_night_s_own_row_count_and_preview(story):
    """The re-run of the four nights is one run; the history the UI reads holds, for each night, the rows the
    table holds for that night and a preview of that night alone (a backfill recorded the range's total for
    every night, and previews of other dates)."""
    nights = story_nights()
    for name in GOLD_BY_NIGHT:
        records = story.instance.fetch_materializations(dg.AssetKey(name.split(".")), limit=1000).records
        by_night = {r.partition_key: r.asset_materialization for r in records if r.run_id == story.rerun.run_id}
        assert sorted(by_night) == nights, name
        counts = {night: story.lake.count(name, filters=[("date", "=", dt.date.fromisoformat(night))])
                  for night in nights}
        assert all(counts.values()) and sum(counts.values()) == story.lake.count(name), (name, counts)
        for night, materialization in by_night.items():
            assert materialization.metadata["dagster/row_count"].value == counts[night], (name, night)
            shown = preview_column(materialization.metadata["preview"].value, "date")
            assert shown and set(shown) == {night}, (name, night, shown)


def test_a_range_run_shows_its_nights_in_the_run_list(story):
    """``run_nights`` (``plantlake run --date .. --to ..``) tags a range run with its nights, which the UI's run
    list shows (it hides Dagster's own range tags); a one-night run shows its partition instead."""
    for result in (story.first, story.rerun):
        tags = story.instance.get_run_by_id(result.run_id).tags
        assert tags[NIGHTS_TAG] == f"{D1}..{LAST}"
        assert tags["dagster/asset_partition_range_start"] == D1.isoformat()
        assert tags["dagster/asset_partition_range_end"] == LAST.isoformat()
    one_night = story.instance.get_run_by_id(story.late_run.run_id).tags
    assert one_night["dagster/partition"] == LAST.isoformat() and NIGHTS_TAG not in one_night


def test_a_range_run_records_each_check_s_result_for_each_night(story):
    """Every check the re-run evaluated has one passed result per night in the instance's check history, and
    no planned row left without one (which the UI lists as Skipped)."""
    nights = story_nights()
    evaluated = {dg.AssetCheckKey(e.event_specific_data.asset_key, e.event_specific_data.check_name)
                 for e in story.rerun.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert dg.AssetCheckKey(dg.AssetKey(["gold", "oee_daily"]), "expectations") in evaluated
    for check in evaluated:
        history = story.instance.event_log_storage.get_asset_check_execution_history(check, limit=1000)
        this_run = [h for h in history if h.run_id == story.rerun.run_id]
        assert sorted(h.partition for h in this_run) == nights, check
        assert {h.status.value for h in this_run} == {"SUCCEEDED"}, check


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


def _raw(folder, feed: str) -> pd.DataFrame:
    """A feed's file of a drop in the simulator's own format, read as the plant sent it (pandas, no plantlake)."""
    return pd.read_csv(folder / f"{feed}.csv")


def _gold_rows(lake, table: str, plant: str, day, key: tuple[str, ...]) -> dict:
    rows = lake.read(table, filters=[("date", "=", day), ("plant_id", "=", plant)]).to_pylist()
    return {tuple(r[k] for k in key): r for r in rows}


def test_the_gold_kpis_equal_those_computed_from_the_raw_drops(story):
    """The simulator's network keeps its KPIs through the sensor registry: for each night of the plant that sends
    the simulator's own format (a column per sensor, UTC times, plant-local days), gold's daily sensor statistics
    per machine and sensor, each machine's day (readings, covered minutes, events, cycle-time slowdown) and each
    line's OEE equal what pandas computes from the landed files themselves."""
    landing = story.home / "landing"
    plants = [p for p in story.plants
              if json.loads((landing / f"plant={p}" / f"date={D1}" / "_manifest.json").read_text())["format"]
              == "plantlake"]
    assert plants, "no plant of the story sends the simulator's own format"
    lake = story.lake
    for plant, night in itertools.product(plants, range(NIGHTS)):
        day = D1 + dt.timedelta(days=night)
        folder = landing / f"plant={plant}" / f"date={day}"
        drop = [d for d in lake.read("ops.landed_drops").to_pylist() if d["drop_id"] == f"plant={plant}/date={day}"]
        assert drop and all(d["quarantined_rows"] == 0 for d in drop), "every raw row must reach silver"
        telemetry = _raw(folder, "telemetry")
        sensors = [c for c in telemetry.columns if c not in ("machine_id", "ts", "interval_s")]
        assert sorted(sensors) == sorted(simulated.SENSORS)

        values = telemetry.melt(id_vars="machine_id", value_vars=sensors, var_name="sensor").dropna()
        expected = values.groupby(["machine_id", "sensor"])["value"].agg(["count", "mean", "std", "max"])
        gold = _gold_rows(lake, "gold.machine_sensor_daily", plant, day, ("machine_id", "sensor"))
        assert set(gold) == set(expected.index), (plant, day)
        for (machine, sensor), stats in expected.iterrows():
            row = gold[machine, sensor]
            assert row["readings"] == stats["count"], (plant, day, machine, sensor)
            got = [row["mean"], row["std"], row["max"]]
            want = [stats["mean"], None if pd.isna(stats["std"]) else stats["std"], stats["max"]]
            assert got == pytest.approx(want, rel=1e-9, abs=1e-9), (plant, day, machine, sensor)

        lines = _raw(folder, "lines").set_index("line_id")
        machines = _raw(folder, "machines").set_index("machine_id")
        downtime = _raw(folder, "downtime_events")
        minutes = (pd.to_datetime(downtime["end_ts"]) - pd.to_datetime(downtime["start_ts"])).dt.total_seconds() / 60
        downtime = downtime.assign(minutes=minutes, alarm=downtime["category"] == "alarm")
        failures, maintenance = _raw(folder, "failures"), _raw(folder, "maintenance")
        daily = _gold_rows(lake, "gold.machine_daily", plant, day, ("machine_id",))
        assert set(daily) == {(m,) for m in telemetry["machine_id"].unique()}
        for machine, rows in telemetry.groupby("machine_id"):
            row, events = daily[(machine,)], downtime[downtime["machine_id"] == machine]
            assert row["readings"] == len(rows)
            assert row["covered_minutes"] == pytest.approx(rows["interval_s"].sum() / 60)
            assert (row["alarm_count"], row["downtime_events"]) == (events["alarm"].sum(), (~events["alarm"]).sum())
            assert row["downtime_minutes"] == pytest.approx(events.loc[~events["alarm"], "minutes"].sum())
            assert row["failure_count"] == (failures["machine_id"] == machine).sum()
            assert row["maintenance_count"] == (maintenance["machine_id"] == machine).sum()
            cycle = rows["cycle_time_s"].mean()
            ideal = lines.loc[machines.loc[machine, "line_id"], "ideal_cycle_time_s"]
            assert row["cycle_time_slowdown"] == (None if pd.isna(cycle) else pytest.approx(cycle / ideal - 1))

        production = _raw(folder, "production").groupby("line_id")[
            ["planned_minutes", "run_minutes", "total_count", "good_count"]].sum()
        oee = _gold_rows(lake, "gold.oee_daily", plant, day, ("line_id",))
        assert set(oee) == {(line,) for line in production.index}
        for line, sums in production.iterrows():
            row = oee[(line,)]
            assert (row["total_count"], row["good_count"]) == (sums["total_count"], sums["good_count"])
            availability = sums["run_minutes"] / sums["planned_minutes"]
            performance = sums["total_count"] * lines.loc[line, "ideal_cycle_time_s"] / 60 / sums["run_minutes"]
            quality = sums["good_count"] / sums["total_count"]
            assert [row["planned_minutes"], row["run_minutes"], row["availability"], row["performance"],
                    row["quality"], row["oee"]] == pytest.approx(
                [sums["planned_minutes"], sums["run_minutes"], availability, performance, quality,
                 availability * performance * quality], rel=1e-9)


def test_each_plant_registers_the_simulators_machine_types_and_components(story):
    """silver.dim_component holds, per plant, the components of each of the simulator's machine types (what its
    mapping declares: the simulator's format and the German CSV), and every machine's type has its components
    there (the story's four nights bring no failure or maintenance to name one)."""
    registry = story.lake.read("silver.dim_component").to_pylist()
    declared = {(t, c) for t, weights in simulated.COMPONENT_WEIGHTS.items() for c in weights}
    for plant in story.plants:
        rows = [(r["machine_type"], r["component"]) for r in registry if r["plant_id"] == plant]
        assert sorted(rows) == sorted(declared), plant
    machines = story.lake.read("silver.dim_machine").to_pylist()
    assert machines and {(m["plant_id"], m["machine_type"]) for m in machines} <= {
        (r["plant_id"], r["machine_type"]) for r in registry}


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
