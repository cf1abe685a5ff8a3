"""Sensors: start a run when drops are complete; record every failed run in ``ops.run_failures``."""


import datetime as dt
import hashlib
from collections import defaultdict

import dagster as dg
import pyarrow as pa

from lakehouse.delta import Lake
from lakehouse.settings import OrchestrationSettings, redact
from orchestration.resources import LakeResource
from sources.landing import pending


def landing_requests(lake: Lake, landing_uri: str, today: dt.date, days: int,
                     partitions_def: dg.PartitionsDefinition) -> list[dg.RunRequest]:
    """One run per night with complete, not yet landed drops, limited to the plants that sent them.

    The run key names the drops' manifests, so a drop is requested once per version: a late
    plant's drop starts a run for that plant only, and a resend with new content starts a new one.
    """
    keys = set(partitions_def.get_partition_keys(current_time=dt.datetime.combine(today, dt.time(23, 59))))
    nights = [today - dt.timedelta(days=i) for i in range(days)]
    by_night: dict[dt.date, list] = defaultdict(list)
    for drop in pending(landing_uri, lake, [n for n in nights if n.isoformat() in keys]):
        by_night[drop.ref.date].append(drop)
    requests = []
    for night, drops in sorted(by_night.items()):
        sources = sorted({d.ref.source for d in drops})
        versions = ",".join(sorted(f"{d.drop_id}@{d.manifest.sha256}" for d in drops))
        requests.append(
            dg.RunRequest(
                run_key=f"landing:{night}:{hashlib.sha256(versions.encode()).hexdigest()[:16]}",
                partition_key=night.isoformat(),
                run_config={"resources": {"scope": {"config": {"plants": sources}}}},
                tags={"plantlake/trigger": "landing", "plantlake/plants": ",".join(sources)},
            )
        )
    return requests


def landing_sensor(job: "dg.UnresolvedAssetJobDefinition", partitions_def: dg.PartitionsDefinition,
                   settings: OrchestrationSettings) -> dg.SensorDefinition:
    """Every minute: a run for the plants whose drops of the last ``sensor_days`` nights are complete and not
    landed yet. Running from the daemon's start unless PLANTLAKE_LANDING_SENSOR=false."""

    @dg.sensor(
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING if settings.landing_sensor else dg.DefaultSensorStatus.STOPPED,
        description=f"Starts a run for the plants whose drops of the last {settings.sensor_days} nights are "
        "complete (manifest present) and not landed yet.",
    )
    def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
        requests = landing_requests(lake.lake(), lake.landing, dt.datetime.now(dt.UTC).date(), settings.sensor_days,
                                    partitions_def)
        if not requests:
            return dg.SkipReason("no complete drop waiting to be landed")
        return requests

    return landing_sensor


def failure_record(run: dg.DagsterRun, message: str, failed_steps: list[str]) -> pa.Table:
    tags = run.tags
    partitions_text = tags.get("dagster/partition") or (
        f"{tags['dagster/asset_partition_range_start']}..{tags['dagster/asset_partition_range_end']}"
        if "dagster/asset_partition_range_start" in tags
        else None
    )
    scope = (run.run_config or {}).get("resources", {}).get("scope", {}).get("config", {}).get("plants")
    now = dt.datetime.now(dt.UTC)
    return pa.table(
        {
            "date": [now.date()],
            "run_id": [run.run_id],
            "job_name": [run.job_name],
            "partitions": [partitions_text],
            "plants": [",".join(scope) if scope else None],
            "failed_at": [now],
            "failed_steps": [",".join(failed_steps) or None],
            "error": [redact(message)[:4000]],
        }
    )


@dg.run_failure_sensor(
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Records every failed run in ops.run_failures.",
)
def run_failure_recorder(context: dg.RunFailureSensorContext, lake: LakeResource):
    steps = [e.step_key for e in context.get_step_failure_events() if e.step_key]
    details = [
        e.event_specific_data.error.message
        for e in context.get_step_failure_events()
        if e.event_specific_data and getattr(e.event_specific_data, "error", None)
    ]
    message = "\n".join([context.failure_event.message or "", *details])
    lake.lake().merge("ops.run_failures", failure_record(context.dagster_run, message, steps))
