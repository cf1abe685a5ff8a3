"""Spark reads and writes Delta tables through delta-rs (docs/storage.md, docs/architecture.md).

Reads take the snapshot's file list from delta-rs (partition-pruned) and hand it to
``spark.read.parquet`` where Spark can reach the files, go through Arrow where it
cannot (S3 without the s3a jars), and use ``format("delta")`` only where the session
has delta-spark configured. Never ``spark.read.parquet(<table dir>)``: that would also
see files the log has removed.

Writes go through delta-rs too: small results as Arrow, large results as Parquet files
written by the executors in parallel into a staging folder and committed by this
process in one delta-rs transaction, with the same slice semantics as
:meth:`lakehouse.delta.Lake.replace_slices`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake.exceptions import CommitFailedError
from deltalake.transaction import AddAction, RemoveAction
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from lakehouse import storage
from lakehouse.catalog import TableSpec
from lakehouse.conform import check_schema
from lakehouse.delta import COMMIT_ATTEMPTS, STAGING, Filters, Lake, TableRef, filter_groups
from lakehouse.slices import Slices
from lakehouse.spark import delta_configured

log = logging.getLogger(__name__)

#: Parquet row group size of the executors' writes (see _parquet_writer).
ROW_GROUP_BYTES = 32 * 1024 * 1024


# -- reads ---------------------------------------------------------------------------
def spark_uri(uri: str) -> str:
    """The URI Spark's Hadoop filesystems understand for a lake path."""
    if storage.is_s3(uri):
        return "s3a://" + uri.split("://", 1)[1]
    return "file://" + uri if uri.startswith("/") else uri


def reaches_files(lake: Lake) -> bool:
    """Whether Spark executors can open the lake's files directly."""
    return not storage.is_s3(lake.root) or lake.settings.spark_s3a


def spark_filter(filters: Filters) -> Column:
    """Tuple filters (a list is AND, a list of lists is OR of ANDs) as a Spark condition."""
    ops = {
        "=": lambda c, v: c == v,
        "==": lambda c, v: c == v,
        "!=": lambda c, v: c != v,
        "<": lambda c, v: c < v,
        "<=": lambda c, v: c <= v,
        ">": lambda c, v: c > v,
        ">=": lambda c, v: c >= v,
        "in": lambda c, v: c.isin(list(v)),
        "not in": lambda c, v: ~c.isin(list(v)),
    }
    groups = filter_groups(filters)

    def conjunction(group) -> Column:
        condition = F.lit(True)
        for name, op, value in group:
            condition = condition & ops[op.lower()](F.col(name), value)
        return condition

    condition = conjunction(groups[0])
    for group in groups[1:]:
        condition = condition | conjunction(group)
    return condition


def read_table(
    spark: SparkSession,
    lake: Lake,
    table: TableRef,
    *,
    version: int | None = None,
    filters: Filters | None = None,
    columns: Sequence[str] | None = None,
    missing_ok: bool = False,
) -> DataFrame:
    """A table's current snapshot (or ``version``) as a Spark DataFrame, in catalog column order.

    ``missing_ok`` reads a table that does not exist yet as empty (the first night has no history).
    """
    spec = lake.spec(table)
    uri = lake.uri(spec)
    wanted = list(columns) if columns else spec.column_names
    if missing_ok and version is None and not lake.exists(spec):
        return empty(spark, spec.schema).select(*wanted)
    if not reaches_files(lake):
        arrow = lake.read(spec, version=version, filters=filters, columns=wanted)  # filters rows exactly
        log.debug("read %s into Spark through Arrow (%d rows)", spec.name, arrow.num_rows)
        return empty(spark, arrow.schema) if arrow.num_rows == 0 else spark.createDataFrame(arrow)
    if delta_configured(spark):
        reader = spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        df = reader.load(spark_uri(uri))
        route = "delta-spark"
    else:
        dtable = lake.delta_table(spec, version)
        files = dtable.file_uris(file_pruning_predicate=filters or None)
        df = read_files(spark, lake, spec, files)
        route = f"file list ({len(files)} files, version {dtable.version()})"
    if filters:
        df = df.where(spark_filter(filters))
    log.debug("read %s into Spark via %s", spec.name, route)
    return ordered(df, wanted)


