"""The one Dagster code location of plantlake (``workspace.yaml`` loads ``defs``)."""

import dagster as dg

from orchestration.assets.bronze import landing
from orchestration.assets.gold import GOLD_ASSETS
from orchestration.assets.silver import SILVER_ASSETS
from orchestration.checks import EXPECTATION_CHECKS
from orchestration.jobs import nightly_job, nightly_schedule
from orchestration.resources import resources
from orchestration.sensors import landing_sensor, run_failure_recorder

defs = dg.Definitions(
    assets=[landing, *SILVER_ASSETS, *GOLD_ASSETS],
    asset_checks=EXPECTATION_CHECKS,
    jobs=[nightly_job],
    schedules=[nightly_schedule],
    sensors=[landing_sensor, run_failure_recorder],
    resources=resources(),
)
