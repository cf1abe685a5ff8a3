"""Jobs and schedules: the nightly run of every layer, weekly retraining and weekly table maintenance.

Every job runs its steps in one process (the in-process executor): the Spark steps share that
process's one session, so a run started by the schedule, the sensor or the UI costs what
``plantlake run`` costs, and its memory is one JVM's, not one per step (docs/pipeline.md).
A cluster named by ``PLANTLAKE_SPARK_MASTER`` or ``SPARK_REMOTE`` does the heavy work wherever
the run's process is.
"""

from __future__ import annotations

import dagster as dg

from lakehouse.settings import OrchestrationSettings

NIGHTLY = "nightly"
RETRAIN = "retrain"
MAINTENANCE = "maintenance"


def nightly_job(partitions_def: dg.PartitionsDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        NIGHTLY,
        selection=dg.AssetSelection.groups("bronze", "silver", "gold"),
        partitions_def=partitions_def,
        executor_def=dg.in_process_executor,
        description="Land the night's drops, build silver and gold, score the machines and raise the alerts "
        "(a range of nights runs as one run).",
    )


def nightly_schedule(job: dg.UnresolvedAssetJobDefinition, settings: OrchestrationSettings) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        job,
        hour_of_day=settings.nightly_hour,
        description=f"Every night at {settings.nightly_hour:02d}:00 UTC (PLANTLAKE_NIGHTLY_HOUR): yesterday's "
        "partition, all plants.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


maintenance_job = dg.define_asset_job(
    MAINTENANCE,
    selection=dg.AssetSelection.groups("maintenance"),
    executor_def=dg.in_process_executor,
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
    RETRAIN,
    selection=dg.AssetSelection.groups("models"),
    executor_def=dg.in_process_executor,
    description="Rebuild the training set, retrain both models and pass them through the promotion gate.",
)


def retrain_schedule(settings: OrchestrationSettings) -> dg.ScheduleDefinition:
    """Weekly retraining: by default Saturday (UTC) after the nightly run, so Sunday's night is scored by the
    new champion."""
    return dg.ScheduleDefinition(
        job=retrain_job,
        cron_schedule=settings.retrain_cron,
        execution_timezone="UTC",
        description=f"Retrain at '{settings.retrain_cron}' UTC (PLANTLAKE_RETRAIN_CRON), after the nightly run.",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
