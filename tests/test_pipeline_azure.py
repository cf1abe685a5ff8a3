"""The real Azure PdM plant export runs through bronze, silver and gold.machine_daily as one more plant,
and the failure model's training code clears its floor on it.

The export is imported into daily drops with its mapping (``plantlake import``), then one
backfill run lands every night from its first maintenance record (2014-06-01, which also
carries the machine master) to the end of its telemetry (2015-04-01). The import runs as the console
script; the backfill is ``orchestration.runs.backfill`` (the CLI's job and range, its history kept as the
CLI keeps it) in this process, under settings whose partitions start in 2014 (PLANTLAKE_FIRST_DATE), of
the assets that build what training reads (``ml.train.TRAINING_INPUTS``: landing, the machine path's silver
and gold); the plant has no production or supplier feeds for the rest of the job to build.
The floor (docs/models.md, Quality floors): with a 24-hour horizon, on a time split, holdout PR-AUC at least
5 times the base rate, the low end of its 95 % interval too; and on the backtest's three folds pooled (23
failures: the holdout alone holds 7) the model beats its baseline, a logistic regression on the daily sensor
means and spreads, by a paired interval above 0. The model against the baseline on the holdout, with
intervals, is logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
from pathlib import Path

import pyarrow.compute as pc
import pytest

from lakehouse.delta import Lake
from lakehouse.settings import Settings, environment, restored_environment
from orchestration.runs import backfill
from tests.servers import venv_command

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
AZURE = ROOT.parent / "shared" / "datasets" / "azure_pdm"
FIRST_NIGHT, LAST_NIGHT, END_NIGHT = dt.date(2014, 6, 1), dt.date(2015, 1, 14), dt.date(2015, 4, 1)


def process(command: list[str], env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def azure(tmp_path_factory, spark):
    home = tmp_path_factory.mktemp("azure")
    env = {**os.environ, "PLANTLAKE_HOME": str(home), "PLANTLAKE_FIRST_DATE": "2014-01-01",
           "PLANTLAKE_LOG_LEVEL": "WARNING"}
    env.pop("MLFLOW_TRACKING_URI", None)
    process([venv_command("plantlake"), "import", "--mapping", "azure_pdm",
             "--source", str(AZURE)], env=env)
    with environment({k: env[k] for k in ("PLANTLAKE_HOME", "PLANTLAKE_FIRST_DATE", "PLANTLAKE_LOG_LEVEL")}), \
            restored_environment(["MLFLOW_TRACKING_URI", "PLANTLAKE_LAKE_URI", "PLANTLAKE_LANDING_URI"]):
        for name in ("MLFLOW_TRACKING_URI", "PLANTLAKE_LAKE_URI", "PLANTLAKE_LANDING_URI"):
            os.environ.pop(name, None)
        from ml.train import TRAINING_INPUTS  # imported here: it brings scikit-learn and MLflow

        assert backfill(FIRST_NIGHT, END_NIGHT, TRAINING_INPUTS) == []
    return home, env


def test_azure_plant_lands_and_reaches_machine_daily(azure):
    home, env = azure
    lake = Lake(str(home / "lake"), Settings.from_env(env))
    drops = lake.read("ops.landed_drops")
    assert set(drops.column("status").to_pylist()) == {"landed"}
    assert lake.count("bronze.quarantine") == 0
    assert lake.count("silver.dim_machine") == 100
    daily = lake.read("gold.machine_daily", filters=[("date", ">=", dt.date(2015, 1, 1)), ("date", "<=", LAST_NIGHT)])
    assert set(daily.column("plant_id").to_pylist()) == {"US-AZ1"}
    assert daily.num_rows == 20 * 14  # machines 1-20 have telemetry, 14 nights of January
    last = daily.filter(pc.equal(daily.column("date"), LAST_NIGHT))
    assert last.num_rows == 20
    assert all(r == 24 for r in last.column("readings").to_pylist())  # hourly readings
    sensors = lake.read("gold.machine_sensor_daily", filters=[("date", "=", LAST_NIGHT)])
    assert sensors.num_rows == 20 * 4  # the export's four sensors, under their own names
    assert set(sensors.column("sensor").to_pylist()) == {"volt", "rotate", "pressure", "vibration"}
    assert {r["sensor_id"]: r["unit"] for r in lake.read("silver.dim_sensor").to_pylist()} == {
        "volt": "V", "rotate": "rpm", "pressure": None, "vibration": None}  # units the export does not state
    assert sensors.column("drift_7d").null_count == 0  # a week of history behind it
    assert last.column("days_since_maintenance").null_count == 0  # maintenance records go back to 2014
    assert lake.count("silver.failures", filters=[("date", "<=", LAST_NIGHT)]) > 0


log = logging.getLogger(__name__)


def test_the_failure_model_beats_the_base_rate_five_times_with_a_24_hour_horizon(azure, monkeypatch):
    home, env = azure
    for name in ("PLANTLAKE_HOME", "PLANTLAKE_FIRST_DATE"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    from ml.train import train_all

    result = train_all(Lake(str(home / "lake")), END_NIGHT, horizon_days=1)
    metrics = result.failure.metrics
    log.info("Azure PdM, holdout (%d failures): %s; backtest (%d folds, %d failures): gain %.3f [%.3f, %.3f]",
             metrics["failures"], result.failure.decision.reason, metrics["backtest_folds"],
             metrics["backtest_failures"], metrics["backtest_gain_vs_baseline"],
             metrics["backtest_gain_vs_baseline_low"], metrics["backtest_gain_vs_baseline_high"])
    assert metrics["holdout_positive_rows"] >= 3, metrics  # failures to score against
    assert metrics["pr_auc_low"] >= 5 * metrics["base_rate"], metrics  # the interval's low end, not only the score
    assert metrics["baseline_pr_auc"] > 5 * metrics["base_rate"], metrics  # the baseline read the four sensors
    assert metrics["backtest_folds"] == 3 and metrics["backtest_gain_vs_baseline_low"] > 0, metrics
    assert result.cost is None and "no failure with a known cost" in result.cost_skipped  # the export has no costs
