"""Closing the loop end to end, in Dagster: outcomes, realized savings, the production monitor, feedback.

The lake holds the small synthetic history of ``tests.mldata``, whose ground truth is known (which
machine fails when). A champion is trained on the first 65 days (real MLflow) and scores the last
35 nights in one run with the outcome, savings and monitor assets (gold.alert_outcomes is Spark).
Alerts are then "acted on" by appending preventive work orders after them. Then the champion
is degraded (it scores with its rows' features shuffled) and the temperatures drift: the monitor's check must warn.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.gold_tables import MACHINE_SENSOR_DAILY
from lakehouse.settings import get_settings, plantlake_home
from ml import registry, scoring
from ml.playbook import Playbook
from ml.tables import (
    ALERT_OUTCOMES,
    FAILURE_RISK,
    FEATURE_DRIFT,
    MAINTENANCE_ALERTS,
    MODEL_MONITOR,
    REALIZED_SAVINGS,
    SAVINGS_FORECAST,
)
from ml.train import build_training_set, train_all
from orchestration.assets.monitor import CHECK
from orchestration.metadata import key
from orchestration.runs import run_nights
from tests import mldata

pytestmark = pytest.mark.slow  # a champion trained, 35 nights scored, Spark: a minute or more

TRAIN_END = mldata.START + dt.timedelta(days=64)
FIRST = TRAIN_END + dt.timedelta(days=1)
LAST = mldata.END
H = 7
SCORING = [key(s) for s in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)]
LOOP = [key(s) for s in (ALERT_OUTCOMES, REALIZED_SAVINGS, MODEL_MONITOR, FEATURE_DRIFT)]


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def truth(frames, machine: str, after: dt.date, until: dt.date) -> list[dt.date]:
    """The synthetic history's failure dates of a machine in (after, until]."""
    failures = frames["silver.failures"]
    days = [_day(d) for d in failures.loc[failures["machine_id"] == machine, "date"]]
    return sorted(d for d in days if after < d <= until)


def act_on(lake: Lake, frames, alerts: pd.DataFrame) -> list[dict]:
    """Preventive work orders the day after three alerts of three machines: two without a failure to come, one
    with a failure two or more days later. Returns the work orders appended to silver.maintenance."""
    rows: list[dict] = []
    wanted = {"no failure": 2, "failure later": 1}
    for alert in alerts.sort_values(["date", "alert_id"]).itertuples():
        day = _day(alert.date)
        if day + dt.timedelta(days=H) > LAST or alert.machine_id in {r["machine_id"] for r in rows}:
            continue
        coming = truth(frames, alert.machine_id, day, day + dt.timedelta(days=H))
        kind = "no failure" if not coming else "failure later" if coming[0] >= day + dt.timedelta(days=2) else None
        if not wanted.get(kind):
            continue
        wanted[kind] -= 1
        when = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, 0), tzinfo=dt.UTC)
        rows.append({"date": day + dt.timedelta(days=1), "plant_id": alert.plant_id,
                     "work_order_id": f"PM-{alert.alert_id}", "machine_id": alert.machine_id,
                     "component": alert.component, "maintenance_type": "preventive", "performed_at": when,
                     "labour_hours": 1.0, "parts_cost_eur": 180.0, "_source_file": "test", "_ingested_at": when})
    assert not any(wanted.values()), "the synthetic history has no alert to act on of some kind"
    spec = catalog.get("silver.maintenance")
    lake.append(spec, pa.Table.from_pylist(rows, schema=spec.schema))
    return rows


def expected_outcome(alert, frames, orders: list[dict]) -> tuple[str, str | None]:
    """The outcome an alert must get, from the ground truth (failures at 10:00) and the orders appended; and the
    work order that acted on it."""
    day = _day(alert.date)
    end = day + dt.timedelta(days=H)
    coming = truth(frames, alert.machine_id, day, min(end, LAST))
    failed_at = dt.datetime.combine(coming[0], dt.time(10), tzinfo=dt.UTC) if coming else None
    acted = [o for o in orders if o["machine_id"] == alert.machine_id and o["component"] == alert.component
             and day < o["date"] <= end and (failed_at is None or o["performed_at"] < failed_at)]
    order = acted[0]["work_order_id"] if acted else None
    if coming:
        return ("failed_after_action" if acted else "failed_despite_alert"), order
    if end > LAST:
        return "open", order
    return ("acted_no_failure" if acted else "no_event"), order


