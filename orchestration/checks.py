"""Great Expectations asset checks: one suite per bronze, silver and gold table.

Each check reads back exactly the slices the run wrote and validates them with the
table's suite (catalog rules, the feed contract's ranges and allowed values, and the
table's own rules). Checks on bronze and silver are blocking: bad data never flows into
gold. Failures show the column, the count and examples in the Dagster UI.
"""

from collections.abc import Iterator, Mapping

import dagster as dg
import pyarrow as pa

from expectations.runner import validate_parts
from expectations.suites import suite_for
from lakehouse import gold_tables as gold
from lakehouse.catalog import TableSpec
from lakehouse.delta import Filters, Lake
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS
from orchestration import partitions
from orchestration.environment import current
from orchestration.metadata import key
from orchestration.resources import LakeResource, NightScope
from orchestration.spark_io import month_start
from sources.contracts import CONTRACTS, PLANT, QUARANTINE, Contract
from sources.silver import DIMENSION_TABLES, EVENT_TABLES

#: Rows validated at once. GX's pandas engine holds a frame of every row it checks: a night of
#: the whole network's telemetry does not fit in memory in one pass (docs/performance.md).
CHECK_PART_ROWS = current().check_part_rows

#: Gold tables whose checks block what is downstream of them (the models read machine_daily).
BLOCKING_GOLD = {gold.MACHINE_DAILY.name, gold.MACHINE_COMPONENT_DAILY.name}


def contract_bounds(c: Contract) -> tuple[dict, dict]:
    ranges = {f.name: (f.min, f.max) for f in c.fields if f.min is not None or f.max is not None}
    allowed = {f.name: list(f.allowed) for f in c.fields if f.allowed}
    return ranges, allowed


def run_filters(spec: TableSpec, context, scope: NightScope, plant_scoped: bool) -> list | None:
    """Filters selecting the slices this run wrote to ``spec``."""
    if not spec.partition_by:
        return None
    dates = partitions.dates(context)
    column = spec.partition_by[0]
    values = sorted({month_start(d) for d in dates}) if column == "month" else dates
    filters = [(column, "in", values)]
    if plant_scoped and scope.plant_ids is not None:
        filters.append(("plant_id", "in", scope.plant_ids or ["(none)"]))
    return filters


def plant_groups(rows_per_plant: Mapping[str, int], max_rows: int) -> list[list[str]]:
    """Plants in order, in groups of at most ``max_rows`` rows (a larger plant is a group of its own)."""
    groups: list[list[str]] = []
    size = 0
    for plant in sorted(rows_per_plant):
        if not groups or size + rows_per_plant[plant] > max_rows:
            groups.append([])
            size = 0
        groups[-1].append(plant)
        size += rows_per_plant[plant]
    return groups


def slice_parts(lake: Lake, spec: TableSpec, filters: Filters | None, max_rows: int) -> Iterator[pa.Table]:
    """The slice to validate, read in parts of whole plants when it has more than ``max_rows`` rows.

    Only tables whose natural key holds ``plant_id`` are split: no key spans two parts, so a
    duplicate key is still found. Others (and a slice with rows of no plant) are read whole.
    """
    if "plant_id" in spec.natural_key and lake.count(spec, filters=filters) > max_rows:
        rows_per_plant = lake.value_counts(spec, "plant_id", filters=filters)
        if None not in rows_per_plant:
            for plants in plant_groups(rows_per_plant, max_rows):
                yield lake.read(spec, filters=[*(filters or []), ("plant_id", "in", plants)])
            return
    yield lake.read(spec, filters=filters, missing_ok=True)


def expectations_check(
    spec: TableSpec, *, blocking: bool, plant_scoped: bool, ranges=None, allowed=None
) -> dg.AssetChecksDefinition:
    suite = suite_for(spec, ranges=ranges, allowed=allowed)

    @dg.asset_check(
        asset=key(spec),
        name="expectations",
        blocking=blocking,
        description=f"Great Expectations suite {spec.name} on the slices the run wrote",
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource, scope: NightScope) -> dg.AssetCheckResult:
        parts = slice_parts(lake.lake(), spec, run_filters(spec, context, scope, plant_scoped), CHECK_PART_ROWS)
        outcome = validate_parts(spec, parts, suite)
        return dg.AssetCheckResult(
            passed=outcome.success, description=outcome.summary(), metadata=outcome.to_metadata()
        )

    return _check


def _checks() -> list[dg.AssetChecksDefinition]:
    checks = []
    for feed, c in CONTRACTS.items():
        ranges, allowed = contract_bounds(c)
        plant_scoped = c.scope == PLANT
        checks.append(
            expectations_check(c.bronze, blocking=True, plant_scoped=plant_scoped, ranges=ranges, allowed=allowed)
        )
        silver = DIMENSION_TABLES.get(feed) or EVENT_TABLES[feed]
        checks.append(
            expectations_check(
                silver, blocking=True, plant_scoped=plant_scoped and not c.master, ranges=ranges, allowed=allowed
            )
        )
    checks.append(expectations_check(QUARANTINE, blocking=False, plant_scoped=False))
    plant_level = {
        gold.MACHINE_DAILY.name,
        gold.MACHINE_COMPONENT_DAILY.name,
        gold.OEE_DAILY.name,
        gold.OEE_PLANT_DAILY.name,
        gold.PLANT_PRODUCTIVITY.name,
    }
    for spec in gold.GOLD_TABLES:
        checks.append(
            expectations_check(spec, blocking=spec.name in BLOCKING_GOLD, plant_scoped=spec.name in plant_level)
        )
    for spec in (FAILURE_RISK, MAINTENANCE_ALERTS):
        checks.append(expectations_check(spec, blocking=False, plant_scoped=True))
    return checks


EXPECTATION_CHECKS = _checks()
