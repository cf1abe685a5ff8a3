"""The daily partitions of the pipeline (one per plant-local production date) and what hangs on them."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from lakehouse.settings import OrchestrationSettings


def daily(first_date: dt.date) -> dg.DailyPartitionsDefinition:
    """Nights from ``first_date`` (PLANTLAKE_FIRST_DATE) to yesterday (UTC): a night is processed once it has
    ended everywhere it can have."""
    return dg.DailyPartitionsDefinition(start_date=first_date.isoformat(), end_offset=0)


def nightly_freshness(settings: OrchestrationSettings) -> dg.FreshnessPolicy:
    """Gold is expected between the nightly run's hour and ``freshness_hours`` later, every day: what BI reads
    in the morning is last night's. Evaluated by the Dagster daemon."""
    hours = settings.freshness_hours
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"0 {(settings.nightly_hour + hours) % 24} * * *",
        lower_bound_delta=dt.timedelta(hours=hours),
        timezone="UTC",
    )


#: Every asset takes a range of nights in one run (a backfill is one Spark job per asset, not one per night).
single_run = dg.BackfillPolicy.single_run()


def dates(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[dt.date]:
    """The nights a run covers: its partition or partition range."""
    keys = context.partition_keys if context.has_partition_key_range else [context.partition_key]
    return [dt.date.fromisoformat(k) for k in keys]


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)
