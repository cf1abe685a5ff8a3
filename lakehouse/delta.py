"""Delta I/O through delta-rs, the lake's only writer.

A :class:`Lake` is bound to one root (a folder or ``s3://bucket/prefix``). Tables are
catalog specs; every write is validated against the spec before anything is written,
and every nightly write replaces exactly one slice (``date = D`` and optionally
``plant_id IN (...)``) so that re-running a night gives the same table.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError
from deltalake.exceptions import TableNotFoundError as DeltaTableNotFound

from lakehouse import catalog, storage
from lakehouse.catalog import TableSpec
from lakehouse.conform import conform
from lakehouse.errors import SchemaMismatchError, TableNotFoundError, explained
from lakehouse.settings import Settings, get_settings
from lakehouse.slices import Slices

log = logging.getLogger(__name__)

#: Folder inside a table where Spark executors stage Parquet files before delta-rs commits them.
STAGING = "_staging"

#: Table properties every table is created with (plain Delta that BI readers such as Athena read).
TABLE_CONFIGURATION = {
    "delta.checkpointInterval": "10",
    "delta.logRetentionDuration": "interval 30 days",
    "delta.deletedFileRetentionDuration": "interval 7 days",
}

#: How often a write whose commit lost to a concurrent, conflicting commit is redone.
COMMIT_ATTEMPTS = 5

#: Default vacuum retention: keeps time travel for 7 days.
VACUUM_RETENTION_HOURS = 168

Filters = list[tuple[str, str, Any]] | list[list[tuple[str, str, Any]]]
TableRef = TableSpec | str


def _table_and_operation(method, lake: Lake, *args, **kwargs) -> tuple[str, str]:
    table = args[0] if args else kwargs.get("table")
    return lake.store, f"{lake.spec(table).name if table is not None else 'lake'} {method.__name__}"


#: Storage failures of a Lake method surface as one StorageError naming the store and the problem.
_explained = explained(_table_and_operation)


def filter_groups(filters: Filters) -> list[list[tuple[str, str, Any]]]:
    """Tuple filters as OR-ed groups of AND-ed conditions (a flat list is one group)."""
    return filters if filters and isinstance(filters[0], list) else [filters]


def _filter_columns(filters: Filters) -> list[str]:
    return list(dict.fromkeys(name for group in filter_groups(filters) for name, _, _ in group))


def _matching(dataset: ds.Dataset, columns: list[str] | None, filters: Filters | None, collect, **scan: Any):
    """``collect(scanner, finish)`` over the rows of ``dataset`` matching ``filters``: ``finish`` turns a table the
    scanner read into the rows and ``columns`` asked for. ``scan`` holds the scanners' own options.

    The filters are pushed down into the scan, so files and row groups are skipped. delta-rs merges write string
    columns as ``string_view``, and pyarrow's scan cannot compare those with a string literal; for such files
    ``collect`` runs again from the start on a scanner of the filters' columns too, and ``finish`` filters in memory.
    """
    expression = pq.filters_to_expression(filters) if filters else None
    try:
        return collect(dataset.scanner(columns=columns, filter=expression, **scan), lambda rows: rows)
    except pa.ArrowNotImplementedError:
        if expression is None:
            raise
    wanted = None if columns is None else list(dict.fromkeys([*columns, *_filter_columns(filters)]))

    def finish(rows: pa.Table) -> pa.Table:
        rows = rows.filter(expression)
        return rows if columns is None else rows.select(columns)

    return collect(dataset.scanner(columns=wanted, **scan), finish)


def _scan(dataset: ds.Dataset, columns: list[str] | None, filters: Filters | None) -> pa.Table:
    """``dataset`` rows matching ``filters``, as one table."""
    return _matching(dataset, columns, filters, lambda scanner, finish: finish(scanner.to_table()))


def count_values(dataset: ds.Dataset, column: str, filters: Filters | None = None) -> dict[Any, int]:
    """Rows per value of ``column`` among the rows of ``dataset`` (a snapshot already opened) matching
    ``filters``, read batch by batch: that one column (and the filters' own) in bounded memory."""
    return _matching(dataset, [column], filters, lambda scanner, finish: _tally(_finished(scanner, finish), column))


def head_of(dataset: ds.Dataset, rows: int, filters: Filters | None = None) -> pa.Table:
    """The first ``rows`` rows of ``dataset`` (a snapshot already opened) matching ``filters``, for previews.

    No read-ahead: with its defaults pyarrow decodes several whole row groups of several files first
    (gigabytes for a preview of a full-network night; docs/performance.md).
    """
    return _matching(dataset, None, filters, lambda scanner, finish: _first(rows, scanner, finish),
                     batch_readahead=0, fragment_readahead=0)


def _first(rows: int, scanner: ds.Scanner, finish) -> pa.Table:
    """The first ``rows`` rows ``finish`` keeps, batch by batch: the scan stops once it has them."""
    kept, found = [finish(scanner.projected_schema.empty_table())], 0
    for part in _finished(scanner, finish):
        kept.append(part)
        found += part.num_rows
        if found >= rows:
            break
    return pa.concat_tables(kept).slice(0, rows)


def _finished(scanner: ds.Scanner, finish):
    """The scanner's batches one by one, each as a table through ``finish``: in bounded memory."""
    return (finish(pa.Table.from_batches([batch])) for batch in scanner.to_batches())


def _tally(batches, column: str) -> dict[Any, int]:
    counts: collections.Counter = collections.Counter()
    for batch in batches:
        for item in pc.value_counts(batch.column(column)).to_pylist():
            counts[item["values"]] += item["counts"]
    return dict(counts)


def _plain(dtable: DeltaTable) -> bool:
    """A table whose files a reader takes as they are (no reader features: deletion vectors, column mapping)."""
    return dtable.protocol().min_reader_version < 3


def kept_files(dtable: DeltaTable, filters: Filters | None) -> pa.Table | None:
    """The snapshot's files that may hold rows matching ``filters``: their path, row count and partition values.

    ``None`` for a table without partition columns or with reader features, and when ``filters`` name a
    column that is not a partition column (only the files' statistics could prune on it). Read from the
    snapshot's add actions: delta-rs's ``to_pyarrow_dataset`` also turns every file's column statistics into
    an expression, which filters on partition columns cannot use and a range of nights (every read of a
    backfill) pays for each of its files (docs/performance.md).
    """
    partitions = dtable.metadata().partition_columns
    if not partitions or (filters and not set(_filter_columns(filters)) <= set(partitions)) or not _plain(dtable):
        return None
    actions = pa.table(dtable.get_add_actions(flatten=True))
    files = pa.table({"path": actions.column("path"), "num_records": actions.column("num_records"),
                      **{name: actions.column(f"partition.{name}") for name in partitions}})
    return files.filter(pq.filters_to_expression(filters)) if filters else files


def files_dataset(dtable: DeltaTable, files: pa.Table, filesystem: pafs.FileSystem) -> ds.Dataset:
    """``files`` (:func:`kept_files`) of ``dtable`` as a pyarrow Dataset, each file tagged with its partition values."""
    partitions = files.drop_columns(["path", "num_records"])
    file_format = ds.ParquetFileFormat(default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=True))
    fragments = [file_format.make_fragment(unquote(path), filesystem=filesystem,
                                           partition_expression=_partition_expression(values))
                 for path, values in zip(files.column("path").to_pylist(), partitions.to_pylist(), strict=True)]
    return ds.FileSystemDataset(fragments, pa.schema(dtable.schema().to_arrow()), file_format, filesystem)


