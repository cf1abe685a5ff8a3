"""The one Dagster code location of plantlake (``workspace.yaml`` loads ``defs``)."""

import dagster as dg

from orchestration.assets.bronze import DROPS, landing
from orchestration.assets.gold import GOLD_ASSETS
from orchestration.assets.maintenance import table_maintenance
from orchestration.assets.models import MODEL_ASSETS, SCORING_ASSETS
from orchestration.assets.silver import SILVER_ASSETS
from orchestration.checks import EXPECTATION_CHECKS
from orchestration.jobs import (
    maintenance_job,
    maintenance_schedule,
    nightly_job,
    nightly_schedule,
    retrain_job,
    retrain_schedule,
)
from orchestration.resources import resources
from orchestration.sensors import landing_sensor, run_failure_recorder

defs = dg.Definitions(
    assets=[DROPS, landing, *SILVER_ASSETS, *GOLD_ASSETS, *SCORING_ASSETS, *MODEL_ASSETS, table_maintenance],
    asset_checks=EXPECTATION_CHECKS,
    jobs=[nightly_job, retrain_job, maintenance_job],
    schedules=[nightly_schedule, retrain_schedule, maintenance_schedule],
    sensors=[landing_sensor, run_failure_recorder],
    resources=resources(),
)
