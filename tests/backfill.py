"""A backfill for tests that need many nights' tables, recorded as ``plantlake run`` records it.

A backfill records one materialization and one check result per asset and night (about 18,000
events for the Azure export's 305 nights of the assets that training reads; a test that reads a
few tables runs only the assets that build them). The run is the CLI's: the same job over the same
range as one run, with one "materialization planned" event per asset as the demo's backfill
records them, into an instance configured as ``plantlake run``'s (``orchestration.runs.local_instance``:
its batching SQLite event log) in the home's ``dagster`` folder. The code location is built for
the settings of the caller's environment, so a test that needs older partitions sets
``PLANTLAKE_FIRST_DATE`` around the call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from orchestration.runs import failures, local_instance, run_nights, upstream_of


def backfill(start: dt.date, end: dt.date, tables: Sequence[str] = ()) -> list[str]:
    """Run every night from ``start`` to ``end`` as one run (of the assets that build ``tables``, when given:
    ``runs.upstream_of``); the failed steps and checks, if any."""
    with local_instance() as instance:
        return failures(run_nights(start, end, dagster_instance=instance, log_level="WARNING",
                                   planned_per_asset=True, assets=upstream_of(tables) if tables else None))