def empty(spark: SparkSession, schema: pa.Schema) -> DataFrame:
    """A DataFrame of no rows with ``schema``'s Spark types, made from Arrow in the JVM: one made from an empty
    Python list is a Python RDD, whose tasks start Python worker processes when a plan reads it."""
    return spark.createDataFrame(schema.empty_table(), schema=from_arrow_schema(schema))


def read_files(spark: SparkSession, lake: Lake, spec: TableSpec, files: Sequence[str]) -> DataFrame:
    """Exactly these data files of a table (partition values from their paths, schema from the catalog)."""
    if not files:
        return empty(spark, spec.schema)
    reader = spark.read.schema(from_arrow_schema(spec.schema)).option("basePath", spark_uri(lake.uri(spec)))
    return reader.parquet(*map(spark_uri, files))


def ordered(df: DataFrame, names: Sequence[str]) -> DataFrame:
    """``df`` with exactly the columns ``names``, in that order (``df`` itself when it already has them).

    Column names go to Spark as SQL expressions: one JVM call each, where a Column object costs
    several (py4j round trips add up over a night's dozens of tables).
    """
    if df.columns == list(names):
        return df
    return df.selectExpr(*map(quoted, names))


# -- writes --------------------------------------------------------------------------
def _conformed(df: DataFrame, lake: Lake, table: TableRef) -> DataFrame:
    """The DataFrame checked against the catalog schema, cast and ordered like it."""
    spec = lake.spec(table)
    check_schema(spec, to_arrow_schema(df.schema, timezone="UTC"))
    have = {f.name: f.dataType for f in df.schema.fields}
    target = from_arrow_schema(spec.schema)
    if all(have[f.name] == f.dataType for f in target.fields):
        return ordered(df, target.fieldNames())
    return df.selectExpr(*[  # SQL expressions, as in ordered()
        quoted(f.name) if have[f.name] == f.dataType else cast_as(f.name, f.dataType.simpleString())
        for f in target.fields
    ])


def quoted(name: str) -> str:
    """A name as a Spark SQL identifier (backticks, a backtick in it doubled)."""
    return "`" + name.replace("`", "``") + "`"


def cast_as(name: str, sql_type: str) -> str:
    """Column ``name`` cast to ``sql_type`` under its own name, as a Spark SQL expression."""
    return f"CAST({quoted(name)} AS {sql_type}) AS {quoted(name)}"


def write_table(
    df: DataFrame,
    lake: Lake,
    table: TableRef,
    *,
    date: dt.date | str | None = None,
    plant_ids: Sequence[str] | None = None,
    slices: Mapping[Any, Sequence[str] | None] | None = None,
    via: Literal["arrow", "parquet"] = "arrow",
    run_id: str | None = None,
) -> int:
    """Write a Spark result to a Delta table; returns the new version.

    With ``date`` (and ``plant_ids``), or ``slices`` (partition value -> plants or None),
    the result replaces exactly those slices; without, it is appended. ``via="arrow"``
    collects the result to this process (small results); ``via="parquet"`` lets the
    executors write Parquet in parallel and commits their files in one transaction
    (large results). Where Spark cannot reach the lake's files, ``parquet`` falls back
    to ``arrow``.
    """
    spec = lake.spec(table)
    if date is not None:
        slices = {date: plant_ids}
    parts = Slices.of(spec, slices) if slices is not None else None  # validated before any Spark work
    rows = _conformed(df, lake, spec)
    if via not in ("arrow", "parquet"):
        raise ValueError(f"via must be 'arrow' or 'parquet', not {via!r}")
    if via == "parquet" and not reaches_files(lake):
        log.info("%s: Spark cannot reach %s (no s3a); writing through Arrow", spec.name, lake.root)
        via = "arrow"
    if via == "arrow":
        arrow = rows.toArrow()
        if parts is None:
            return lake.append(spec, arrow, run_id=run_id)
        return lake.replace_slices(spec, arrow, parts, run_id=run_id)
    return _write_parquet(rows, lake, spec, parts, run_id)


