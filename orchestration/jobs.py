"""Jobs and schedules: the nightly run of every layer, weekly retraining and weekly table maintenance."""

import dagster as dg

from orchestration import partitions
from orchestration.environment import current

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.groups("bronze", "silver", "gold"),
    partitions_def=partitions.daily,
    description="Land the night's drops, build silver and gold, score the machines and raise the alerts "
    "(a range of nights runs as one run).",
)

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    hour_of_day=partitions.NIGHTLY_HOUR,
    description="Every night: yesterday's partition, all plants.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

maintenance_job = dg.define_asset_job(
    "maintenance",
    selection=dg.AssetSelection.groups("maintenance"),
    description="Compact, vacuum and checkpoint every table; prune old Dagster runs.",
)

maintenance_schedule = dg.ScheduleDefinition(
    job=maintenance_job,
    cron_schedule="0 3 * * 0",
    execution_timezone="UTC",
    description="Every Sunday at 03:00 UTC, between nightly runs.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

retrain_job = dg.define_asset_job(
    "retrain",
    selection=dg.AssetSelection.groups("models"),
    description="Rebuild the training set, retrain both models and pass them through the promotion gate.",
)

#: Weekly retraining: Saturday (UTC), after the nightly run, so Sunday's night is scored by the new champion.
retrain_schedule = dg.ScheduleDefinition(
    job=retrain_job,
    cron_schedule=current().retrain_cron,
    execution_timezone="UTC",
    description="Every Saturday at 09:00 UTC (PLANTLAKE_RETRAIN_CRON), after the nightly run.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
