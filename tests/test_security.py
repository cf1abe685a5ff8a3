"""Security: secrets never leave the environment; paths never leave the landing zone.

A full night runs on the real S3 server with DEBUG logging and a webhook secret set; its
output, the Dagster event log (run config, materialization and check metadata) and the
lake's own tables are searched for the secret values.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import dagster as dg
import pytest
import yaml

from lakehouse.delta import Lake
from lakehouse.settings import Settings, plantlake_home
from sources import mapping
from tests.pipeline import START, tiny_network
from tests.servers import venv_command

ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_SECRET = "whk-secret-4f9e2c81d7"


def test_a_night_on_s3_never_logs_or_records_a_secret(s3, tmp_path):
    landing = tmp_path / "landing"
    with plantlake_home(tmp_path):
        tiny_network(landing, days=1)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, **s3.env, "PLANTLAKE_HOME": str(tmp_path), "PLANTLAKE_LANDING_URI": str(landing),
           "PLANTLAKE_LAKE_URI": "s3://plantlake-test/security/lake", "DAGSTER_HOME": str(dagster_home),
           "PLANTLAKE_LOG_LEVEL": "DEBUG", "PLANTLAKE_ALERT_WEBHOOK_TOKEN": WEBHOOK_SECRET,
           "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g"}
    done = subprocess.run([venv_command("plantlake"), "--verbose", "run", "--date",
                           START.isoformat()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    secrets = [s3.secret_key, WEBHOOK_SECRET]
    output = done.stdout + done.stderr
    assert "DEBUG" in output  # the logs really were at their most talkative

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    records = instance.get_run_records()
    assert records
    recorded = []
    for record in records:
        recorded.append(repr(record.dagster_run.run_config) + repr(record.dagster_run.tags))
        recorded += [repr(entry) for entry in instance.all_logs(record.dagster_run.run_id)]
    lake = Lake("s3://plantlake-test/security/lake", Settings.from_env(env))
    tables = [repr(lake.read(name).to_pylist()) for name in ("ops.landed_drops", "bronze.quarantine")]
    for secret in secrets:
        assert secret not in output
        assert not any(secret in text for text in recorded)
        assert not any(secret in text for text in tables)


def test_a_mapping_cannot_point_outside_its_drop(tmp_path):
    body = yaml.safe_load((mapping.BUILTIN_DIR / "plantlake.yaml").read_text())
    for escape in ("../telemetry.csv", "/etc/passwd", "sub/telemetry.csv"):
        body["feeds"]["telemetry"]["file"] = escape
        path = tmp_path / "escape.yaml"
        path.write_text(yaml.safe_dump(body))
        with pytest.raises(ValueError, match="must be a file name inside the drop"):
            mapping.load(path)


def test_settings_and_errors_mask_secrets():
    settings = Settings.from_env({"AWS_SECRET_ACCESS_KEY": "masked-value-123", "AWS_ACCESS_KEY_ID": "AKIA"})
    assert "masked-value-123" not in repr(settings) + repr(settings.describe())


def test_training_never_records_a_secret_in_mlflow_or_the_logs(tmp_path, monkeypatch, caplog):
    """A whole training run (both models, the gate) with the secrets set: MLflow params, tags and
    registered versions, the promotion table and the DEBUG logs hold none of them."""
    from mlflow.tracking import MlflowClient

    from lakehouse.settings import get_settings
    from ml.train import train_all
    from tests import mldata

    secret_key = "aws-secret-9d8c7b6a5f"
    monkeypatch.setenv("PLANTLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "plantlake-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("PLANTLAKE_ALERT_WEBHOOK_TOKEN", WEBHOOK_SECRET)
    caplog.set_level("DEBUG")
    lake = Lake(str(tmp_path / "lake"))
    mldata.write(lake)
    train_all(lake, mldata.END, horizon_days=7)

    client = MlflowClient(get_settings().mlflow_tracking_uri)
    recorded = []
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            recorded.append(repr(run.data.params) + repr(run.data.tags) + repr(run.data.metrics))
    recorded += [repr(v.tags) + repr(v.description) for v in client.search_model_versions()]
    assert len(recorded) >= 4 and any("delta_version.gold.machine_daily" in text for text in recorded)
    recorded.append(repr(lake.read("ops.model_promotions").to_pylist()))
    for secret in (secret_key, WEBHOOK_SECRET):
        assert not any(secret in text for text in recorded)
        assert secret not in caplog.text
