"""Jobs and schedules: the nightly run of every layer."""

import os

import dagster as dg

from orchestration import partitions

nightly_job = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.groups("bronze", "silver", "gold"),
    partitions_def=partitions.daily,
    description="Land the night's drops and build silver and gold for it (a range of nights runs as one run).",
)

#: Hour (UTC) of the nightly run: after the last plants' production day has ended.
NIGHTLY_HOUR = int(os.environ.get("PLANTLAKE_NIGHTLY_HOUR", "6"))

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly_job,
    hour_of_day=NIGHTLY_HOUR,
    description="Every night: yesterday's partition, all plants.",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
