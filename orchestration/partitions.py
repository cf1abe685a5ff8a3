"""The daily partitions of the pipeline: one per plant-local production date."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from orchestration.environment import current

#: First partition; set PLANTLAKE_FIRST_DATE earlier to land older history (the Azure export is 2014-2015).
FIRST_DATE = current().first_date

#: The latest partition is yesterday (UTC): a night is processed once it has ended everywhere it can have.
daily = dg.DailyPartitionsDefinition(start_date=FIRST_DATE, end_offset=0)

#: Hour (UTC) of the nightly run: after the last plants' production day has ended.
NIGHTLY_HOUR = current().nightly_hour

#: Hours the nightly run has to bring gold up to date (1 to 24); after that the UI shows gold as stale.
FRESHNESS_HOURS = current().freshness_hours

#: Gold tables are expected to be materialized between the nightly run's hour and FRESHNESS_HOURS later,
#: every day: what BI reads in the morning is last night's. Evaluated by the daemon (``dagster dev``).
nightly_freshness = dg.FreshnessPolicy.cron(
    deadline_cron=f"0 {(NIGHTLY_HOUR + FRESHNESS_HOURS) % 24} * * *",
    lower_bound_delta=dt.timedelta(hours=FRESHNESS_HOURS),
    timezone="UTC",
)

#: Every asset takes a range of nights in one run (a backfill is one Spark job per asset, not one per night).
single_run = dg.BackfillPolicy.single_run()


def dates(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[dt.date]:
    """The nights a run covers: its partition or partition range."""
    keys = context.partition_keys if context.has_partition_key_range else [context.partition_key]
    return [dt.date.fromisoformat(k) for k in keys]