def _write_parquet(rows: DataFrame, lake: Lake, spec: TableSpec, parts: Slices | None, run_id: str | None) -> int:
    """Executors write; this process commits: the new files, and (copy-on-write) only the files that
    held replaced rows are removed, their other plants' rows carried over into new files."""
    for attempt in range(1, COMMIT_ATTEMPTS + 1):
        dtable = lake.ensure(spec)
        write_id = uuid.uuid4().hex
        staging = storage.join(lake.uri(spec), STAGING, write_id)
        published: list[AddAction] = []
        try:
            _parquet_writer(rows, spec).parquet(spark_uri(staging + "/new"))
            new_files = _staged(lake, staging + "/new")
            if parts is not None:
                _check_slices(lake, spec, new_files, parts)
            published += _publish(lake, spec, new_files, write_id, "n")
            replaced = _replaced_files(lake, spec, dtable, parts) if parts is not None else []
            narrowed = [
                f for f in replaced if f.partition_values[parts.column] in {v.isoformat() for v in parts.narrowed}
            ]
            if narrowed:
                kept = _other_plants(rows.sparkSession, lake, spec, narrowed, parts)
                _parquet_writer(kept, spec).parquet(spark_uri(staging + "/keep"))
                published += _publish(lake, spec, _staged(lake, staging + "/keep"), write_id, "k")
            dtable.create_write_transaction(
                [*published, *replaced],
                mode="append",
                schema=spec.schema,
                partition_by=list(spec.partition_by) or None,
                # The removed files were chosen on this snapshot: commit on it or redo (see Lake._commit).
                commit_properties=lake._commit(run_id, f"spark parquet {parts or 'append'}", strict=parts is not None),
            )
        except CommitFailedError as exc:
            _discard(lake, spec, published)
            if attempt == COMMIT_ATTEMPTS:
                raise
            log.warning(
                "%s: concurrent commit (%s); redoing on the new snapshot (%d/%d)",
                spec.name,
                exc,
                attempt,
                COMMIT_ATTEMPTS,
            )
            time.sleep(0.2 * attempt + random.random())
            continue
        except BaseException:
            _discard(lake, spec, published)
            raise
        finally:
            storage.delete_dir(staging, lake.settings)
        return lake._logged(spec, f"spark parquet write of {len(published)} files, {len(replaced)} removed")
    raise AssertionError("unreachable")


def _parquet_writer(rows: DataFrame, spec: TableSpec):
    """Executors' Parquet writer: the table's partitions, and row groups of ROW_GROUP_BYTES.

    Spark's default (128 MiB) gives row groups of 13 M telemetry rows; a reader filtering on a
    plant (a check, a BI query) decodes whole row groups, so smaller ones keep it in bounds.
    """
    return (rows.write.mode("errorifexists").option("parquet.block.size", str(ROW_GROUP_BYTES))
            .partitionBy(*spec.partition_by))


def _replaced_files(lake: Lake, spec: TableSpec, dtable, parts: Slices) -> list[RemoveAction]:
    """Files of the snapshot that hold rows of the slices: every file of a whole partition, and the
    files of a narrowed partition whose plant_id column names a replaced plant."""
    adds = pa.table(dtable.get_add_actions(flatten=True)).to_pylist()
    fs, table_path = storage.filesystem(lake.uri(spec), lake.settings)
    narrowed = {v.isoformat(): set(p) for v, p in parts.narrowed.items()}
    whole = {v.isoformat() for v, p in parts.parts if p is None}
    now_ms = int(time.time() * 1000)
    removed = []
    for add in adds:
        value = add[f"partition.{parts.column}"]
        value = value.isoformat() if value is not None else None
        if value in narrowed:
            plants = pq.read_table(f"{table_path}/{add['path']}", columns=["plant_id"], filesystem=fs).column(0)
            if not narrowed[value] & set(plants.unique().to_pylist()):
                continue
        elif value not in whole:
            continue
        removed.append(RemoveAction(add["path"], True, now_ms, add["size_bytes"], {parts.column: value}))
    return removed


