"""What the Dagster UI shows about a table: its key, schema and description from the catalog;
after each materialization, for each partition of the run, the rows the table holds for that
night and a preview of them, the Delta version and a link to the table; a check's result for
each partition of the run; links to MLflow runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa

from lakehouse.catalog import TableSpec
from lakehouse.delta import Lake, count_values, head_of
from lakehouse.settings import Settings
from lakehouse.slices import Slices
from lakehouse.storage import is_s3


def key(spec: TableSpec) -> dg.AssetKey:
    return dg.AssetKey([spec.layer, spec.table])


def column_schema(spec: TableSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=str(c.type),
                description=c.comment,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
            )
            for c in spec.columns
        ]
    )


def asset_spec(
    spec: TableSpec,
    kinds: set[str],
    deps: Iterable[TableSpec | dg.AssetKey] = (),
    group: str | None = None,
    freshness: dg.FreshnessPolicy | None = None,
) -> dg.AssetSpec:
    """An AssetSpec for a catalog table: key ``<layer>/<table>``, group = layer (unless given), schema and docs,
    and the freshness policy the nightly tables are held to."""
    return dg.AssetSpec(
        key=key(spec),
        description=spec.description,
        group_name=group or spec.layer,
        kinds=kinds | {"delta"},
        deps=[d if isinstance(d, dg.AssetKey) else key(d) for d in deps],
        metadata=static_metadata(spec),
        freshness_policy=freshness,
    )


def static_metadata(spec: TableSpec) -> dict[str, Any]:
    return {
        "dagster/column_schema": column_schema(spec),
        "dagster/table_name": spec.name,
        "partitioned_by": ", ".join(spec.partition_by) or "(none)",
        "natural_key": ", ".join(spec.natural_key),
    }


def preview(table: pa.Table, rows: int = 10) -> dg.MetadataValue:
    """The first rows as a markdown table."""
    head = table.slice(0, rows).to_pylist()
    if not head:
        return dg.MetadataValue.md("_no rows_")
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in head:
        lines.append("| " + " | ".join(_cell(row[n]) for n in names) + " |")
    return dg.MetadataValue.md("\n".join(lines))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def materialized(
    lake: Lake,
    spec: TableSpec,
    version: int | None,
    slices: Slices | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dg.MaterializeResult:
    """The materialization of ``spec``: Delta version, location, and rows and a preview.

    In a partitioned run each partition's event carries the rows the table holds for its night
    (its month for a monthly table) and a preview of them, so the Plots tab draws one point per
    night and a partition's preview shows that night, also when a range of nights ran as one
    run. Otherwise (a table without partitions, a run without them) the rows of the written
    ``slices``; a run of more nights than :data:`PER_NIGHT_METADATA_MOST` records them as
    ``rows_written``. It names its asset, so assets of one table and of several report alike.
    """
    metadata: dict[str, Any] = {
        "delta_version": dg.MetadataValue.int(-1 if version is None else version),
        "table_uri": location(lake.uri(spec), lake.settings),
        "slices": dg.MetadataValue.text(shown_slices(slices)),
    }
    nights = _step_partitions()
    if nights and spec.partition_by and len(nights) <= PER_NIGHT_METADATA_MOST:
        context = dg.AssetExecutionContext.get()
        for night, values in partition_metadata(lake, spec, nights).items():
            context.add_asset_metadata(values, asset_key=key(spec), partition_key=night)
    else:  # a long range's total is no night's count: not recorded as one (the Plots tab would draw it for each)
        filters = slice_filters(slices)
        rows = "rows_written" if nights and spec.partition_by else "dagster/row_count"
        metadata[rows] = dg.MetadataValue.int(lake.count(spec, filters=filters))
        metadata["preview"] = preview(lake.head(spec, 10, filters=filters))
    metadata.update(extra or {})
    return dg.MaterializeResult(asset_key=key(spec), metadata=metadata)


#: Longer runs (a history backfill) record the written slices' rows and preview once, as a run without
#: partitions does: Dagster copies a step's metadata for each partition it adds (quadratic in the nights),
#: and ten years of nights would spend minutes on it.
PER_NIGHT_METADATA_MOST = 92


def _step_partitions() -> list[str]:
    """The partition keys of the asset step running in this thread (none outside a step or a partitioned run)."""
    try:
        context = dg.AssetExecutionContext.get()
    except dg.DagsterInvariantViolationError:
        return []
    return run_partitions(context)


def run_partitions(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The partition keys of the run: its partition, the nights of its range, or none."""
    op = context.op_execution_context
    return list(op.partition_keys) if op.has_partition_key or op.has_partition_key_range else []


def period(spec: TableSpec, night: str) -> dt.date:
    """The value of ``spec``'s partition column that holds ``night``: the night, or its month."""
    day = dt.date.fromisoformat(night)
    return day.replace(day=1) if spec.partition_by[0] == "month" else day


