"""The failure model's quality floor on the simulator's data, through the real nightly pipeline.

3 plants x 40 machines x 150 nights (``tests.mlnetwork``) are simulated, landed and processed
by Spark into gold.machine_daily, then the same training code as the retrain job runs on
them. The floor (docs/models.md, Quality floors): holdout PR-AUC at least 5 times the base rate and at least
0.5, and caught failures flagged on average at least 2 days ahead. The Azure PdM floor is
tests/test_pipeline_azure.py's.
"""

from __future__ import annotations

import pytest

from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home
from ml.train import train_all
from tests import mlnetwork

NETWORK = mlnetwork.TrainingNetwork()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    home = tmp_path_factory.mktemp("quality")
    mlnetwork.build(home, NETWORK)
    with plantlake_home(home):
        yield train_all(Lake(), NETWORK.end, horizon_days=7)


def test_the_failure_model_clears_its_floor_on_the_simulators_data(trained):
    metrics = trained.failure.metrics
    assert metrics["pr_auc"] >= 0.5, metrics
    assert metrics["pr_auc"] >= 5 * metrics["base_rate"], metrics
    assert metrics["failures"] >= 20 and metrics["mean_lead_time_days"] >= 2, metrics


def test_the_cost_model_beats_the_per_component_median(trained):
    metrics = trained.cost.metrics
    assert metrics["mae_eur"] < metrics["baseline_mae_eur"], metrics
