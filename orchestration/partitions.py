"""The daily partitions of the pipeline: one per plant-local production date."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg

#: First partition; set PLANTLAKE_FIRST_DATE earlier to land older history (the Azure export is 2014-2015).
FIRST_DATE = os.environ.get("PLANTLAKE_FIRST_DATE", "2025-01-01")

#: The latest partition is yesterday (UTC): a night is processed once it has ended everywhere it can have.
daily = dg.DailyPartitionsDefinition(start_date=FIRST_DATE, end_offset=0)

#: Every asset takes a range of nights in one run (a backfill is one Spark job per asset, not one per night).
single_run = dg.BackfillPolicy.single_run()


def dates(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[dt.date]:
    """The nights a run covers: its partition or partition range."""
    keys = context.partition_keys if context.has_partition_key_range else [context.partition_key]
    return [dt.date.fromisoformat(k) for k in keys]