class Shuffled:
    """A degraded champion: it scores each row with another row's features."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, frame):
        order = np.random.default_rng(7).permutation(len(frame))
        return self.model.predict_proba(frame.iloc[order].reset_index(drop=True))

    def __getattr__(self, name):  # the features it takes, its component model: the champion's
        return getattr(self.model, name)


def checks(result) -> list:
    return [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.event_specific_data.check_name == CHECK]


@pytest.fixture(scope="module")
def loop(tmp_path_factory, spark):
    home = tmp_path_factory.mktemp("feedback")
    with plantlake_home(home), pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTLAKE_FIRST_DATE", str(mldata.START))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("PLANTLAKE_ALERT_BUDGET", "2")
        mp.setenv("PLANTLAKE_BACKTEST_FOLDS", "1")  # the holdout's figures are what the monitor needs
        # 20 machines: a PSI over their days moves with where each machine is in its failure and maintenance
        # cycle, and the synthetic lake starts on day 0, so recency features still fill up (days since the
        # hydraulics last failed: PSI about 1 between its holdout and the last month). A threshold for a
        # network this small; the default (0.25) is for hundreds of machines (tests/test_monitor.py)
        mp.setenv("PLANTLAKE_DRIFT_DAYS", "28")
        mp.setenv("PLANTLAKE_DRIFT_PSI_THRESHOLD", "2")
        lake = Lake()
        frames = mldata.write(lake)
        trained = train_all(lake, end_date=TRAIN_END, horizon_days=H)
        instance = dg.DagsterInstance.ephemeral()
        scored = run_nights(FIRST, LAST, assets=SCORING, dagster_instance=instance, log_level="WARNING")
        alerts = lake.read(MAINTENANCE_ALERTS).to_pandas()
        orders = act_on(lake, frames, alerts)
        closed = run_nights(FIRST, LAST, assets=LOOP, dagster_instance=instance, log_level="WARNING")
        outcomes = lake.read(ALERT_OUTCOMES).to_pandas()
        again = run_nights(LAST - dt.timedelta(days=20), assets=[key(ALERT_OUTCOMES)], dagster_instance=instance,
                           log_level="WARNING")  # an old night re-run: it redoes the 30 days before it
        yield {"lake": lake, "frames": frames, "trained": trained, "scored": scored, "closed": closed,
               "again": again, "alerts": alerts, "orders": orders, "outcomes": outcomes, "instance": instance,
               "settings": get_settings()}


def test_every_alert_gets_the_outcome_the_ground_truth_says(loop):
    assert loop["scored"].success and loop["closed"].success
    alerts, outcomes, frames = loop["alerts"], loop["outcomes"], loop["frames"]
    rows = outcomes[outcomes["outcome"] != "missed_failure"].set_index("outcome_id")
    assert sorted(rows.index) == sorted(alerts["alert_id"])
    for alert in alerts.itertuples():
        row = rows.loc[alert.alert_id]
        outcome, order = expected_outcome(alert, frames, loop["orders"])
        assert (row["outcome"], row["work_order_id"]) == (outcome, order), (alert.alert_id, alert.machine_id)
        assert row["resolved"] == (outcome != "open")
    kinds = set(rows["outcome"])
    assert {"acted_no_failure", "failed_after_action", "failed_despite_alert", "no_event", "open"} <= kinds


def test_every_failure_no_alert_covered_is_a_miss_with_the_risk_before_it(loop):
    outcomes, alerts, frames = loop["outcomes"], loop["alerts"], loop["frames"]
    missed = outcomes[outcomes["outcome"] == "missed_failure"]
    failures = frames["silver.failures"]
    expected = set()
    for failure in failures.itertuples():
        day = _day(failure.date)
        if not FIRST < day <= LAST:  # the first scored day's horizon starts after it
            continue
        mine = alerts[(alerts["machine_id"] == failure.machine_id)]
        covered = [a for a in mine["date"] if _day(a) < day <= _day(a) + dt.timedelta(days=H)]
        if not covered:
            expected.add((failure.machine_id, day))
    assert {(m, _day(d)) for m, d in zip(missed["machine_id"], missed["date"], strict=True)} == expected
    assert len(expected) > 0
    assert missed["max_failure_probability"].notna().all()
    assert (missed["max_failure_probability"] >= missed["failure_probability"]).all()


def test_re_running_an_old_night_gives_the_same_outcomes(loop):
    assert loop["again"].success
    after = loop["lake"].read(ALERT_OUTCOMES).to_pandas()
    order = ["date", "outcome_id"]
    pd.testing.assert_frame_equal(after.sort_values(order).reset_index(drop=True),
                                  loop["outcomes"].sort_values(order).reset_index(drop=True))


def test_realized_savings_sit_beside_the_expected_ones_per_plant_and_month(loop):
    savings = loop["lake"].read(REALIZED_SAVINGS).to_pandas()
    forecast = loop["lake"].read(SAVINGS_FORECAST).to_pandas()
    assert set(savings["method"]) == {"probability"} and (savings["labour_rate_eur_h"] == 75).all()
    merged = savings.merge(forecast, on=["month", "plant_id"], suffixes=("", "_forecast"))
    assert len(merged) == len(forecast)
    assert (merged["alerts"] == merged["alerts_forecast"]).all()
    assert np.allclose(merged["expected_saving_eur"], merged["expected_saving_eur_forecast"])
    assert savings["actions"].sum() == len(loop["orders"]) == 3
    assert savings["actions_failed_after"].sum() == 1
    assert savings["action_cost_eur"].sum() == pytest.approx(3 * (180 + 75))  # the orders' parts + 1 h at 75 EUR/h
    assert np.allclose(savings["no_model_cost_eur"] - savings["with_model_cost_eur"], savings["realized_saving_eur"])
    assert savings["missed_failures"].sum() == (loop["outcomes"]["outcome"] == "missed_failure").sum()


def test_the_training_set_leaves_out_machine_days_an_alert_triggered_action_censors(loop):
    training = build_training_set(loop["lake"], LAST, horizon_days=H).frame
    marked = training[training["alert_action_in_horizon"]]
    expected = {(o["machine_id"], o["date"] - dt.timedelta(days=k)) for o in loop["orders"] for k in range(1, H + 1)}
    assert {(m, _day(d)) for m, d in zip(marked["machine_id"], marked["date"], strict=True)} == expected
    assert not marked["label_complete"].any()


def test_the_monitor_compares_production_with_the_holdout_and_stays_quiet(loop):
    lake, closed = loop["lake"], loop["closed"]
    monitor = lake.read(MODEL_MONITOR).to_pandas()
    assert sorted(_day(d) for d in monitor["date"]) == [FIRST + dt.timedelta(days=i)
                                                       for i in range((LAST - FIRST).days + 1)]
    last = monitor[monitor["date"] == LAST].iloc[0]
    version = loop["trained"].failure.version
    assert (last["model_version"], last["is_champion"], last["horizon_days"]) == (version, True, H)
    assert _day(last["window_end"]) == LAST - dt.timedelta(days=H)
    assert last["holdout_intervals"] == "bootstrap"
    assert last["holdout_precision_at_budget_low"] <= last["holdout_precision_at_budget"] <= \
        last["holdout_precision_at_budget_high"]
    assert last["alerted_machine_days"] >= 30 and last["machine_days"] > 0 and last["failures"] > 0
    assert last["features_compared"] > 50 and last["reference_rows"] > 0
    assert not last["precision_alarm"] and not last["drift_alarm"], last["verdict"]
    evaluations = checks(closed)
    assert evaluations and all(e.passed for e in evaluations)
    drift = lake.read(FEATURE_DRIFT, filters=[("date", "=", LAST)]).to_pandas()
    assert len(drift) == last["features_compared"] and not drift["drifted"].any()


def test_the_month_is_recorded_in_mlflow_next_to_the_champion(loop):
    client = registry.client(loop["settings"])
    version = loop["trained"].failure.version
    experiment = client.get_experiment_by_name("plantlake-monitoring")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.`plantlake.model_version` = '{version}'")
    months = {r.data.tags["plantlake.month"] for r in runs}
    assert f"{LAST:%Y-%m}" in months and all(r.data.tags["plantlake.model"] == registry.FAILURE_MODEL for r in runs)
    assert all("precision_at_budget" in r.data.metrics for r in runs)
    tags = client.get_model_version(registry.FAILURE_MODEL, version).tags
    assert f"production.{LAST:%Y-%m}.precision_at_budget" in tags and "precision_at_budget" in tags  # and holdout


def test_the_check_warns_when_the_champion_degrades_and_the_features_drift(loop):
    """The champion scores every row with another row's features, and the last month's temperatures run 40 %
    hotter than the holdout's: production precision falls below the holdout interval, temperature drifts."""
    lake = loop["lake"]
    hot = [LAST - dt.timedelta(days=i) for i in range(28)]
    sensors = lake.read(MACHINE_SENSOR_DAILY, filters=[("date", "in", hot)])
    warmer = pc.equal(sensors["sensor"], "temperature_c")
    for name in ("mean", "max"):
        hotter = pc.if_else(warmer, pc.multiply(sensors[name], 1.4), sensors[name])
        sensors = sensors.set_column(sensors.schema.get_field_index(name), name, hotter)
    lake.replace_slices(MACHINE_SENSOR_DAILY, sensors, {d: None for d in hot})
    champions = registry.load_champions(loop["settings"])
    degraded = scoring.Champions(Shuffled(champions.failure), champions.failure_version, champions.cost,
                                 champions.cost_version)
    nights = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    rows = scoring.score_night(lake, nights, champions=degraded, playbook=Playbook.load())
    scoring.write_risk(lake, rows, nights)
    result = run_nights(LAST, assets=[key(MODEL_MONITOR), key(FEATURE_DRIFT)], dagster_instance=loop["instance"],
                        log_level="WARNING")
    assert result.success  # a warning, not a failed night
    [evaluation] = checks(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    row = lake.read(MODEL_MONITOR, filters=[("date", "=", LAST)]).to_pandas().iloc[0]
    assert row["precision_alarm"] and row["precision_at_budget"] < row["holdout_precision_at_budget_low"]
    assert row["drift_alarm"] and row["max_psi_feature"].startswith("temperature_c")
    assert "outside the holdout" in evaluation.description and "drifted" in evaluation.description
    drift = lake.read(FEATURE_DRIFT, filters=[("date", "=", LAST)]).to_pandas()
    assert set(drift.loc[drift["drifted"], "feature"]) >= {"temperature_c_mean", "temperature_c_max"}