def partition_metadata(lake: Lake, spec: TableSpec, nights: Iterable[str]) -> dict[str, dict[str, Any]]:
    """For each night: ``dagster/row_count`` (the rows the table holds for it) and ``preview`` (its first rows).

    One count of the partition column and one snapshot per table, a pruned head read per night
    (or month): a 45-night backfill adds milliseconds per table, not a read of every row.
    """
    column = spec.partition_by[0]
    value_of = {night: period(spec, night) for night in nights}
    values = sorted(set(value_of.values()))
    of_nights = [(column, "in", values)]
    dataset = lake.dataset(spec, filters=of_nights, missing_ok=True)  # counts and previews: one snapshot
    if dataset is None:  # not written yet
        counts, previews = {}, dict.fromkeys(values, preview(spec.schema.empty_table()))
    else:
        counts = count_values(dataset, column, of_nights)
        previews = {value: preview(head_of(dataset, 10, [(column, "=", value)])) for value in values}
    return {night: {"dagster/row_count": dg.MetadataValue.int(counts.get(value, 0)), "preview": previews[value]}
            for night, value in value_of.items()}


def location(uri: str, settings: Settings) -> dg.MetadataValue:
    """Where a table lives, as a link where a browser can open it.

    A folder is a ``file://`` link; a table on AWS S3 links to its prefix in the S3 console. On
    another S3-compatible store (``AWS_ENDPOINT_URL``) no browser page is known: the ``s3://``
    URI, to copy.
    """
    if "://" not in uri:
        return dg.MetadataValue.url(Path(uri).as_uri())
    if is_s3(uri) and not settings.s3.endpoint_url:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return dg.MetadataValue.url(f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}"
                                    f"?region={settings.s3.region}&prefix={prefix}/")
    return dg.MetadataValue.path(uri)


def mlflow_run(run_id: str, settings: Settings) -> dg.MetadataValue:
    """A link to an MLflow run in the MLflow UI (``PLANTLAKE_MLFLOW_UI_URL``), which finds its experiment."""
    return dg.MetadataValue.url(f"{settings.mlflow_ui_url.rstrip('/')}/#/runs/{run_id}")


def check_results(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
    result: dg.AssetCheckResult,
    by_partition: Mapping[str, dg.AssetCheckResult] | None = None,
) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation | dg.Output]:
    """A check's result, recorded for each partition of the run (``by_partition``, else ``result``).

    Dagster plans a check of a partitioned run once per partition; a result without a partition
    (what a check of a range of nights returns) is stored beside those planned rows, which the
    UI then lists as skipped, one per night. An evaluation per partition fills each row, and the
    check's output (what downstream steps wait for) is yielded once. ``result`` names its asset
    and check.
    """
    nights = run_partitions(context)
    if not nights:
        yield result
        return
    check_key = dg.AssetCheckKey(result.asset_key, result.check_name)
    assets_def = context.op_execution_context.assets_def
    blocking = assets_def.get_spec_for_check_key(check_key).blocking
    together = f" (nights {nights[0]}..{nights[-1]} checked together)" if len(nights) > 1 else ""
    for night in nights:
        own = (by_partition or {}).get(night)
        chosen = own or result
        yield dg.AssetCheckEvaluation(
            asset_key=check_key.asset_key, check_name=check_key.name, passed=chosen.passed,
            metadata=chosen.metadata, severity=chosen.severity, blocking=blocking, partition=night,
            description=own.description if own else f"{result.description or ''}{together}",
        )
    yield dg.Output(None, output_name=assets_def.get_output_name_for_asset_check_key(check_key))


def shown_slices(slices: Slices | None, most: int = 31) -> str:
    """The slices a run replaced, as text; a run of more than ``most`` of them (a backfill) by their range:
    Dagster copies this text into every night's event, so it must not grow with the nights."""
    if slices is None:
        return "(whole table)"
    values = sorted(value for value, _ in slices.parts)
    if len(values) <= most:
        return str(slices)
    return f"{slices.column} in {len(values)} values from {values[0]} to {values[-1]}"


def skipped(spec: TableSpec) -> dg.MaterializeResult:
    """The materialization of a run whose plant scope holds no plant: nothing read, nothing written."""
    return dg.MaterializeResult(asset_key=key(spec), metadata={"skipped": "no plant in the run's scope"})


def slice_filters(slices: Slices | None) -> list | None:
    """Tuple filters (DNF) selecting exactly the rows of ``slices``."""
    if slices is None:
        return None
    whole = [value for value, plants in slices.parts if plants is None]
    groups = [[(slices.column, "in", whole)]] if whole else []
    groups += [
        [(slices.column, "=", value), ("plant_id", "in", list(plants))] for value, plants in slices.narrowed.items()
    ]
    return groups