def _other_plants(
    spark: SparkSession, lake: Lake, spec: TableSpec, files: list[RemoveAction], parts: Slices
) -> DataFrame:
    """The rows of ``files`` that belong to plants the write does not replace."""
    existing = read_files(spark, lake, spec, [storage.join(lake.uri(spec), f.path) for f in files])
    replaced = F.lit(False)
    for value, plants in parts.narrowed.items():
        replaced = replaced | ((F.col(parts.column) == F.lit(value)) & F.col("plant_id").isin(list(plants)))
    return existing.where(~replaced)


StagedFile = tuple[str, dict[str, str]]


def _staged(lake: Lake, staging: str) -> list[StagedFile]:
    """The Parquet files the executors wrote, each with its partition values (from its path)."""
    _, root = storage.filesystem(staging, lake.settings)
    staged = []
    for uri in storage.list_files(staging, lake.settings):
        if not uri.endswith(".parquet"):
            continue
        path = uri.split("://", 1)[-1]
        parts = path[len(root) :].strip("/").split("/")[:-1]
        staged.append((path, dict(part.split("=", 1) for part in parts)))
    return staged


def _check_slices(lake: Lake, spec: TableSpec, files: list[StagedFile], parts: Slices) -> None:
    """Every staged row must lie inside the slices it replaces (checked on the files, not by a Spark action)."""
    fs, _ = storage.filesystem(lake.root, lake.settings)
    for path, partition in files:
        columns = ["plant_id"] if parts.narrowed else []
        rows = pq.read_table(path, columns=columns, filesystem=fs) if columns else None
        value = pa.array([dt.date.fromisoformat(partition[parts.column])] * (rows.num_rows if rows else 1), pa.date32())
        batch = pa.table({parts.column: value, **({"plant_id": rows.column(0)} if rows else {})})
        parts.check(spec)(batch)


def _publish(lake: Lake, spec: TableSpec, files: list[StagedFile], write_id: str, tag: str) -> list[AddAction]:
    """Move staged files into the table and describe them as Delta add actions."""
    fs, table_path = storage.filesystem(lake.uri(spec), lake.settings)
    now_ms = int(time.time() * 1000)
    actions = []
    for index, (path, partition) in enumerate(files):
        metadata = pq.read_metadata(path, filesystem=fs)
        folder = "/".join(f"{k}={v}" for k, v in partition.items())
        target = f"{folder}/part-{index:05d}-{write_id}-{tag}.snappy.parquet".lstrip("/")
        fs.create_dir(f"{table_path}/{folder}".rstrip("/"), recursive=True)
        fs.move(path, f"{table_path}/{target}")
        actions.append(
            AddAction(
                path=target,
                size=fs.get_file_info(f"{table_path}/{target}").size,
                partition_values=partition,
                modification_time=now_ms,
                data_change=True,
                stats=json.dumps(file_stats(metadata, spec.partition_by)),
            )
        )
    return actions


def _discard(lake: Lake, spec: TableSpec, actions: list[AddAction]) -> None:
    """Delete published files whose commit did not happen (nothing references them)."""
    fs, table_path = storage.filesystem(lake.uri(spec), lake.settings)
    for action in actions:
        try:
            fs.delete_file(f"{table_path}/{action.path}")
        except OSError:
            pass


def _stat_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return None
    return value


def file_stats(metadata: pq.FileMetaData, partition_by: Sequence[str] = ()) -> dict[str, Any]:
    """Delta file statistics (numRecords, min, max, null counts) from a Parquet footer."""
    schema = metadata.schema.to_arrow_schema()
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    # Row groups index leaf columns: a nested column (a map) has several, so top-level columns are found by path.
    leaves = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    for name in schema.names:
        i = leaves.get(name)
        if name in partition_by or i is None:
            continue
        stats = [metadata.row_group(g).column(i).statistics for g in range(metadata.num_row_groups)]
        if not stats or any(s is None for s in stats):
            continue
        nulls[name] = sum(s.null_count for s in stats)
        exact = all(getattr(s, "is_min_value_exact", True) and getattr(s, "is_max_value_exact", True) for s in stats)
        with_values = [s for s in stats if s.has_min_max]
        if exact and with_values and not pa.types.is_boolean(schema.field(name).type):
            low = _stat_value(min(s.min for s in with_values))
            high = _stat_value(max(s.max for s in with_values))
            if low is not None and high is not None:
                mins[name], maxs[name] = low, high
    return {"numRecords": metadata.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
