"""MLflow artifacts on S3: the models, plots and evaluation files of a training run go to the real
local S3 server (SeaweedFS), and the champions load back from it by alias."""

from __future__ import annotations

import uuid

from mlflow.tracking import MlflowClient

from lakehouse import storage
from lakehouse.delta import Lake
from lakehouse.settings import get_settings
from ml import registry, scoring
from ml.train import train_all
from tests import mldata
from tests.conftest import TEST_BUCKET


def test_models_and_plots_live_on_s3_and_load_by_alias(s3_env, tmp_path, monkeypatch):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/mlartifacts"
    monkeypatch.setenv("PLANTLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("PLANTLAKE_MLFLOW_ARTIFACTS", root)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("PLANTLAKE_BACKTEST_FOLDS", "1")  # where the artifacts go, not the backtest (tests/test_ml.py)
    lake = Lake(str(tmp_path / "lake"))
    mldata.write(lake)
    result = train_all(lake, mldata.END, horizon_days=7)

    client = MlflowClient(get_settings().mlflow_tracking_uri)
    run = client.get_run(result.failure.run_id)
    assert client.get_experiment(run.info.experiment_id).artifact_location == f"{root}/{registry.FAILURE_MODEL}"
    stored = [f.rsplit("/", 1)[1] for f in storage.list_files(root)]
    assert {"model.skops", "MLmodel", "pr_curve.png", "calibration.png", "predicted_vs_actual.png"} <= set(stored)
    assert not (tmp_path / "mlartifacts").exists()  # nothing fell back to the local folder
    champions = registry.load_champions()
    rows = champions.predict(scoring.read_inputs(lake, [mldata.END])[0], start=mldata.END)
    assert len(rows) == len(mldata.PLANTS) * mldata.MACHINES and rows["failure_probability"].between(0, 1).all()
