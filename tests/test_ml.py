"""The models end to end on a small synthetic history: training with real MLflow (SQLite) and real Delta
tables, the promotion gate, loading the champion in a fresh process, idempotent scoring, alerts and
the savings forecast; and the pieces alone: playbook, labels, features, split and their errors.

The champion is trained once for the module with secrets in the environment and its logs at DEBUG, so
the training that every test here reads is also the one searched for secrets (once tests/test_security.py's
own training run)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
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
from sources import mapping as mappings
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
    registered = {row["component"] for name in mappings.builtin_names()
                  for row in mappings.get(name).master.get("components", [])}
    assert {"comp1", *SIMULATED} <= registered <= set(playbook.actions)  # every registered component has an action
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


def _daily(frames: dict) -> pd.DataFrame:
    """The synthetic gold.machine_daily with its sensors' statistics (gold.machine_sensor_daily) as columns."""
    return features.with_sensors(frames["gold.machine_daily"], frames["gold.machine_sensor_daily"])


def test_missing_features_and_empty_windows_are_named(tmp_path):
    frames = mldata.history()
    daily = frames["gold.machine_daily"].drop(columns=["alarm_count", "days_since_failure"])
    with pytest.raises(features.MissingFeaturesError, match="alarm_count, days_since_failure") as err:
        features.feature_frame(daily)
    assert err.value.missing == ["alarm_count", "days_since_failure"]
    with pytest.raises(features.MissingFeaturesError, match="gold.machine_sensor_daily lacks 1 .*: max"):
        features.with_sensors(frames["gold.machine_daily"], frames["gold.machine_sensor_daily"].drop(columns=["max"]))

    frame = features.feature_frame(_daily(frames), frames["gold.machine_component_daily"])
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
    daily = _daily(frames)
    full = features.feature_frame(daily, frames["gold.machine_component_daily"])
    day = mldata.START + dt.timedelta(days=60)
    dates = daily["date"]
    history = daily[(dates >= day - dt.timedelta(days=features.HISTORY_DAYS)) & (dates <= day)]
    night = features.feature_frame(history, frames["gold.machine_component_daily"], start=day)
    assert set(night["date"]) == {day} and len(night) == len(mldata.PLANTS) * mldata.MACHINES
    same = full[full["date"] == day].reset_index(drop=True)
    names = features.feature_names(night)
    assert {"vibration_mm_s_mean_ratio_7d", "days_since_failure_bearing"} <= set(names)  # sensors', components'
    pd.testing.assert_frame_equal(night[names], same[names])  # history is enough


# -- trained once on the synthetic history ----------------------------------------------------------------
AWS_SECRET = "aws-secret-9d8c7b6a5f"
WEBHOOK_SECRET = "whk-secret-4f9e2c81d7"


