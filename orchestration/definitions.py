"""The one Dagster code location of plantlake: ``workspace.yaml`` loads ``defs``.

The code location is built by a function of the settings (:func:`build_definitions`), so the
partitions, schedules, sensors and resources follow the settings the loading process has, and
a test or a benchmark builds it for another first date or deployment in its own process.
"""

from __future__ import annotations

import functools

import dagster as dg

from lakehouse import catalog
from lakehouse.settings import Settings, get_settings
from orchestration import jobs, partitions
from orchestration.assets.bronze import DROPS, landing_asset
from orchestration.assets.gold import gold_assets
from orchestration.assets.maintenance import table_maintenance
from orchestration.assets.models import MODEL_ASSETS, scoring_assets
from orchestration.assets.monitor import monitor_assets
from orchestration.assets.silver import silver_assets
from orchestration.checks import expectation_checks
from orchestration.resources import resources
from orchestration.sensors import landing_sensor, run_failure_recorder


@functools.cache
def build_definitions(settings: Settings) -> dg.Definitions:
    """Every asset, check, job, schedule, sensor and resource, for ``settings``; every job, the implicit asset
    job included, runs its steps in the run's process (orchestration/jobs.py)."""
    orchestration = settings.orchestration
    daily = partitions.daily(orchestration.first_date)
    freshness = partitions.nightly_freshness(orchestration)
    nightly_assets = [
        landing_asset(daily),
        *silver_assets(daily),
        *gold_assets(daily, freshness),
        *scoring_assets(daily, freshness),
        *monitor_assets(daily, freshness),
    ]
    nightly = jobs.nightly_job(daily)
    return dg.Definitions(
        assets=[DROPS, *nightly_assets, *MODEL_ASSETS, table_maintenance],
        asset_checks=expectation_checks(nightly_tables(nightly_assets), daily),
        jobs=[nightly, jobs.retrain_job, jobs.maintenance_job],
        schedules=[
            jobs.nightly_schedule(nightly, orchestration),
            jobs.retrain_schedule(orchestration),
            jobs.maintenance_schedule,
        ],
        sensors=[landing_sensor(nightly, daily, orchestration), run_failure_recorder],
        resources=resources(settings),
        # the implicit asset job (the UI's Materialize of assets outside one job) runs in process too
        executor=dg.in_process_executor,
    )


def nightly_tables(assets: list[dg.AssetsDefinition]) -> list[catalog.TableSpec]:
    """The catalog tables the nightly assets write: each is checked on the slices a run wrote."""
    names = {".".join(k.path) for a in assets for k in a.keys}
    return [spec for spec in catalog.tables() if spec.name in names]


@dg.definitions
def defs() -> dg.Definitions:
    """The code location for the settings of the loading process (the webserver's, the daemon's, a run's)."""
    return build_definitions(get_settings())