def _partition_expression(values: Mapping[str, Any]) -> ds.Expression:
    """``column == value`` for each partition value of a file (``is_null`` for a null one), AND-ed."""
    expression = pc.scalar(True)
    for name, value in values.items():
        expression = expression & (pc.field(name).is_null() if value is None else pc.field(name) == value)
    return expression


class Lake:
    """The lake under one root URI; every table path is ``<root>/<layer>/<table>``."""

    def __init__(self, root: str | None = None, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.root = (root or self.settings.lake_uri).rstrip("/")

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"

    # -- locations -------------------------------------------------------------------
    @staticmethod
    def spec(table: TableRef) -> TableSpec:
        return table if isinstance(table, TableSpec) else catalog.get(table)

    def uri(self, table: TableRef) -> str:
        return storage.join(self.root, self.spec(table).path)

    @property
    def storage_options(self) -> dict[str, str] | None:
        return storage.delta_storage_options(self.root, self.settings)

    @property
    def store(self) -> str:
        """Where the lake lives, for messages: the S3 endpoint and bucket, or the folder."""
        return storage.store_name(self.root, self.settings)

    @_explained
    def exists(self, table: TableRef) -> bool:
        return storage.exists(storage.join(self.uri(table), "_delta_log"), self.settings)

    @_explained
    def delta_table(self, table: TableRef, version: int | str | dt.datetime | None = None) -> DeltaTable:
        """The table's current snapshot, or an older one (``version`` number or timestamp)."""
        uri = self.uri(table)
        try:
            dtable = DeltaTable(uri, storage_options=self.storage_options)
        except DeltaTableNotFound:
            raise TableNotFoundError(f"{self.spec(table).name}: no Delta table at {uri}") from None
        if version is not None:
            dtable.load_as_version(version)
        return dtable

    @_explained
    def ensure(self, table: TableRef) -> DeltaTable:
        """Create the table from its catalog spec if it does not exist yet; evolve it if the spec gained columns."""
        spec = self.spec(table)
        try:
            return self._evolved(spec, self.delta_table(spec))
        except TableNotFoundError:
            pass
        try:
            return DeltaTable.create(
                self.uri(spec),
                spec.schema,
                mode="ignore",
                partition_by=list(spec.partition_by) or None,
                name=spec.table,
                description=spec.description,
                configuration=TABLE_CONFIGURATION,
                storage_options=self.storage_options,
                # version 0 or nothing: a create that lost the race must not commit a second CREATE TABLE
                # on top of the winner's first writes (delta-rs would retry it at the next version)
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except Exception:  # another process created it first: its table is ours too
            return self.delta_table(spec)

    def _evolved(self, spec: TableSpec, dtable: DeltaTable) -> DeltaTable:
        """``dtable``, with the nullable columns its catalog declaration gained since it was created (old rows
        read them as null). A column the declaration dropped, or a new column that may not be null, cannot be
        added to the rows already written: the table must be rebuilt, and the error says so."""
        present = {f.name for f in dtable.schema().fields}
        missing = [f for f in spec.schema if f.name not in present]
        dropped = sorted(present - set(spec.column_names))
        required = [f.name for f in missing if not f.nullable]
        if dropped or required:
            what = "; ".join(filter(None, [
                dropped and f"it holds columns the catalog no longer declares ({', '.join(dropped)})",
                required and f"the catalog declares new not-null columns ({', '.join(required)})",
            ]))
            raise SchemaMismatchError(
                f"{spec.name} at {self.uri(spec)} was written by an older plantlake: {what}. Rebuild it: delete "
                "the table and run the nights again (plantlake run --date D --to D2)")
        if missing:
            fields = list(Schema.from_arrow(pa.schema(missing)).fields)
            try:
                dtable.alter.add_columns(fields, commit_properties=self._commit(None, "add columns"))
                log.info("%s: added the columns %s (older rows read them as null)", spec.name,
                         ", ".join(f.name for f in missing))
            except Exception:  # another writer added them first: the reloaded table must have them
                if {f.name for f in missing} - {f.name for f in self.delta_table(spec).schema().fields}:
                    raise
            dtable = self.delta_table(spec)
        return dtable

    @staticmethod
    def _commit(run_id: str | None, operation: str, *, strict: bool = False) -> CommitProperties:
        """Commit metadata (operation, run) and retries. ``strict`` commits only on the snapshot the
        write read: any concurrent commit fails it, and the caller redoes the write on the new snapshot
        (for writes delta-rs cannot check for conflicts itself)."""
        metadata = {"plantlake.operation": operation}
        if run_id:
            metadata["plantlake.run_id"] = run_id
        return CommitProperties(custom_metadata=metadata, max_commit_retries=0 if strict else 25)

    # -- writes ----------------------------------------------------------------------
    @_explained
    def append(self, table: TableRef, data: Any, *, run_id: str | None = None) -> int:
        """Append rows; returns the new version."""
        spec = self.spec(table)
        rows = conform(spec, data)
        dtable = self.ensure(spec)
        write_deltalake(
            dtable,
            rows,
            mode="append",
            partition_by=list(spec.partition_by) or None,
            commit_properties=self._commit(run_id, "append"),
        )
        return self._logged(spec, "append")

    def replace_slice(
        self,
        table: TableRef,
        data: Any,
        date: dt.date | str,
        plant_ids: Sequence[str] | None = None,
        *,
        run_id: str | None = None,
    ) -> int:
        """Replace exactly the rows of ``date`` (and ``plant_ids``) with ``data``; returns the new version.

        Every row of ``data`` must lie inside the slice; empty ``data`` deletes the slice.
        Other dates, and other plants of the same date, stay byte-for-byte as they were.
        """
        return self.replace_slices(table, data, {date: plant_ids}, run_id=run_id)

    @_explained
    def replace_slices(
        self,
        table: TableRef,
        data: Any,
        slices: Mapping[Any, Sequence[str] | None] | Slices,
        *,
        run_id: str | None = None,
    ) -> int:
        """Replace several slices (partition value -> all plants or some) in one commit."""
        spec = self.spec(table)
        slices = slices if isinstance(slices, Slices) else Slices.of(spec, slices)
        predicate = slices.predicate()
        rows = conform(spec, data, slices.check(spec))
        self._retry_conflicts(
            spec,
            rows,
            lambda: write_deltalake(
                self.ensure(spec),
                rows,
                mode="overwrite",
                predicate=predicate,
                partition_by=list(spec.partition_by),
                commit_properties=self._commit(run_id, f"replace {predicate}"),
            ),
        )
        return self._logged(spec, f"replace {predicate}")

    @_explained
    def merge(
        self,
        table: TableRef,
        data: Any,
        *,
        newer: str | None = None,
        keep_earliest: Sequence[str] = (),
        run_id: str | None = None,
    ) -> int:
        """Upsert on the natural key: matching rows are updated, new keys inserted.

        ``newer`` names a column (e.g. ``as_of``): a matching row is only updated when the
        incoming value is at least the stored one, so re-running an old night never
        overwrites newer attributes. ``keep_earliest`` columns keep the smaller of both.
        """
        spec = self.spec(table)
        if not spec.natural_key:
            raise SchemaMismatchError(f"{spec.name} declares no natural key to merge on")
        rows = conform(spec, data)
        if isinstance(rows, pa.RecordBatchReader):
            rows = rows.read_all()
        keys = list(spec.natural_key)
        dup = rows.group_by(keys).aggregate([([], "count_all")]).filter(pc.field("count_all") > 1)
        if dup.num_rows:
            example = {k: dup.column(k)[0].as_py() for k in keys}
            raise SchemaMismatchError(
                f"{spec.name}: {dup.num_rows} natural keys appear twice in the data (first: {example})"
            )
        on = " AND ".join(
            f"t.{k} = s.{k}" if not spec.column(k).nullable else f"(t.{k} IS NOT DISTINCT FROM s.{k})" for k in keys
        )
        updates = {c: f"s.{c}" for c in spec.column_names}
        updates.update({c: f"least(t.{c}, s.{c})" for c in keep_earliest})
        condition = f"s.{newer} >= t.{newer}" if newer else None

        def write() -> None:
            merger = self.ensure(spec).merge(
                rows, predicate=on, source_alias="s", target_alias="t", commit_properties=self._commit(run_id, "merge")
            )
            merger = merger.when_matched_update(updates, predicate=condition)
            if condition and keep_earliest:  # an older row still carries an earlier first sighting
                merger = merger.when_matched_update({c: f"least(t.{c}, s.{c})" for c in keep_earliest})
            merger.when_not_matched_insert_all().execute()

        self._retry_conflicts(spec, rows, write)
        return self._logged(spec, "merge")

    @staticmethod
    def _retry_conflicts(spec: TableSpec, rows: Any, write) -> None:
        """Run ``write``; if a concurrent commit conflicts with it, redo it on the new snapshot.

        Replacing a slice or merging is idempotent, so redoing it after another writer
        won gives the table the writer meant. A stream cannot be replayed: it is not retried.
        """
        attempts = COMMIT_ATTEMPTS if isinstance(rows, pa.Table) else 1
        for attempt in range(1, attempts + 1):
            try:
                write()
                return
            except CommitFailedError as exc:
                if attempt == attempts:
                    raise
                log.warning(
                    "%s: commit conflict (%s); retrying on the new snapshot (%d/%d)", spec.name, exc, attempt, attempts
                )
                time.sleep(0.1 * attempt)

    def _logged(self, spec: TableSpec, what: str) -> int:
        version = self.version(spec)
        log.info("%s: %s -> version %s", spec.name, what, version)
        return version

    # -- reads -----------------------------------------------------------------------
    @_explained
    def read(
        self,
        table: TableRef,
        *,
        version: int | str | dt.datetime | None = None,
        filters: Filters | None = None,
        columns: Sequence[str] | None = None,
        missing_ok: bool = False,
    ) -> pa.Table:
        """The rows of the current snapshot (or of ``version``) as Arrow.

        ``filters`` are tuples ``(column, op, value)`` (a list is AND, a list of lists is OR
        of ANDs): partition filters prune files, all filters are applied to rows exactly.
        """
        spec = self.spec(table)
        dataset = self.dataset(spec, version, filters, missing_ok)
        if dataset is None:
            empty = spec.schema.empty_table()
            return empty.select(list(columns)) if columns else empty
        wanted = list(columns) if columns else spec.column_names
        result = _scan(dataset, list(columns) if columns else None, filters)
        return result.select([c for c in wanted if c in result.column_names])

    @_explained
    def count(self, table: TableRef, *, filters: Filters | None = None) -> int:
        """Rows of the current snapshot matching ``filters`` (reads only what the filters need: with filters on
        partition columns only, the row counts the snapshot records for its files)."""
        spec = self.spec(table)
        try:
            dtable = self.delta_table(spec)
        except TableNotFoundError:
            return 0
        files = kept_files(dtable, filters)
        if files is not None and files.column("num_records").null_count == 0:
            return pc.sum(files.column("num_records")).as_py() or 0
        dataset = self._dataset(spec, dtable, filters, files)
        try:
            return dataset.count_rows(filter=pq.filters_to_expression(filters) if filters else None)
        except pa.ArrowNotImplementedError:  # string_view files: see _scan
            return _scan(dataset, _filter_columns(filters)[:1], filters).num_rows

    @_explained
    def value_counts(self, table: TableRef, column: str, *, filters: Filters | None = None) -> dict[Any, int]:
        """Rows per value of ``column`` among those matching ``filters``, streamed batch by batch.

        Reads that one column (and the filters' own) in record batches, so a night of the whole
        network's telemetry is counted per plant in bounded memory.
        """
        dataset = self.dataset(self.spec(table), None, filters, missing_ok=True)
        return {} if dataset is None else count_values(dataset, column, filters)

    @_explained
    def head(self, table: TableRef, rows: int = 10, *, filters: Filters | None = None) -> pa.Table:
        """The first ``rows`` rows matching ``filters`` (for previews)."""
        spec = self.spec(table)
        dataset = self.dataset(spec, None, filters, missing_ok=True)
        return spec.schema.empty_table() if dataset is None else head_of(dataset, rows, filters)

    @_explained
    def dataset(self, table: TableRef, version=None, filters: Filters | None = None, missing_ok: bool = False):
        """The snapshot as a pyarrow Dataset, files pruned by ``filters`` (None when missing and ``missing_ok``)."""
        spec = self.spec(table)
        try:
            dtable = self.delta_table(spec, version)
        except TableNotFoundError:
            if missing_ok and version is None:
                return None
            raise
        return self._dataset(spec, dtable, filters, kept_files(dtable, filters))

    def _dataset(self, spec: TableSpec, dtable: DeltaTable, filters: Filters | None,
                 files: pa.Table | None) -> ds.Dataset:
        """``dtable`` as a Dataset: of the ``files`` :func:`kept_files` found, else delta-rs's, pruned by ``filters``
        through the files' statistics."""
        filesystem = storage.subtree(self.uri(spec), self.settings)
        if files is not None:
            return files_dataset(dtable, files, filesystem)
        return dtable.to_pyarrow_dataset(file_pruning_predicate=filters or None, filesystem=filesystem)

    def read_pandas(self, table: TableRef, **kwargs: Any):
        return self.read(table, **kwargs).to_pandas()

    def read_polars(self, table: TableRef, **kwargs: Any):
        import polars as pl

        return pl.from_arrow(self.read(table, **kwargs))

    @_explained
    def version(self, table: TableRef) -> int | None:
        """Current version, or ``None`` when the table does not exist yet."""
        try:
            return self.delta_table(table).version()
        except TableNotFoundError:
            return None

    @_explained
    def history(self, table: TableRef, limit: int | None = None) -> list[dict[str, Any]]:
        """Commits, newest first: version, timestamp, operation, parameters, metrics."""
        return self.delta_table(table).history(limit)

    @_explained
    def file_count(self, table: TableRef) -> int:
        return len(self.delta_table(table).file_uris())

    # -- maintenance -----------------------------------------------------------------
    @_explained
    def optimize(self, table: TableRef, *, target_size: int = 256 * 1024 * 1024) -> dict[str, Any]:
        """Compact small files into ``target_size`` files, partition by partition."""
        spec = self.spec(table)
        return self._maintain(spec, "optimize", lambda d: d.optimize.compact(target_size=target_size))

    @_explained
    def vacuum(self, table: TableRef, *, retention_hours: int = VACUUM_RETENTION_HOURS) -> dict[str, Any]:
        """Delete files no snapshot younger than ``retention_hours`` needs (time travel keeps that long)."""
        spec = self.spec(table)

        def run(dtable: DeltaTable) -> dict[str, Any]:
            deleted = dtable.vacuum(
                retention_hours=retention_hours,
                dry_run=False,
                enforce_retention_duration=retention_hours >= VACUUM_RETENTION_HOURS,
            )
            staging = self._clear_staging(spec, retention_hours)
            return {"numFilesDeleted": len(deleted) + staging, "retentionHours": retention_hours}

        return self._maintain(spec, "vacuum", run)

    def _clear_staging(self, spec: TableSpec, retention_hours: int) -> int:
        """Delete staged Spark output older than the retention (left by a killed write)."""
        fs, path = storage.filesystem(storage.join(self.uri(spec), STAGING), self.settings)
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(hours=retention_hours)
        selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
        old = [
            i.path
            for i in fs.get_file_info(selector)
            if i.type == pafs.FileType.File and i.mtime is not None and i.mtime.astimezone(dt.UTC) < cutoff
        ]
        for file_path in old:
            fs.delete_file(file_path)
        return len(old)

    @_explained
    def checkpoint(self, table: TableRef, *, log_retention_hours: int | None = None) -> dict[str, Any]:
        """Write a log checkpoint and drop log files older than the log retention (the table's
        ``delta.logRetentionDuration``, first set to ``log_retention_hours`` when given)."""
        spec = self.spec(table)

        def run(dtable: DeltaTable) -> dict[str, Any]:
            if log_retention_hours is not None:
                wanted = f"interval {log_retention_hours} hours"
                if dtable.metadata().configuration.get("delta.logRetentionDuration") != wanted:
                    dtable.alter.set_table_properties({"delta.logRetentionDuration": wanted})
            log_dir = storage.join(self.uri(spec), "_delta_log")
            before = len(storage.list_files(log_dir, self.settings, recursive=False))
            dtable.create_checkpoint()
            dtable.cleanup_metadata()
            return {"logFilesBefore": before,
                    "logFilesAfter": len(storage.list_files(log_dir, self.settings, recursive=False))}

        return self._maintain(spec, "checkpoint", run)

    def _maintain(self, spec: TableSpec, operation: str, run) -> dict[str, Any]:
        dtable = self.delta_table(spec)
        before = dtable.version()
        started = dt.datetime.now(dt.UTC)
        t0 = time.monotonic()
        metrics = dict(run(dtable) or {})
        after = self.version(spec)
        metrics.update(version_before=before, version_after=after)
        log.info("%s: %s %s", spec.name, operation, json.dumps(metrics, default=str))
        if spec.name != "ops.table_maintenance":
            record = {
                "date": [started.date()],
                "table_name": [spec.name],
                "operation": [operation],
                "started_at": [started],
                "duration_s": [int(time.monotonic() - t0)],
                "version_before": [before],
                "version_after": [after],
                "files_added": [metrics.get("numFilesAdded")],
                "files_removed": [metrics.get("numFilesRemoved", metrics.get("numFilesDeleted"))],
                "details": [json.dumps(metrics, default=str)],
            }
            self.append("ops.table_maintenance", pa.table(record))
        return metrics
