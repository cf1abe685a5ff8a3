"""Great Expectations asset checks: one suite per bronze, silver and gold table.

Each check reads back exactly the slices the run wrote and validates them with the
table's suite (catalog rules, the feed contract's ranges and allowed values, and the
table's own rules). Checks on bronze and silver are blocking: bad data never flows into
gold. Failures show the column, the count and examples in the Dagster UI.
"""

import dagster as dg

from expectations.runner import validate
from expectations.suites import suite_for
from lakehouse import gold_tables as gold
from lakehouse.catalog import TableSpec
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS
from orchestration import partitions
from orchestration.metadata import key
from orchestration.resources import LakeResource, NightScope
from orchestration.spark_io import month_start
from sources.contracts import CONTRACTS, PLANT, QUARANTINE, Contract
from sources.silver import DIMENSION_TABLES, EVENT_TABLES

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
        rows = lake.lake().read(spec, filters=run_filters(spec, context, scope, plant_scoped), missing_ok=True)
        outcome = validate(spec, rows, suite)
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
