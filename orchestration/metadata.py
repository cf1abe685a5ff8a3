"""What the Dagster UI shows about a table: its key, schema and description from the catalog,
and after each materialization the rows written, the Delta version and a preview."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg
import pyarrow as pa

from lakehouse.catalog import TableSpec
from lakehouse.delta import Lake
from lakehouse.slices import Slices


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
    """The materialization of ``spec``: rows in the written slices, Delta version, location, preview.

    It names its asset, so assets of one table and of several report alike.
    """
    filters = slice_filters(slices)
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(lake.count(spec, filters=filters)),
        "delta_version": dg.MetadataValue.int(-1 if version is None else version),
        "table_uri": dg.MetadataValue.path(lake.uri(spec)),
        "slices": dg.MetadataValue.text(str(slices) if slices is not None else "(whole table)"),
        "preview": preview(lake.head(spec, 10, filters=filters)),
    }
    metadata.update(extra or {})
    return dg.MaterializeResult(asset_key=key(spec), metadata=metadata)


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
