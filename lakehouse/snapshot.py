"""A lake's tables as comparable values: what "a re-run gives the same tables" means, checked.

Rows are compared without the columns that record when or by which run they were written,
in a fixed order, and floats within a relative tolerance: Spark sums in the order it reads
files, so a compacted table can give a total one rounding step away (seen: 2e-16 relative in
a supplier's averages). Rounding both sides first would not do: noise can straddle a
rounding boundary.
"""

from __future__ import annotations

import math

from lakehouse import catalog
from lakehouse.delta import Lake

#: Columns that record when or by which run they were written: they differ between runs by design.
RUN_COLUMNS = frozenset({"_ingested_at", "_run_id", "landed_at", "run_id", "started_at", "failed_at", "duration_s",
                         "raised_at", "delivered_at", "decided_at"})

#: Relative tolerance for floats: far above summation noise, far below any real change.
REL_TOL = 1e-9


def _normal(value):
    return None if isinstance(value, float) and math.isnan(value) else value


def _order(row: tuple) -> str:
    """Sort key that noise cannot reorder: floats to 6 significant digits."""
    return repr(tuple(float(f"{v:.6g}") if isinstance(v, float) else v for v in row))


def contents(lake: Lake, layers=("bronze", "silver", "gold")) -> dict[str, list[tuple]]:
    """Every table's rows without the run bookkeeping columns, sorted; compare two with :func:`differences`."""
    out = {}
    for spec in catalog.tables():
        if spec.layer not in layers or not lake.exists(spec):
            continue
        columns = [c for c in spec.column_names if c not in RUN_COLUMNS]
        rows = lake.read(spec, columns=columns).to_pylist()
        out[spec.name] = sorted((tuple(_normal(r[c]) for c in columns) for r in rows), key=_order)
    return out


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-12)
    return a == b


def differences(got: dict[str, list[tuple]], expected: dict[str, list[tuple]]) -> list[str]:
    """What differs between two :func:`contents`, one line per table (empty: the same tables)."""
    found = []
    for name in sorted(set(got) | set(expected)):
        if name not in got or name not in expected:
            found.append(f"{name}: only in {'the first' if name in got else 'the second'}")
        elif len(got[name]) != len(expected[name]):
            found.append(f"{name}: {len(got[name])} rows against {len(expected[name])}")
        else:
            pairs = zip(got[name], expected[name], strict=True)
            first = next(((i, x, y) for i, (x, y) in enumerate(pairs)
                          if not all(_same(u, v) for u, v in zip(x, y, strict=True))), None)
            if first:
                found.append(f"{name}: row {first[0]} is {first[1]!r} against {first[2]!r}")
    return found
