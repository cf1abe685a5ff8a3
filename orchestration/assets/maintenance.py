"""Weekly maintenance: keep every table small in files and log, and the Dagster run history bounded.

Compaction merges the small files nightly slice writes leave; vacuum deletes the files no
snapshot younger than the retention needs (time travel keeps 7 days by default); a log
checkpoint plus cleanup keeps ``_delta_log`` short. None of it changes a table's rows.
"""

import datetime as dt

import dagster as dg

from lakehouse import catalog
from lakehouse.delta import VACUUM_RETENTION_HOURS
from lakehouse.ops_tables import TABLE_MAINTENANCE
from orchestration.metadata import asset_spec, materialized
from orchestration.resources import LakeResource


class MaintenanceConfig(dg.Config):
    vacuum_hours: int = VACUUM_RETENTION_HOURS  # time travel reaches this far back
    log_retention_hours: int = 30 * 24  # Delta log entries older than this go after a checkpoint
    run_retention_days: int = 90  # Dagster runs older than this are deleted from the instance


def prune_runs(instance: dg.DagsterInstance, days: int) -> int:
    """Delete Dagster runs (and their event logs) created more than ``days`` ago."""
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
    old = instance.get_run_records(filters=dg.RunsFilter(created_before=cutoff))
    for record in old:
        instance.delete_run(record.dagster_run.run_id)
    return len(old)


@dg.multi_asset(
    name="table_maintenance",
    specs=[asset_spec(TABLE_MAINTENANCE, {"python"}, group="maintenance")],
    description="Compact, vacuum and checkpoint every lake table; prune old Dagster runs.",
)
def table_maintenance(context: dg.AssetExecutionContext, config: MaintenanceConfig, lake: LakeResource):
    the_lake = lake.lake()
    compacted = vacuumed = tables = 0
    for spec in catalog.tables():
        if not the_lake.exists(spec):
            continue
        tables += 1
        compacted += the_lake.optimize(spec).get("numFilesRemoved", 0)
        vacuumed += the_lake.vacuum(spec, retention_hours=config.vacuum_hours)["numFilesDeleted"]
        the_lake.checkpoint(spec, log_retention_hours=config.log_retention_hours)
    pruned = prune_runs(context.instance, config.run_retention_days)
    context.log.info(
        "%d tables: %d files compacted, %d vacuumed; %d old runs pruned", tables, compacted, vacuumed, pruned
    )
    extra = {"tables": tables, "files_compacted": compacted, "files_vacuumed": vacuumed, "runs_pruned": pruned}
    return materialized(the_lake, TABLE_MAINTENANCE, the_lake.version(TABLE_MAINTENANCE), extra=extra)
