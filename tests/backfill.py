"""A backfill into an in-memory Dagster instance, for tests that need many nights' tables, not their run history.

A backfill records one materialization per asset and night (12,800 for the Azure export's
305 nights of the whole job; a test that reads a few tables runs only the assets that build
them). Dagster's SQLite event log, the one ``plantlake run`` keeps for the UI, writes each in
about 25 ms; an in-memory instance in about 2 ms. The run is otherwise the CLI's: the same job
over the same range as one run, with one "materialization planned" event per asset as the
demo's backfill records them. The code location is built for the settings of the caller's
environment, so a test that needs older partitions sets ``PLANTLAKE_FIRST_DATE`` around the call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import dagster as dg

from orchestration.runs import failures, run_nights, upstream_of


def backfill(start: dt.date, end: dt.date, tables: Sequence[str] = ()) -> list[str]:
    """Run every night from ``start`` to ``end`` as one run (of the assets that build ``tables``, when given:
    ``runs.upstream_of``); the failed steps and checks, if any."""
    return failures(run_nights(start, end, dagster_instance=dg.DagsterInstance.ephemeral(), log_level="WARNING",
                               planned_per_asset=True, assets=upstream_of(tables) if tables else None))

