"""Run bookkeeping tables of the storage layer (``ops/``)."""

from lakehouse.catalog import DATE, INT64, STRING, TIMESTAMP, TableSpec, col

TABLE_MAINTENANCE = TableSpec(
    name="ops.table_maintenance",
    description="One row per maintenance operation (compaction, vacuum, checkpoint) run on a lake table.",
    columns=(
        col("date", DATE, "UTC date the operation ran", nullable=False),
        col("table_name", STRING, "Catalog name of the table (layer.table)", nullable=False),
        col("operation", STRING, "optimize, vacuum or checkpoint", nullable=False,
            allowed=("optimize", "vacuum", "checkpoint")),
        col("started_at", TIMESTAMP, "When the operation started", nullable=False),
        col("duration_s", INT64, "Wall time of the operation", unit="s"),
        col("version_before", INT64, "Table version before the operation"),
        col("version_after", INT64, "Table version after the operation"),
        col("files_added", INT64, "Data files added (compaction output)"),
        col("files_removed", INT64, "Data files removed from the snapshot or deleted from storage"),
        col("details", STRING, "The operation's own metrics, as JSON"),
    ),
    partition_by=("date",),
    natural_key=("table_name", "operation", "started_at"),
)

RUN_FAILURES = TableSpec(
    name="ops.run_failures",
    description="Every failed pipeline run, recorded by the run-failure sensor: what failed and why.",
    columns=(
        col("date", DATE, "UTC date the failure was recorded", nullable=False),
        col("run_id", STRING, "Dagster run id", nullable=False),
        col("job_name", STRING, "Job that failed", nullable=False),
        col("partitions", STRING, "Partition or partition range of the run"),
        col("plants", STRING, "Plants in scope (empty: all)"),
        col("failed_at", TIMESTAMP, "When the failure was recorded", nullable=False),
        col("failed_steps", STRING, "Steps that failed, comma-separated"),
        col("error", STRING, "The failure message (credentials redacted)"),
    ),
    partition_by=("date",),
    natural_key=("run_id",),
)

TABLES = [TABLE_MAINTENANCE, RUN_FAILURES]
