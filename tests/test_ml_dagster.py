"""The models in Dagster: the retrain job trains and crowns both models, the nightly scoring assets
score, raise alerts and send them to a real local HTTP webhook that is first down, then up.

The webhook is a real HTTP server on 127.0.0.1 (``http.server`` in a thread). The lake holds
the small synthetic history of ``tests.mldata`` (no Spark needed to score it).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from lakehouse.delta import Lake
from lakehouse.settings import get_settings, plantlake_home
from ml import registry
from ml.sink import DeliveryError, deliver
from ml.tables import FAILURE_RISK, FAILURE_TRAINING_SET, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from orchestration.definitions import defs
from orchestration.metadata import key
from orchestration.runs import run_config
from tests import mldata
from tests.pipeline import materialized

NIGHT = mldata.END
TOKEN = "hook-token-7f3a9c"  # a webhook secret: sent as a bearer token, never logged


class Webhook:
    """A real HTTP receiver: answers 503 while ``down``, else 200, and records every POST."""

    def __init__(self):
        self.down = True
        self.received: list[dict] = []
        self.refused = 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.down:
                    hook.refused += 1
                    self.send_response(503)
                else:
                    hook.received.append({"body": body, "auth": self.headers.get("Authorization"),
                                          "key": self.headers.get("Idempotency-Key")})
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    home = tmp_path_factory.mktemp("ml-dagster")
    with plantlake_home(home), pytest.MonkeyPatch.context() as mp, Webhook() as hook:
        mp.setenv("PLANTLAKE_FIRST_DATE", str(mldata.START))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("PLANTLAKE_ALERT_WEBHOOK_URL", hook.url)
        mp.setenv("PLANTLAKE_ALERT_WEBHOOK_TOKEN", TOKEN)
        mp.setenv("PLANTLAKE_ALERT_WEBHOOK_ATTEMPTS", "2")
        mp.setenv("PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S", "0.05")
        mp.setenv("PLANTLAKE_ALERT_BUDGET", "2")
        mp.setenv("PLANTLAKE_BACKTEST_FOLDS", "1")  # the backtest's folds are tests/test_ml.py's concern
        lake = Lake()
        mldata.write(lake)
        instance = dg.DagsterInstance.ephemeral()
        retrain = defs().resolve_job_def("retrain").execute_in_process(instance=instance, raise_on_error=False)
        scoring = [key(s) for s in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)]

        def score():
            return defs().resolve_job_def("nightly").execute_in_process(
                instance=instance, partition_key=NIGHT.isoformat(), asset_selection=scoring,
                run_config=run_config(), raise_on_error=False)

        down = score()
        pending = lake.read(MAINTENANCE_ALERTS).to_pandas()
        hook.down = False
        up = score()
        delivered = lake.read(MAINTENANCE_ALERTS).to_pandas()
        again = score()
        yield {"lake": lake, "retrain": retrain, "down": down, "up": up, "again": again, "hook": hook,
               "pending": pending, "delivered": delivered, "instance": instance}


def test_the_retrain_job_trains_registers_and_crowns_both_models(story):
    result = story["retrain"]
    assert result.success
    assert materialized(result) == {"gold/failure_training_set", "models/failure_model", "models/failure_cost_model"}
    client = MlflowClient(get_settings().mlflow_tracking_uri)
    ui = get_settings().mlflow_ui_url.rstrip("/")
    assert ui.startswith("http://")  # no tracking server: the MLflow UI's default address
    for name, node in ((registry.FAILURE_MODEL, "models__failure_model"),
                       (registry.COST_MODEL, "models__failure_cost_model")):
        champion = client.get_model_version_by_alias(name, "champion")
        run = client.get_run(champion.run_id)
        assert run.data.tags["dagster.run_id"] == result.run_id
        # the Dagster UI links to the model's MLflow run and to its experiment's runs: links, not text to copy
        links = result.asset_materializations_for_node(node)[0].metadata
        assert isinstance(links["mlflow_run_id"], dg.UrlMetadataValue), links["mlflow_run_id"]
        assert links["mlflow_run_id"].value == f"{ui}/#/runs/{champion.run_id}"
        assert isinstance(links["mlflow_runs"], dg.UrlMetadataValue)
        assert links["mlflow_runs"].value.startswith(f"{ui}/#/experiments/{run.info.experiment_id}/runs")
    model = result.asset_materializations_for_node("models__failure_model")[0]
    assert model.metadata["promoted"].value is True and model.metadata["pr_auc"].value > 0
    training = result.asset_materializations_for_node("failure_training_set")[0]
    assert training.metadata["dagster/row_count"].value == len(mldata.PLANTS) * mldata.MACHINES * mldata.DAYS
    decisions = story["lake"].read("ops.model_promotions").to_pandas()
    assert set(decisions["dagster_run_id"]) == {result.run_id}


def test_nightly_scoring_writes_risk_alerts_and_the_savings_forecast(story):
    lake, run = story["lake"], story["up"]
    assert run.success and story["down"].success
    assert materialized(run) == {"gold/failure_risk", "gold/maintenance_alerts", "gold/savings_forecast"}
    risk = lake.read(FAILURE_RISK, filters=[("date", "=", NIGHT)])
    assert risk.num_rows == len(mldata.PLANTS) * mldata.MACHINES
    assert set(risk.column("model_version").to_pylist()) == {"1"}
    alerts = story["delivered"]
    assert len(alerts) and alerts.groupby("plant_id").size().max() <= 2
    assert (alerts["expected_saving_eur"] > 0).all() and alerts["recommended_action"].notna().all()
    forecast = lake.read(SAVINGS_FORECAST).to_pandas()
    assert forecast["alerts"].sum() == len(alerts)
    from typer.testing import CliRunner

    from orchestration.cli import app

    for spec in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST, FAILURE_TRAINING_SET):
        out = CliRunner().invoke(app, ["sql", f"SELECT count(*) AS n FROM {spec.name}", "--format", "json"])
        assert out.exit_code == 0 and json.loads(out.output)[0]["n"] == lake.count(spec) > 0, out.output
    checks = [e for e in run.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert {e.event_specific_data.asset_key.to_user_string() for e in checks} == {
        "gold/failure_risk", "gold/maintenance_alerts", "gold/savings_forecast"}
    assert all(e.event_specific_data.passed for e in checks)


def test_a_webhook_that_is_down_keeps_alerts_pending_and_they_are_delivered_once_later(story):
    hook, pending, delivered = story["hook"], story["pending"], story["delivered"]
    assert hook.refused >= 2  # retried (2 attempts), then the run stopped sending and left the rest pending
    assert set(pending["status"]) == {"pending"}
    assert pending["delivery_attempts"].max() == 2 and pending["last_error"].dropna().str.contains("503").all()
    assert set(delivered["status"]) == {"delivered"} and delivered["delivered_at"].notna().all()
    ids = [r["body"]["alert_id"] for r in hook.received]
    assert sorted(ids) == sorted(delivered["alert_id"])  # every alert once, the third run sent nothing again
    assert all(r["key"] == r["body"]["alert_id"] for r in hook.received)
    assert all(r["auth"] == f"Bearer {TOKEN}" for r in hook.received)
    body = hook.received[0]["body"]
    assert body["recommended_action"] and body["expected_saving_eur"] > 0 and body["date"] == NIGHT.isoformat()
    run = story["again"]
    assert run.success
    meta = run.asset_materializations_for_node("gold_maintenance_alerts")[0].metadata
    assert meta["delivered"].value == 0 and meta["alerts_raised"].value == len(delivered)


def test_the_webhook_token_is_in_no_log_or_run_metadata(story):
    records = story["instance"].all_logs(story["down"].run_id) + story["instance"].all_logs(story["up"].run_id)
    text = "\n".join(str(r.dagster_event) + (r.user_message or "") for r in records)
    assert "alert " in text  # the alerts are logged
    assert TOKEN not in text


def test_delivery_backs_off_exponentially_and_stops_at_a_client_error():
    import pandas as pd

    waits: list[float] = []

    class Flaky:
        def __init__(self, errors):
            self.errors, self.calls = list(errors), 0

        def send(self, payload):
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)

    alert = {c: None for c in MAINTENANCE_ALERTS.column_names} | {
        "alert_id": "a1", "date": dt.date(2025, 6, 1), "plant_id": "DE01", "machine_id": "M1", "rank_in_plant": 1,
        "status": "pending", "delivery_attempts": 0}
    frame = pd.DataFrame([alert])
    flaky = Flaky([DeliveryError("HTTP 503", True)] * 3)
    report = deliver(frame, flaky, attempts=4, backoff_s=0.5, backoff_max_s=1.5, sleep=waits.append)
    assert report.delivered == 1 and flaky.calls == 4 and waits == [0.5, 1.0, 1.5]
    assert report.updates.iloc[0]["delivery_attempts"] == 4
    refused = Flaky([DeliveryError("HTTP 400 Bad Request", False)])
    report = deliver(frame, refused, attempts=4, sleep=waits.append)
    assert refused.calls == 1 and report.failed == 1
    assert report.updates.iloc[0]["status"] == "pending" and "400" in report.updates.iloc[0]["last_error"]


def test_plantlake_train_retrains_and_gates_from_the_command_line(story):
    from typer.testing import CliRunner

    from orchestration.cli import app

    done = CliRunner().invoke(app, ["train", "--end-date", NIGHT.isoformat()])
    assert done.exit_code == 0, done.output
    assert "succeeded" in done.output
    decisions = story["lake"].read("ops.model_promotions", filters=[("challenger_version", "=", "2")]).to_pandas()
    assert sorted(decisions["model_name"]) == sorted([registry.FAILURE_MODEL, registry.COST_MODEL])
    for row in decisions.itertuples():  # each decided against champion v1, re-scored on the same holdout
        assert row.champion_version == "1" and row.champion_score is not None
        # the same window again trains the same model: within its interval of the champion, it stays challenger
        assert not row.promoted and row.reason.startswith("not better than the champion"), row
        assert row.gain_vs_champion_low <= 0 <= row.gain_vs_champion_high and row.gain_vs_baseline_low > 0, row
