"""gold.alert_outcomes against the simulator's own record of what it did to the machines.

The session's simulated network (tests/mlnetwork.py, the ``simulated_champion`` fixture) knows which
failures struck, which degradations its scheduled maintenance averted, and when that maintenance
ran. Its champion scores the network's last four weeks in a copy of the tables scoring and outcomes
read; gold.alert_outcomes is built from the lake alone and compared with that record.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import pytest

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.settings import environment, plantlake_home
from ml.tables import ALERT_OUTCOMES, FAILURE_RISK, MAINTENANCE_ALERTS
from orchestration.metadata import key
from orchestration.runs import run_nights
from sources.simulator import Simulation
from sources.simulator.clock import MINUTES_PER_DAY, date_of
from sources.simulator.components import NAMES
from tests import mlnetwork

pytestmark = pytest.mark.slow  # the session's simulated champion takes minutes when no other test built it

NETWORK = mlnetwork.TrainingNetwork()
FIRST, LAST = NETWORK.end - dt.timedelta(days=27), NETWORK.end
READ = ("gold.machine_daily", "gold.machine_sensor_daily", "gold.machine_component_daily", "silver.failures",
        "silver.maintenance", "silver.dim_machine")


def _day(wall_minute) -> dt.date:
    return date_of(int(wall_minute) // MINUTES_PER_DAY)


@pytest.fixture(scope="module")
def story(simulated_champion, tmp_path_factory, spark):
    source = Path(simulated_champion["MLFLOW_TRACKING_URI"].removeprefix("sqlite:///")).parent
    home = tmp_path_factory.mktemp("simulated-outcomes")
    for name in READ:  # the shared lake stays as it is: scoring and outcomes write into a copy
        path = catalog.get(name).path
        if (source / "lake" / path).exists():
            shutil.copytree(source / "lake" / path, home / "lake" / path)
    # the network is one plant: it gets the alerts three plants would (3 a plant and day), so that there are
    # more than a hundred to compare with the record
    scoring = {"PLANTLAKE_FIRST_DATE": str(NETWORK.start), "PLANTLAKE_ALERT_BUDGET": str(3 * 3)}
    with plantlake_home(home), environment({**simulated_champion, **scoring}):
        result = run_nights(FIRST, LAST, assets=[key(FAILURE_RISK), key(MAINTENANCE_ALERTS), key(ALERT_OUTCOMES)],
                            dagster_instance=dg.DagsterInstance.ephemeral(), log_level="WARNING")
        lake = Lake()
        outcomes = lake.read(ALERT_OUTCOMES).to_pandas()
        orders = lake.read("silver.maintenance", filters=[("maintenance_type", "=", "preventive")]).to_pandas()
    simulation = Simulation(mlnetwork.simulation(source, NETWORK))
    episodes = []
    for plant in simulation.network.plants:
        tl, assets = simulation.timeline(plant.plant_id), simulation.network.assets(plant.plant_id)
        for i in range(len(tl.machine)):
            episodes.append({"machine_id": str(assets.machine_id[tl.machine[i]]), "component": NAMES[tl.component[i]],
                             "failed": bool(tl.failed[i]), "averted": bool(tl.averted[i]),
                             "failure_date": _day(tl.at[i]), "end_date": _day(tl.end[i])})
    return result, outcomes, orders, episodes


def test_failures_follow_the_simulators_record(story):
    result, outcomes, _, episodes = story
    assert result.success
    struck = [e for e in episodes if e["failed"]]
    alerts = outcomes[outcomes["outcome"] != "missed_failure"]
    assert len(alerts) > 100
    for alert in alerts.itertuples():
        until = min(alert.horizon_end, LAST)
        truth = [e for e in struck if e["machine_id"] == alert.machine_id and alert.date < e["failure_date"] <= until]
        assert alert.failed == bool(truth), alert
    covered = {(a.machine_id, e["failure_date"]) for a in alerts.itertuples() for e in struck
               if e["machine_id"] == a.machine_id and a.date < e["failure_date"] <= a.horizon_end}
    missed = {(e["machine_id"], e["failure_date"]) for e in struck if FIRST < e["failure_date"] <= LAST} - covered
    got = outcomes[outcomes["outcome"] == "missed_failure"]
    assert set(zip(got["machine_id"], got["date"], strict=True)) == missed and missed


def test_a_failure_the_scheduled_maintenance_averted_counts_as_acted_on_never_as_a_false_alarm(story):
    _, outcomes, orders, episodes = story
    alerts = outcomes[outcomes["outcome"] != "missed_failure"]
    serviced = {(o.machine_id, o.component, o.date) for o in orders.itertuples()}
    averted = [e for e in episodes if e["averted"] and FIRST < e["end_date"] <= LAST]
    prevented = 0
    for alert in alerts[alerts["resolved"]].itertuples():
        saved = [e for e in averted if e["machine_id"] == alert.machine_id
                 and alert.date < e["end_date"] <= alert.horizon_end
                 and (alert.machine_id, alert.component, e["end_date"]) in serviced]
        if saved:
            prevented += 1
            assert alert.outcome == "acted_no_failure" and alert.action_delay_days == (
                saved[0]["end_date"] - alert.date).days, alert
    acted = alerts[alerts["outcome"] == "acted_no_failure"]
    assert prevented <= len(acted)  # the others were maintained when nothing was coming: the lake cannot tell
    performed = {(o.machine_id, o.component, o.performed_at) for o in orders.itertuples()}
    for alert in acted.itertuples():  # every action is the simulator's scheduled maintenance
        assert (alert.machine_id, alert.component, alert.action_at) in performed
