"""A lake's tables as comparable values: what "a re-run gives the same tables" means, checked.

Rows are compared without the columns that record when or by which run they were written,
and in a fixed order, so two lakes built by different runs compare equal when their data is.
"""

from __future__ import annotations

import math

from lakehouse import catalog
from lakehouse.delta import Lake

#: Columns that record when or by which run a row was written: they differ between runs by design.
RUN_COLUMNS = frozenset({"_ingested_at", "_run_id", "landed_at", "run_id", "started_at", "failed_at", "duration_s",
                         "raised_at", "delivered_at", "decided_at"})


def _normal(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def contents(lake: Lake, layers=("bronze", "silver", "gold")) -> dict[str, list[tuple]]:
    """Every table's rows without the run bookkeeping columns, sorted: equal contents = equal tables."""
    out = {}
    for spec in catalog.tables():
        if spec.layer not in layers or not lake.exists(spec):
            continue
        columns = [c for c in spec.column_names if c not in RUN_COLUMNS]
        rows = lake.read(spec, columns=columns).to_pylist()
        out[spec.name] = sorted((tuple(_normal(r[c]) for c in columns) for r in rows), key=repr)
    return out
