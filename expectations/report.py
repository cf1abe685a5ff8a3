"""Turn what failed into :class:`Failure` records a person can act on: column, count, examples, a sentence.

Examples are rows, not bare values: the natural key of each offending row plus the columns
the expectation checked, read from the Arrow table (exact types, unlike the pandas frame GX saw).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from expectations.outcome import MAX_EXAMPLES, Failure, json_safe, share
from lakehouse.catalog import TableSpec

if TYPE_CHECKING:
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

_UTC = {"UTC", "+00:00", "ETC/UTC", "Z"}


def logical_type(kind: pa.DataType) -> str:
    """The Arrow type's name with encodings that carry the same values folded together."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return str(pa.string())
    if pa.types.is_timestamp(kind) and kind.tz is not None and kind.tz.upper() in _UTC:
        return str(pa.timestamp("us", tz="UTC"))  # any unit: pandas and GX see the same instants
    return str(kind)


def expectation_columns(kind: str, kwargs: dict[str, Any]) -> list[str]:
    """The columns an expectation looks at (none for table-level ones such as the column list)."""
    if kind.startswith("expect_table_"):
        return []
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_A" in kwargs:
        return [kwargs["column_B"], kwargs["column_A"]]  # rules.AtMost puts the smaller side in B
    return list(kwargs.get("column_list") or [])


def type_mismatch(column: str, declared: str, data: pa.Table) -> bool:
    """Whether ``column`` is missing, repeated or of another type than ``declared`` (an Arrow type name)."""
    if data.column_names.count(column) != 1:
        return True
    return logical_type(data.schema.field(column).type) != declared


def type_failure(column: str, declared: str, data: pa.Table) -> Failure:
    """The column is missing, repeated or not of its declared type: every row is affected."""
    rows = data.num_rows
    times = data.column_names.count(column)
    if times != 1:
        examples = []
        text = f"column {column} appears {times} times" if times else f"column {column} is missing ({declared})"
    else:
        values = data.column(column).drop_null().slice(0, MAX_EXAMPLES).to_pylist()
        examples = [json_safe(v) for v in values]
        text = f"column {column} is {data.schema.field(column).type}, the catalog declares {declared}"
    return Failure(
        expectation="expect_column_values_to_be_of_type",
        column=column,
        unexpected_count=rows,
        unexpected_percent=100.0 if rows else 0.0,
        examples=examples,
        description=text,
    )


def gx_failure(result: ExpectationValidationResult, spec: TableSpec, data: pa.Table) -> Failure:
    """A failed GX result as a Failure (an expectation GX could not evaluate counts as failed)."""
    config = result.expectation_config
    kind, kwargs, outcome = config.type, config.kwargs, result.result or {}
    columns = expectation_columns(kind, kwargs)
    column: str | list[str] | None = columns[0] if len(columns) == 1 else (columns or None)
    error = _exception_message(result.exception_info)
    if kind == "expect_table_columns_to_match_ordered_list":
        return _columns_failure(kwargs["column_list"], outcome.get("observed_value") or [])
    rows = data.num_rows
    if "unexpected_count" not in outcome and not error:  # an aggregate: row count, mean, ...
        return _aggregate_failure(kind, kwargs, columns, column, outcome.get("observed_value"))
    count = int(outcome.get("unexpected_count") or 0)
    examples = _example_rows(spec, data, columns, outcome.get("partial_unexpected_index_list"))
    if not examples:
        examples = [json_safe(v) for v in (outcome.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]]
    if error:
        text = f"{kind} on {', '.join(columns) or 'the table'} could not be evaluated: {error}"
    else:
        text = _sentence(kind, kwargs, columns, count, rows, config.description)
    return Failure(
        expectation=kind,
        column=column,
        unexpected_count=count,
        unexpected_percent=round(100.0 * count / rows, 4) if rows else 0.0,
        examples=examples,
        description=text,
    )


def _sentence(kind: str, kwargs: dict, columns: list[str], count: int, rows: int, rule: str | None) -> str:
    part = share(count, rows)
    if kind == "expect_column_values_to_not_be_null":
        return f"{part} have no {columns[0]}, which the catalog declares not null"
    if kind in ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"):
        return f"{part} share their natural key ({', '.join(columns)}) with another row"
    if kind == "expect_column_values_to_be_between":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        bounds = f"[{_bound(low, '-inf')}, {_bound(high, 'inf')}]"
        return f"{part} have {columns[0]} outside {bounds}"
    if kind == "expect_column_values_to_be_in_set":
        values = list(kwargs.get("value_set") or [])
        listed = ", ".join(map(str, values[:8])) + (", ..." if len(values) > 8 else "")
        return f"{part} have {columns[0]} not in ({listed})"
    if rule:
        return f"{part} break {rule}"
    return f"{part} fail {kind} on {', '.join(columns) or 'the table'}"


def _aggregate_failure(kind: str, kwargs: dict, columns: list[str], column, observed: Any) -> Failure:
    wanted = ", ".join(f"{k}={v}" for k, v in kwargs.items() if k not in ("column", "batch_id") and v is not None)
    return Failure(
        expectation=kind,
        column=column,
        unexpected_count=0,
        unexpected_percent=None,
        examples=[json_safe(observed)],
        description=f"{kind} on {', '.join(columns) or 'the table'} failed: observed {observed} ({wanted})",
    )


def _bound(value: Any, open_end: str) -> str:
    if value is None:
        return open_end
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _columns_failure(expected: Sequence[str], observed: Sequence[str]) -> Failure:
    missing = [c for c in expected if c not in observed]
    extra = [c for i, c in enumerate(observed) if c not in expected or c in observed[:i]]  # incl. repeats
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("unexpected " + ", ".join(extra))
    if not parts:
        parts.append("same columns, other order: " + ", ".join(observed))
    slots = itertools.zip_longest(expected, observed)
    mismatches = [{"position": i, "expected": e, "found": f} for i, (e, f) in enumerate(slots) if e != f]
    at_fault = missing + extra or [m["found"] for m in mismatches]
    return Failure(
        expectation="expect_table_columns_to_match_ordered_list",
        column=at_fault,
        unexpected_count=len(at_fault),
        unexpected_percent=None,
        examples=mismatches[:MAX_EXAMPLES],
        description="columns differ from the catalog: " + "; ".join(parts),
    )


def _example_rows(spec: TableSpec, data: pa.Table, columns: list[str], indices: list | None) -> list[dict]:
    if not indices:
        return []
    wanted = [c for c in dict.fromkeys([*spec.natural_key, *columns]) if c in data.column_names]
    picked = data.select(wanted).take(pa.array([int(i) for i in indices[:MAX_EXAMPLES]], pa.int64()))
    return [json_safe(row) for row in picked.to_pylist()]


def _exception_message(info: dict | None) -> str | None:
    """GX reports errors either flat or keyed by metric; the first message wins."""
    if not info:
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))
    return None
