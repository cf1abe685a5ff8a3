"""What a validation found, in plain Python the orchestration can put into Dagster metadata."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Failure:
    """One failed expectation.

    ``unexpected_count`` counts rows (or, for table-level expectations such as the column
    list, the columns at fault); ``unexpected_percent`` is of all rows, None for table-level
    ones. ``examples`` are up to five offending rows (natural key plus the columns checked)
    or values, JSON-serialisable.
    """

    expectation: str
    column: str | list[str] | None
    unexpected_count: int
    unexpected_percent: float | None
    examples: list[Any]
    description: str

    @property
    def columns(self) -> list[str]:
        if self.column is None:
            return []
        return [self.column] if isinstance(self.column, str) else list(self.column)


@dataclass
class Outcome:
    """The result of validating one table (slice) against its suite."""

    table: str
    success: bool
    rows: int
    evaluated: int
    failures: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # expectations not run: their column is missing or mistyped
    duration_s: float = 0.0

    @property
    def failing_columns(self) -> list[str]:
        return list(dict.fromkeys(c for f in self.failures for c in f.columns))

    def summary(self) -> str:
        """One line for logs and the check's description."""
        head = f"{self.table}: {self.rows:,} rows"
        if self.success and not self.rows:  # nothing was there to check: not "all met"
            return f"{self.table}: 0 rows, nothing to validate ({self.evaluated} expectations not evaluated on data)"
        if self.success:
            return f"{head}, all {self.evaluated} expectations met"
        shown = "; ".join(f.description for f in self.failures[:3])
        more = f"; and {len(self.failures) - 3} more" if len(self.failures) > 3 else ""
        return f"{head}, {len(self.failures)} of {self.evaluated} expectations failed: {shown}{more}"

    def to_metadata(self) -> dict[str, Any]:
        """A plain, JSON-serialisable dict for Dagster metadata."""
        return {
            "table": self.table,
            "success": self.success,
            "rows": self.rows,
            "evaluated": self.evaluated,
            "failed": len(self.failures),
            "failing_columns": self.failing_columns,
            "summary": self.summary(),
            "failures": [asdict(f) for f in self.failures],
            "skipped": list(self.skipped),
            "duration_s": round(self.duration_s, 3),
        }


def share(count: int, rows: int) -> str:
    """How a row-level failure's description starts ("12 of 3,400 rows")."""
    return f"{count:,} of {rows:,} rows"


def combine(outcomes: Sequence[Outcome]) -> Outcome:
    """One outcome for a slice validated in parts (groups of whole plants).

    The same failed expectation in several parts becomes one failure: row counts add up, the
    percentage and the description's "n of m rows" are of the whole slice, the examples are
    the first five. Table-level failures (the column list) are the same in every part: kept once.
    """
    rows = sum(o.rows for o in outcomes)
    found: dict[tuple, list[Failure]] = {}
    for o in outcomes:
        for f in o.failures:
            prefix = share(f.unexpected_count, o.rows)
            counted = f.unexpected_percent is not None and f.description.startswith(prefix)
            rest = f.description[len(prefix):] if counted else f.description
            found.setdefault((f.expectation, str(f.column), counted, rest), []).append(f)
    failures = []
    for (_, _, counted, rest), same in found.items():
        first = same[0]
        if first.unexpected_percent is None:
            failures.append(first)
            continue
        count = sum(f.unexpected_count for f in same)
        failures.append(replace(
            first,
            unexpected_count=count,
            unexpected_percent=round(100.0 * count / rows, 4) if rows else 0.0,
            examples=[e for f in same for e in f.examples][:MAX_EXAMPLES],
            description=share(count, rows) + rest if counted else first.description,
        ))
    skipped = list(dict.fromkeys(s for o in outcomes for s in o.skipped))
    return Outcome(
        table=outcomes[0].table,
        success=not failures and not skipped,
        rows=rows,
        evaluated=max(o.evaluated for o in outcomes),
        failures=failures,
        skipped=skipped,
        duration_s=sum(o.duration_s for o in outcomes),
    )


def json_safe(value: Any) -> Any:
    """``value`` as JSON: numpy and pandas scalars unwrapped, times as ISO strings, NaN as None."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, bool | str | int):
        return value
    if isinstance(value, np.datetime64 | np.timedelta64):
        return json_safe(pd.Timestamp(value) if isinstance(value, np.datetime64) else pd.Timedelta(value))
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return json_safe(float(value))
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [json_safe(v) for v in value]
    return str(value)
