"""`plantlake demo` end to end on a network of one night (too little to train on: the models' stages are
covered by tests/test_ml.py and the soak's champion). ``make demo`` itself runs the 60-night default."""

from __future__ import annotations

import os

import dagster as dg
import pytest
from rich.console import Console

from lakehouse.delta import Lake
from lakehouse.settings import HOME_FILE, get_settings, plantlake_home
from orchestration.definitions import build_definitions
from orchestration.demo import DemoNetwork, nights, run_demo, simulation_config
from orchestration.runs import ONE_PLANNED_EVENT_PER_ASSET
from sources.simulator.network import Network
from sources.simulator.plantday import production_day

OEE = dg.AssetKey(["gold", "oee_daily"])

pytestmark = pytest.mark.spark  # the demo's night runs Spark in this process


def test_the_demo_simulates_processes_and_shows_a_night(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    network = DemoNetwork(plants=2, machines_per_plant=3, suppliers=3, locations=6, days=1, scored_days=1)
    console = Console(record=True, width=200)
    with plantlake_home(tmp_path):
        assert run_demo(console, network)
        oee_rows = Lake().count("gold.oee_plant_daily")
        nights_shown = build_definitions(get_settings()).resolve_asset_graph().get(OEE).partitions_def
    text = console.export_text()
    night, _ = nights(1)
    assert f"ok  nights {night}..{night} in " in text  # one night: no backfill, no training
    assert "retrain" not in text
    assert "what was built" in text and "OEE per plant" in text and "top supplier risks" in text
    # no champion on a first night: the savings and the monitor are said to be missing, the summary goes on
    flat = " ".join(text.split())
    assert "(gold.realized_savings, docs/models.md): not built yet" in flat and "bad input" in flat
    # one row per plant that worked the night: the simulator's calendar (Saturdays some plants, Sundays none)
    with plantlake_home(tmp_path):
        plants = Network(simulation_config(network, night)).plants
    assert oee_rows == sum(production_day(plant, night) for plant in plants)
    assert all(name not in os.environ for name in ONE_PLANNED_EVENT_PER_ASSET)  # only for the demo's run
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
    assert [run.status for run in instance.get_runs()] == [dg.DagsterRunStatus.SUCCESS]
    # the first partition is the demo's first night, for `make ui` started afterwards too: 100 % filled
    assert (tmp_path / HOME_FILE).read_text() == f"PLANTLAKE_FIRST_DATE={night}\n"
    assert nights_shown.get_partition_keys() == [night.isoformat()]
    assert instance.get_materialized_partitions(OEE) == {night.isoformat()}
