"""The models end to end on a small synthetic history: training with real MLflow (SQLite) and real Delta
tables, the promotion gate, loading the champion in a fresh process, idempotent scoring, alerts and
the savings forecast; and the pieces alone: playbook, labels, features, split and their errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from lakehouse.delta import Lake
from lakehouse.settings import get_settings, home_environment, plantlake_home
from ml import alerts, features, forecast, registry, scoring
from ml.evaluation import feature_importance
from ml.labels import LABEL, label_frame
from ml.playbook import Playbook
from ml.train import build_training_set, read_training_set, train_all, train_cost, train_failure
from ml.training import TrainingDataError, fit_failure_model, time_split
from sources.contracts import COMPONENTS
from sources.simulator.components import COMPONENTS as SIMULATED
from tests import mldata

ROOT = Path(__file__).resolve().parents[1]


# -- the pieces ------------------------------------------------------------------------------------------
def test_playbook_agrees_with_the_simulators_component_costs():
    playbook = Playbook.load()
    assert playbook.labour_rate_eur_h == 75
    for name, component in SIMULATED.items():
        action = playbook.action_for(name)
        assert action.duration_h == component.pm_hours, name
        assert action.cost_eur == pytest.approx(component.preventive_cost_eur(playbook.labour_rate_eur_h)), name
    assert set(COMPONENTS) <= set(playbook.actions)  # every component a feed may name has its own action
    assert playbook.action_for("flux_capacitor") == playbook.default


def test_labels_look_at_the_h_days_after_each_date():
    day = dt.date(2025, 5, 1)
    keys = pd.DataFrame({"date": [day + dt.timedelta(days=i) for i in range(10)], "machine_id": ["M1"] * 10})
    failures = pd.DataFrame({"date": [day + dt.timedelta(days=5), day + dt.timedelta(days=12)],
                             "machine_id": ["M1", "M1"], "component": ["motor", "belt"],
                             "failed_at": pd.to_datetime(["2025-05-06 10:00", "2025-05-13 10:00"], utc=True)})
    out = label_frame(keys, failures, horizon_days=3, known_until=day + dt.timedelta(days=9))
    assert out["failure_within_h"].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]  # (D, D+3] holds May 6: D = 2..4
    assert out["failing_component"].tolist()[2:5] == ["motor"] * 3
    assert out["days_to_failure"].tolist()[2:5] == [3, 2, 1]
    # May 13 is after known_until: not a label yet, and the last 3 days' windows are incomplete
    assert out["label_complete"].tolist() == [True] * 7 + [False] * 3


def test_the_split_leaves_a_gap_of_h_days_before_the_holdout():
    dates = pd.Series(pd.date_range("2025-01-01", periods=100, freq="D"))
    split = time_split(dates, horizon_days=7, holdout_fraction=0.25)
    assert split.holdout_start == dt.date(2025, 3, 17) and split.holdout_end == dt.date(2025, 4, 10)
    assert split.train_end + dt.timedelta(days=7) < split.holdout_start  # no training label window reaches it
    with pytest.raises(TrainingDataError, match="too short"):
        time_split(dates.head(12), horizon_days=7)


class _OneFeatureModel:
    """Scores by ``signal`` alone and counts its calls: what permutation importance must find."""

    categorical, numeric = ["line"], ["signal", "noise"]

    def __init__(self):
        self.calls = 0

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        self.calls += 1
        p = 1 / (1 + np.exp(-4 * X["signal"].to_numpy()))
        return np.column_stack([1 - p, p])


def test_permutation_importance_names_the_feature_the_model_uses_in_few_calls():
    rng = np.random.default_rng(3)
    signal = rng.normal(size=400)
    frame = pd.DataFrame({"line": rng.choice(["L1", "L2"], 400), "signal": signal, "noise": rng.normal(size=400),
                          LABEL: (signal + rng.normal(scale=0.5, size=400) > 1).astype(int)})
    model = _OneFeatureModel()
    batched = feature_importance(model, frame)
    assert model.calls == 2  # the rows as they are, then all three shuffled copies at once
    assert batched.index[0] == "signal" and batched["signal"] > 0.3
    assert batched["noise"] == 0 and batched["line"] == 0  # the model never reads them
    one_by_one = feature_importance(model, frame, batch_features=1)
    assert model.calls == 2 + 4
    pd.testing.assert_series_equal(one_by_one, batched)  # batching changes the calls, not the result


def test_missing_features_and_empty_windows_are_named(tmp_path):
    frames = mldata.history()
    daily = frames["gold.machine_daily"].drop(columns=["vibration_mm_s_mean", "alarm_count"])
    with pytest.raises(features.MissingFeaturesError, match="vibration_mm_s_mean, alarm_count") as err:
        features.feature_frame(daily)
    assert err.value.missing == ["vibration_mm_s_mean", "alarm_count"]

    frame = features.feature_frame(frames["gold.machine_daily"], frames["gold.machine_component_daily"])
    labelled = label_frame(frame, frames["silver.failures"], 7, mldata.END)
    with pytest.raises(features.MissingFeaturesError, match="days_since_failure"):
        fit_failure_model(labelled.drop(columns=["days_since_failure"]), 7)
    with pytest.raises(TrainingDataError, match="empty"):
        fit_failure_model(labelled.iloc[0:0], 7)
    with pytest.raises(TrainingDataError, match="no labelled rows"):
        fit_failure_model(labelled.assign(label_complete=False), 7)
    with pytest.raises(TrainingDataError, match="no failures"):
        fit_failure_model(labelled.assign(failure_within_h=0), 7)
    with pytest.raises(TrainingDataError, match="run the nightly pipeline first"):
        build_training_set(Lake(str(tmp_path / "empty")), mldata.END)


def test_rolling_features_use_only_the_machines_own_earlier_days():
    frames = mldata.history()
    full = features.feature_frame(frames["gold.machine_daily"], frames["gold.machine_component_daily"])
    day = mldata.START + dt.timedelta(days=60)
    dates = frames["gold.machine_daily"]["date"]
    history = frames["gold.machine_daily"][(dates >= day - dt.timedelta(days=features.HISTORY_DAYS)) & (dates <= day)]
    night = features.feature_frame(history, frames["gold.machine_component_daily"], start=day)
    assert set(night["date"]) == {day} and len(night) == len(mldata.PLANTS) * mldata.MACHINES
    same = full[full["date"] == day].reset_index(drop=True)
    pd.testing.assert_frame_equal(night[list(features.FEATURES)], same[list(features.FEATURES)])  # history is enough


# -- trained once on the synthetic history ----------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("ml-home")
    with plantlake_home(home), pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        lake = Lake()
        mldata.write(lake)
        result = train_all(lake, mldata.END, horizon_days=7, dagster_run_id="run-123", partition="2025-06-10")
        yield lake, result, home


def test_training_logs_runs_registers_and_crowns_the_first_versions(trained):
    lake, result, home = trained
    failure, cost = result.failure, result.cost
    assert failure.metrics["pr_auc"] > 2 * failure.metrics["base_rate"]
    assert failure.metrics["mean_lead_time_days"] >= 2
    assert 0 <= failure.metrics["brier"] < failure.metrics["base_rate"]
    assert cost.metrics["mae_eur"] < cost.metrics["baseline_mae_eur"]
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    for model in (failure, cost):
        assert model.decision.promoted and model.decision.reason.startswith("first version")
        assert str(client.get_model_version_by_alias(model.name, "champion").version) == model.version == "1"
        assert str(client.get_model_version_by_alias(model.name, "challenger").version) == "1"
        run = client.get_run(model.run_id)
        assert run.data.tags["dagster.run_id"] == "run-123" and run.data.tags["dagster.partition"] == "2025-06-10"
        assert client.get_experiment(run.info.experiment_id).artifact_location.startswith(
            (home / "mlartifacts").as_uri())
    run = client.get_run(failure.run_id)
    assert run.data.params["delta_version.gold.failure_training_set"] == str(result.training_set_version)
    assert {"delta_version.gold.machine_daily", "delta_version.silver.failures"} <= set(run.data.params)
    assert {"pr_auc", "roc_auc", "brier", "base_rate", "precision_at_budget", "recall_at_budget",
            "mean_lead_time_days"} <= set(run.data.metrics)
    plots = {Path(a.path).name for a in client.list_artifacts(failure.run_id, "evaluation")}
    assert {"pr_curve.png", "calibration.png", "feature_importance.png", "lead_time_histogram.png"} <= plots
    assert "delta_version.silver.dim_machine" in client.get_run(cost.run_id).data.params
    model_info = registry.mlflow.models.get_model_info(f"models:/{registry.FAILURE_MODEL}/1")
    assert model_info.signature.inputs.input_names() == [*features.CATEGORICAL, *features.NUMERIC]
    assert model_info.saved_input_example_info is not None
    assert not (ROOT / "mlruns").exists() and not Path("mlruns").exists()
    decisions = lake.read("ops.model_promotions", filters=[("challenger_version", "=", "1")]).to_pandas()
    assert sorted(decisions["model_name"]) == sorted([registry.FAILURE_MODEL, registry.COST_MODEL])
    assert decisions["champion_score"].isna().all() and decisions["promoted"].all()
    stored = read_training_set(lake, mldata.END, horizon_days=7)
    assert len(stored.frame) == result.training_set_rows


def test_a_degraded_challenger_does_not_replace_the_champion(trained):
    lake, result, _ = trained
    training_set = build_training_set(lake, mldata.END, horizon_days=7)
    weak = train_failure(lake, training_set, params={"numeric": ("age_years",), "categorical": ()})
    weak_cost = train_cost(lake, mldata.END, params={"max_iter": 1})
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    for challenger, champion in ((weak, result.failure), (weak_cost, result.cost)):
        assert challenger.version == "2" and not challenger.decision.promoted
        assert str(client.get_model_version_by_alias(challenger.name, "champion").version) == champion.version
        assert str(client.get_model_version_by_alias(challenger.name, "challenger").version) == "2"
    # the champion was re-scored on the challenger's holdout (the same one here: same window)
    assert weak.decision.champion_score == pytest.approx(result.failure.metrics["pr_auc"])
    assert weak.decision.challenger_score < weak.decision.champion_score
    assert weak_cost.decision.challenger_score > weak_cost.decision.champion_score  # MAE: lower is better
    decisions = lake.read("ops.model_promotions").to_pandas().set_index(["model_name", "challenger_version"])
    row = decisions.loc[(registry.FAILURE_MODEL, "2")]
    assert not row["promoted"] and row["champion_version"] == "1" and row["metric"] == "pr_auc"
    assert row["challenger_score"] == pytest.approx(weak.metrics["pr_auc"])
    assert row["champion_score"] == pytest.approx(result.failure.metrics["pr_auc"])
    assert "not better" in row["reason"] and row["holdout"].startswith("train ")
    assert decisions.loc[(registry.COST_MODEL, "2")]["metric"] == "mae_eur"


def test_the_champion_loads_by_alias_in_a_fresh_process_and_predicts_machine_daily_rows(trained):
    lake, result, home = trained
    night = mldata.END
    script = textwrap.dedent(f"""
        import datetime as dt, json
        import mlflow
        from lakehouse.delta import Lake
        from ml import features
        from ml.registry import load_champions
        champions = load_champions()
        day = dt.date.fromisoformat("{night}")
        daily = Lake().read_pandas("gold.machine_daily", filters=[("date", ">=", day - dt.timedelta(days=30))])
        rows = champions.predict(daily, start=day)
        pyfunc = mlflow.pyfunc.load_model("models:/plantlake-failure@champion")
        served = pyfunc.predict(features.feature_frame(daily, start=day)[list(features.FEATURES)])
        print(json.dumps({{"version": champions.failure_version, "cost_version": champions.cost_version,
                          "machines": rows["machine_id"].tolist(), "p": rows["failure_probability"].tolist(),
                          "cost": rows["predicted_failure_cost_eur"].tolist(),
                          "served": served["failure_probability"].tolist()}}))
    """)
    env = {**os.environ, **home_environment(home)}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["version"] == result.failure.version and out["cost_version"] == result.cost.version
    here = registry.load_champions().predict(lake.read_pandas("gold.machine_daily"), start=night)
    assert out["machines"] == here["machine_id"].tolist()
    assert out["p"] == pytest.approx(here["failure_probability"].tolist(), abs=1e-12)
    assert out["served"] == pytest.approx(out["p"], abs=1e-12)
    assert out["cost"] == pytest.approx(here["predicted_failure_cost_eur"].tolist(), rel=1e-9)
    assert all(0 <= p <= 1 for p in out["p"]) and all(c > 0 for c in out["cost"])


def test_scoring_a_night_twice_gives_the_same_rows_alerts_and_forecast(trained):
    lake, _, _ = trained
    nights = [mldata.END - dt.timedelta(days=1), mldata.END]
    first = scoring.score_night(lake, nights)
    second = scoring.score_night(lake, nights)
    assert first.equals(second)
    assert first.schema.equals(scoring.FAILURE_RISK.schema, check_metadata=False)
    assert first.num_rows == 2 * len(mldata.PLANTS) * mldata.MACHINES
    risk = first.to_pandas()
    saving = risk["failure_probability"] * (risk["predicted_failure_cost_eur"] - risk["action_cost_eur"])
    assert np.allclose(risk["expected_saving_eur"], saving)
    assert set(risk["model_version"]) == {"1"} and set(risk["horizon_days"]) == {7}
    scoring.write_risk(lake, first, nights)
    scoring.write_risk(lake, second, nights)
    stored = lake.read("gold.failure_risk").sort_by([("date", "ascending"), ("machine_id", "ascending")])
    assert stored.to_pylist() == first.sort_by([("date", "ascending"), ("machine_id", "ascending")]).to_pylist()

    t1 = dt.datetime(2025, 6, 11, 6, tzinfo=dt.UTC)
    raised = alerts.alerts_for_nights(lake, nights, budget=2, now=t1)
    alerts.write_alerts(lake, raised, nights)
    again = alerts.alerts_for_nights(lake, nights, budget=2, now=t1 + dt.timedelta(hours=5))
    assert again.to_pylist() == raised.to_pylist()  # same ids, raised_at kept from the first run
    frame = raised.to_pandas()
    assert (frame["expected_saving_eur"] > 0).all() and set(frame["status"]) == {"pending"}
    assert frame.groupby(["date", "plant_id"]).size().max() <= 2
    assert frame["alert_id"].is_unique
    top = risk[risk["expected_saving_eur"] > 0].sort_values("expected_saving_eur", ascending=False)
    best = top.groupby(["date", "plant_id"]).head(2)
    assert sorted(zip(frame["date"], frame["machine_id"], strict=True)) == sorted(
        zip(best["date"], best["machine_id"], strict=True))

    months = forecast.forecast(lake, nights).to_pandas()
    assert set(months["plant_id"]) == set(mldata.PLANTS) and (months["days_scored"] == 2).all()
    per_plant = frame.groupby("plant_id")["expected_saving_eur"].sum()
    for row in months.itertuples():
        assert row.expected_saving_eur == pytest.approx(per_plant.get(row.plant_id, 0.0))
        assert row.projected_month_saving_eur == pytest.approx(row.expected_saving_eur / 2 * 30)  # June
    forecast.write_forecast(lake, forecast.forecast(lake, nights), nights)
    assert lake.count("gold.savings_forecast") == len(months)


def test_a_window_without_costs_trains_the_failure_model_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PLANTLAKE_HOME", str(tmp_path))
    lake = Lake(str(tmp_path / "lake"))
    frames = mldata.history(seed=5)
    frames["silver.failures"]["repair_cost_eur"] = None
    frames["silver.failures"]["downtime_minutes"] = None
    frames["silver.maintenance"] = frames["silver.maintenance"].iloc[0:0]
    for name, frame in frames.items():
        if len(frame):
            lake.append(name, mldata._table(name, frame))
    result = train_all(lake, mldata.END, horizon_days=1)
    assert result.cost is None and "no failure with a known cost" in result.cost_skipped
    assert result.failure.version == "1" and result.failure.metrics["pr_auc"] > result.failure.metrics["base_rate"]
    rows = scoring.score_night(lake, [mldata.END]).to_pandas()
    assert rows["predicted_failure_cost_eur"].isna().all() and rows["cost_model_version"].isna().all()
    assert alerts.alerts_for_nights(lake, [mldata.END]).num_rows == 0  # no cost, no saving, no alert


def test_processes_opening_a_fresh_tracking_store_together_all_succeed(tmp_path):
    """Nightly runs starting together on a fresh home all open MLflow (CI once saw one fail the migration)."""
    script = textwrap.dedent("""
        import pathlib, sys, time
        from ml import registry
        pathlib.Path(sys.argv[1] + ".imported").touch()
        while not pathlib.Path(sys.argv[1]).exists():  # migrate at the same moment as the others
            time.sleep(0.01)
        print(len(registry.client().search_experiments()))
    """)
    env = {**os.environ, "PLANTLAKE_HOME": str(tmp_path), "MLFLOW_TRACKING_URI": ""}
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(go) + str(i)], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(4)]
    deadline = time.monotonic() + 120
    while not all(Path(f"{go}{i}.imported").exists() for i in range(4)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for i in range(4):
        Path(f"{go}{i}").touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err[-2000:] for _, err in outs]
    assert all(out.strip().splitlines()[-1] == "1" for out, _ in outs)  # the Default experiment, once
