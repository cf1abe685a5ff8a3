"""The failure model's quality floor on the simulator's data, through the real nightly pipeline.

One plant x 120 machines x 105 nights (``tests.mlnetwork``) are simulated, landed and processed
by Spark into gold.machine_daily, then the weekly retrain job trains both models on them (the
session's ``simulated_champion``, which the soak scores with too). The floor (docs/models.md,
Quality floors): holdout PR-AUC at least 5 times the base rate and at least 0.5, and caught
failures flagged on average at least 2 days ahead; and the model beats its baseline (a logistic
regression on the daily sensor means and spreads, same rows) by a paired 95 % interval wholly above
0.05 PR-AUC, on the holdout and on the backtest's folds pooled. The Azure PdM floor is
tests/test_pipeline_azure.py's.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lakehouse.settings import environment
from ml import registry

pytestmark = [pytest.mark.spark, pytest.mark.slow]

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def metrics(simulated_champion) -> dict[str, dict[str, float]]:
    """The holdout figures the champions were logged with, by model: the run's metrics and its
    ``evaluation/metrics.json`` (every figure, the backtest's included)."""
    import mlflow

    with environment(simulated_champion):
        client = registry.client()
        out = {}
        for name in (registry.FAILURE_MODEL, registry.COST_MODEL):
            champion = client.get_model_version_by_alias(name, registry.CHAMPION)
            every = mlflow.artifacts.download_artifacts(run_id=champion.run_id, artifact_path="evaluation/metrics.json")
            out[name] = {**json.loads(Path(every).read_text()), **client.get_run(champion.run_id).data.metrics}
    return out


def test_the_failure_model_clears_its_floor_on_the_simulators_data(metrics):
    failure = metrics[registry.FAILURE_MODEL]
    assert failure["pr_auc"] >= 0.5, failure
    assert failure["pr_auc"] >= 5 * failure["base_rate"], failure
    assert failure["failures"] >= 20 and failure["lead_time_days"] >= 2, failure


def interval(figures: dict[str, float], name: str) -> str:
    return f"{figures[name]:+.3f} [{figures[name + '_low']:+.3f}, {figures[name + '_high']:+.3f}]"


def test_the_failure_model_beats_its_baseline_beyond_noise(metrics):
    failure = metrics[registry.FAILURE_MODEL]
    log.info("simulator, holdout (%d failures): PR-AUC %s, baseline %s, gain %s; backtest (%d folds, %d failures): "
             "PR-AUC %s, baseline %s, gain %s", failure["failures"], interval(failure, "pr_auc"),
             interval(failure, "baseline_pr_auc"), interval(failure, "gain_vs_baseline"), failure["backtest_folds"],
             failure["backtest_failures"], interval(failure, "backtest_pr_auc"),
             interval(failure, "backtest_baseline_pr_auc"), interval(failure, "backtest_gain_vs_baseline"))
    assert failure["promoted"] == 1 and failure["backtest_folds"] == 3, failure
    assert failure["gain_vs_baseline_low"] >= 0.05, failure  # the paired interval, not two scores side by side
    assert failure["backtest_gain_vs_baseline_low"] >= 0.05, failure
    assert failure["pr_auc_low"] > failure["baseline_pr_auc_high"], failure  # even the unpaired intervals part


def test_the_cost_model_beats_the_per_component_median(metrics):
    cost = metrics[registry.COST_MODEL]
    assert cost["mae_eur"] < cost["baseline_mae_eur"], cost