class _Captured(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name} {record.getMessage()}")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Both models trained once (the first versions, champions), with an AWS secret key and a webhook token in
    the environment and every logger at DEBUG; the log lines are kept in ``training.log`` under the home."""
    home = tmp_path_factory.mktemp("ml-home")
    captured, root = _Captured(), logging.getLogger()
    with plantlake_home(home), pytest.MonkeyPatch.context() as mp:
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        lake = Lake()
        mldata.write(lake)
        mp.setenv("AWS_ACCESS_KEY_ID", "plantlake-test")
        mp.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        mp.setenv("PLANTLAKE_ALERT_WEBHOOK_TOKEN", WEBHOOK_SECRET)
        level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(captured)
        try:
            result = train_all(lake, mldata.END, horizon_days=7, dagster_run_id="run-123", partition="2025-06-10")
        finally:
            root.removeHandler(captured)
            root.setLevel(level)
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PLANTLAKE_ALERT_WEBHOOK_TOKEN"):
            mp.delenv(name)
        (home / "training.log").write_text("\n".join(captured.lines))
        yield lake, result, home


def test_training_logs_runs_registers_and_crowns_the_first_versions(trained):
    lake, result, home = trained
    failure, cost = result.failure, result.cost
    assert failure.metrics["pr_auc"] > 2 * failure.metrics["base_rate"]
    assert failure.metrics["lead_time_days"] >= 2
    assert 0 <= failure.metrics["brier"] < failure.metrics["base_rate"]
    assert cost.metrics["mae_eur"] < cost.metrics["baseline_mae_eur"]
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    for model in (failure, cost):
        assert model.decision.promoted and model.decision.reason.startswith("first champion")
        assert model.decision.evidence.vs_baseline.low > 0  # it beat the baseline by its interval
        assert str(client.get_model_version_by_alias(model.name, "champion").version) == model.version == "1"
        assert str(client.get_model_version_by_alias(model.name, "challenger").version) == "1"
        run = client.get_run(model.run_id)
        assert run.data.tags["dagster.run_id"] == "run-123" and run.data.tags["dagster.partition"] == "2025-06-10"
        assert client.get_experiment(run.info.experiment_id).artifact_location.startswith(
            (home / "mlartifacts").as_uri())
    run = client.get_run(failure.run_id)
    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}  # the tables read, as the run page lists them
    training = inputs[f"gold.failure_training_set@v{result.training_set_version}"]
    assert json.loads(training.dataset.source)["path"] == lake.uri("gold.failure_training_set")
    assert training.dataset.source_type == "delta_table"
    assert {t.key: t.value for t in training.tags}["mlflow.data.context"] == "training"
    assert {"gold.machine_daily", "silver.failures"} <= {name.split("@v")[0] for name in inputs}
    assert {"alert_budget", "horizon_days", "window_days", "promotion_margin", "backtest_folds"} <= set(
        run.data.params)  # settings are params, not metrics
    assert {"pr_auc", "pr_auc_low", "pr_auc_high", "baseline_pr_auc", "baseline_pr_auc_low", "base_rate",
            "precision_at_budget", "precision_at_budget_ceiling", "lead_time_days", "failures",
            "promoted"} <= set(run.data.metrics)
    assert "alert_budget" not in run.data.metrics and len(run.data.metrics) <= 24  # the rest is in metrics.json
    files = {Path(a.path).name for a in client.list_artifacts(failure.run_id, "evaluation")}
    assert {"pr_curve.png", "calibration.png", "feature_importance.png", "lead_time_histogram.png", "comparison.png",
            "metrics.json", "backtest.csv", "baseline_coefficients.csv"} <= files
    every = json.loads(Path(mlflow.artifacts.download_artifacts(run_id=failure.run_id,
                                                                artifact_path="evaluation/metrics.json")).read_text())
    assert {"roc_auc", "brier", "recall_at_budget", "precision_per_failure", "backtest_pr_auc",
            "backtest_baseline_pr_auc", "gain_vs_baseline_low"} <= set(every)
    note = run.data.tags["mlflow.note.content"]  # the run's description: the scores, the baseline, the gate
    assert "baseline" in note and "Promotion gate" in note and "Backtest" in note
    assert run.data.tags["plantlake.gate.promoted"] == "true" and run.data.metrics["promoted"] == 1
    logged = mlflow.search_logged_models(experiment_ids=[run.info.experiment_id], output_format="list")
    assert {m.name for m in logged if m.source_run_id == failure.run_id} == {"model", "baseline"}
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.note.content"] == registry.DESCRIPTIONS[registry.FAILURE_MODEL]
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # not the GenAI screens
    view = json.loads(experiment.tags[registry.VIEW_TAG])  # a saved view, as MLflow's UI writes one
    assert view["name"] == "Headline" and json.loads(view["state"])["selectedColumns"][2:5] == [
        "metrics.`pr_auc`", "metrics.`pr_auc_low`", "metrics.`pr_auc_high`"]
    model = client.get_registered_model(registry.FAILURE_MODEL)
    assert model.description == registry.DESCRIPTIONS[registry.FAILURE_MODEL]
    version = client.get_model_version(registry.FAILURE_MODEL, "1")
    assert "promoted to champion" in version.description and "Holdout: train " in version.description
    assert version.tags["plantlake.gate.promoted"] == "true"
    assert "silver.dim_machine" in {i.dataset.name.split("@v")[0] for i in
                                    client.get_run(cost.run_id).inputs.dataset_inputs}
    model_info = mlflow.models.get_model_info(f"models:/{registry.FAILURE_MODEL}/1")
    signature = model_info.signature.inputs.input_names()
    assert signature[:len(features.FEATURES)] == [*features.CATEGORICAL, *features.NUMERIC]  # the fixed features,
    assert set(features.sensor_features("vibration_mm_s")) <= set(signature)  # then the sensors' and components'
    assert "days_since_maintenance_motor" in signature
    assert model_info.saved_input_example_info is not None
    assert not (ROOT / "mlruns").exists() and not Path("mlruns").exists()
    decisions = lake.read("ops.model_promotions", filters=[("challenger_version", "=", "1")]).to_pandas()
    assert sorted(decisions["model_name"]) == sorted([registry.FAILURE_MODEL, registry.COST_MODEL])
    assert decisions["champion_score"].isna().all() and decisions["promoted"].all()
    assert (decisions["gain_vs_baseline_low"] > 0).all() and (decisions["holdout_failures"] > 0).all()
    assert decisions["baseline_score"].notna().all() and decisions["gain_vs_champion"].isna().all()
    stored = read_training_set(lake, mldata.END, horizon_days=7)
    assert len(stored.frame) == result.training_set_rows


def test_training_never_records_a_secret_in_mlflow_or_the_logs(trained):
    """A whole training run (both models, the gate) with the secrets set: MLflow params, tags and
    registered versions, the promotion table and the DEBUG logs hold none of them."""
    lake, _, home = trained
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    recorded = []
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            recorded.append(repr(run.data.params) + repr(run.data.tags) + repr(run.data.metrics)
                            + repr(run.inputs.dataset_inputs))
    recorded += [repr(v.tags) + repr(v.description) for v in client.search_model_versions()]
    assert len(recorded) >= 4 and any("gold.machine_daily" in text for text in recorded)
    recorded.append(repr(lake.read("ops.model_promotions").to_pylist()))
    logs = (home / "training.log").read_text()
    assert "DEBUG ml.registry" in logs  # the logs really were at their most talkative (params and tags)
    for secret in (AWS_SECRET, WEBHOOK_SECRET):
        assert not any(secret in text for text in recorded)
        assert secret not in logs


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
        assert "stays challenger" in client.get_model_version(challenger.name, "2").description
    # the champion was re-scored on the challenger's holdout (the same one here: same window)
    assert weak.decision.champion_score == pytest.approx(result.failure.metrics["pr_auc"])
    assert weak.decision.challenger_score < weak.decision.champion_score
    assert weak_cost.decision.challenger_score > weak_cost.decision.champion_score  # MAE: lower is better
    decisions = lake.read("ops.model_promotions").to_pandas().set_index(["model_name", "challenger_version"])
    row = decisions.loc[(registry.FAILURE_MODEL, "2")]
    assert not row["promoted"] and row["champion_version"] == "1" and row["metric"] == "pr_auc"
    assert row["challenger_score"] == pytest.approx(weak.metrics["pr_auc"])
    assert row["champion_score"] == pytest.approx(result.failure.metrics["pr_auc"])
    # the machine age alone does not beat the sensors' logistic regression: refused on that alone
    assert row["reason"].startswith("does not beat the baseline") and row["holdout"].startswith("train ")
    assert row["gain_vs_baseline_low"] <= 0 and row["gain_vs_champion_high"] < 0
    assert row["baseline_score"] == pytest.approx(result.failure.metrics["baseline_pr_auc"])
    assert decisions.loc[(registry.COST_MODEL, "2")]["metric"] == "mae_eur"


def test_the_champion_loads_by_alias_in_a_fresh_process_and_predicts_machine_daily_rows(trained):
    lake, result, home = trained
    night = mldata.END
    script = textwrap.dedent(f"""
        import datetime as dt, json
        import mlflow
        from lakehouse.delta import Lake
        from ml import features, scoring
        from ml.registry import load_champions
        champions = load_champions()
        day = dt.date.fromisoformat("{night}")
        daily, _, _ = scoring.read_inputs(Lake(), [day])
        rows = champions.predict(daily, start=day)
        pyfunc = mlflow.pyfunc.load_model("models:/plantlake-failure@champion")
        model = champions.failure
        served = pyfunc.predict(features.feature_frame(daily, start=day, numeric=model.numeric)[
            [*model.categorical, *model.numeric]])
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
    here = registry.load_champions().predict(scoring.read_inputs(lake, [night])[0], start=night)
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
    """``plantlake train`` (the retrain job) on data without cost figures, as the Azure export is: the failure
    model trains and is gated, the cost step is skipped with one line saying why, and the command succeeds."""
    from typer.testing import CliRunner

    from orchestration.cli import app

    for name, value in home_environment(tmp_path).items():  # the whole home: the lake URI too, not the module's
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PLANTLAKE_BACKTEST_FOLDS", "1")  # the gate's decision, not the backtest (the module's run)
    lake = Lake(str(tmp_path / "lake"))
    frames = mldata.history(seed=5)
    frames["silver.failures"]["repair_cost_eur"] = None
    frames["silver.failures"]["downtime_minutes"] = None
    frames["silver.maintenance"] = frames["silver.maintenance"].iloc[0:0]
    for name, frame in frames.items():
        if len(frame):
            lake.append(name, mldata._table(name, frame))
    done = CliRunner().invoke(app, ["train", "--end-date", mldata.END.isoformat()])
    assert done.exit_code == 0, done.output
    skipped = [line for line in done.output.splitlines() if "skipped" in line]
    assert len(skipped) == 1, done.output
    assert "models/failure_cost_model skipped: no failure with a known cost" in skipped[0]
    assert "succeeded" in done.output
    decisions = lake.read("ops.model_promotions").to_pandas()
    assert decisions["model_name"].tolist() == [registry.FAILURE_MODEL] and decisions["promoted"].all()
    assert (decisions["gain_vs_baseline_low"] > 0).all()  # promoted because it beat the baseline
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
