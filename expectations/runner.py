"""Validate an Arrow table (the slice just written) against its suite and say what failed.

Engine: GX's pandas engine on a frame converted from Arrow. The asset checks hold the slice
as Arrow already; GX's Spark engine would add a session start, loading the table and a
validation job per expectation, far slower for the same suite (the figures, and
``python -m bench.expectations_bench [--bad] [--spark]`` to measure them, are in
docs/performance.md). GX works in two passes (met or not, then details of what failed), does
not fingerprint the frame, and drops no rows for missing values where there are none:
together several times faster than GX's defaults, with the same findings. Memory is the
limit instead: validate a slice (a date, or a date and some plants), not a table, and a
large slice in parts (:func:`validate_parts`).

Column types are checked here, on the Arrow schema, before GX: a suite's
``expect_column_values_to_be_of_type`` expectations name Arrow types, which the pandas
frame cannot show faithfully. Expectations on a missing or mistyped column are skipped
(and listed) rather than run into errors. Expectations that the Arrow table proves met
(:func:`_proven`: no missing value, no repeated key, every value within its bounds or
in its set, A above B on every row, the columns in order) are counted as met without GX
computing them again: on telemetry they were most of GX's time, and on a clean small
slice GX's fixed cost per validation was most of a check's. When a proof fails, GX
computes the expectation and reports what broke it, as for any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from expectations import report
from expectations.outcome import MAX_EXAMPLES, Outcome, combine
from expectations.rules import Expected
from expectations.suites import TYPE_CHECK, Suite, gx_suite, suite_for
from lakehouse.catalog import TableSpec

log = logging.getLogger(__name__)

#: First pass, over the whole suite: met or not. GX then computes each rule's condition and
#: count only, not the values, row indices and query of what broke it (on 2.3 M telemetry rows
#: this pass takes half the time of the detailed one).
CHECK_FORMAT = {"result_format": "BOOLEAN_ONLY"}
#: Second pass, over the expectations that failed: counts and examples for the report.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES,
                 "return_unexpected_index_query": False}
#: Expectations the Arrow table can prove met (:func:`_proven`).
NOT_NULL = "expect_column_values_to_not_be_null"
UNIQUE = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
A_ABOVE_B = "expect_column_pair_values_a_to_be_greater_than_b"
COLUMNS_IN_ORDER = "expect_table_columns_to_match_ordered_list"


def validate(spec: TableSpec, data: pa.Table, suite: Suite | Any | None = None) -> Outcome:
    """Run ``suite`` (default: the table's catalog suite; or a GX ``ExpectationSuite``) on ``data``; never raises
    for bad data."""
    return _logged(_validate(spec, _arrow(data), suite if suite is not None else suite_for(spec)))


def validate_parts(spec: TableSpec, parts: Iterable[pa.Table], suite: Suite | Any | None = None) -> Outcome:
    """Run ``suite`` on a slice part by part and report it as one (:func:`expectations.outcome.combine`).

    For slices too large for one pandas frame. Exact for row-level expectations, and for the
    natural key when no key spans two parts (the caller splits by a key column).
    """
    suite = suite if suite is not None else suite_for(spec)
    return _logged(combine([_validate(spec, _arrow(part), suite) for part in parts]))


def _logged(outcome: Outcome) -> Outcome:
    log.log(logging.INFO if outcome.success else logging.WARNING, "%s (%.1f s)", outcome.summary(),
            outcome.duration_s)
    return outcome


def _validate(spec: TableSpec, data: pa.Table, suite: Suite | Any) -> Outcome:
    started = time.perf_counter()
    expected = [e if isinstance(e, Expected) else Expected.of(e) for e in suite.expectations]
    type_checks = [e for e in expected if e.type == TYPE_CHECK]
    failures = [report.type_failure(e.column, e.type_, data) for e in type_checks
                if report.type_mismatch(e.column, e.type_, data)]
    unusable = {f.column for f in failures} | {c for c in spec.column_names if c not in data.column_names}

    missing = {f.name for f, column in zip(data.schema, data.columns, strict=True) if _has_missing(column)}
    runnable, skipped, proven = [], [], 0
    for e in expected:
        if e.type == TYPE_CHECK:
            continue
        columns = report.expectation_columns(e.type, e.kwargs)
        blocked = [c for c in columns if c in unusable or c not in data.column_names]
        if blocked:
            why = f"{', '.join(blocked)} missing, repeated or mistyped"
            skipped.append(f"{e.type} on {', '.join(columns)}: {why}")
        elif _proven(e.type, e.kwargs, columns, data, missing):
            proven += 1
        else:
            runnable.append(_unscreened(e, columns, missing))

    evaluated = len(type_checks) + proven
    if runnable:
        from expectations.context import batch  # GX: only for what the Arrow table does not prove

        with batch(_frame(data)) as gx_batch:
            checked = gx_batch.validate(gx_suite(suite.name, runnable), result_format=CHECK_FORMAT)
            failed = [Expected.of(r.expectation_config) for r in checked.results if not r.success]
            detailed = gx_batch.validate(gx_suite(suite.name, failed), result_format=RESULT_FORMAT) if failed else None
        evaluated += checked.statistics["evaluated_expectations"]
        failures += [report.gx_failure(r, spec, data) for r in detailed.results if not r.success] if detailed else []

    return Outcome(
        table=spec.name,
        success=not failures and not skipped,
        rows=data.num_rows,
        evaluated=evaluated,
        failures=failures,
        skipped=skipped,
        duration_s=time.perf_counter() - started,
    )


def _proven(kind: str, kwargs: dict, columns: list[str], data: pa.Table, missing: set[str]) -> bool:
    """Whether ``data`` itself shows the expectation met, so GX's verdict could only be "met".

    Not null: none of ``columns`` is among those with a ``missing`` value. Unique: no missing
    value and no repeated value or combination of values. Between, in a set: every value that
    is not missing (GX's column rules skip those) within the bounds, or in the set. A above B:
    A > B (>= with ``or_equal``) on every row, those where either is missing skipped when the rule
    says so (``either_value_is_missing``), else no missing value in either column; on no rows,
    these three are met (no row breaks them). The columns in order: those of ``data``. Anything
    else is left to GX.
    """
    if kind == NOT_NULL:
        return not missing.intersection(columns)
    if kind in UNIQUE:
        return not missing.intersection(columns) and not pl.from_arrow(data.select(columns)).is_duplicated().any()
    if kind == COLUMNS_IN_ORDER:
        return data.column_names == list(kwargs["column_list"])
    if not data.num_rows:
        return ((kind == BETWEEN and (kwargs.get("min_value"), kwargs.get("max_value")) != (None, None))
                or (kind == IN_SET and kwargs.get("value_set") is not None) or kind == A_ABOVE_B)
    if kind == BETWEEN:
        return _within(_present(data.column(columns[0])), kwargs)
    if kind == IN_SET:
        values = _present(data.column(columns[0]))
        return kwargs.get("value_set") is not None and set(pc.unique(values).to_pylist()) <= set(kwargs["value_set"])
    if kind == A_ABOVE_B:
        a, b = data.column(kwargs["column_A"]), data.column(kwargs["column_B"])
        if not (a.type == b.type or (_numeric(a.type) and _numeric(b.type))):
            return False
        if missing.intersection(columns):
            if kwargs.get("ignore_row_if") != "either_value_is_missing":
                return False
            both = pc.and_(_is_present(a), _is_present(b))  # the rows GX looks at
            a, b = a.filter(both), b.filter(both)
        above = pc.greater_equal(a, b) if kwargs.get("or_equal") else pc.greater(a, b)
        return pc.all(above, min_count=0).as_py() is True
    return False


def _present(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The values GX's column rules look at: neither null nor NaN."""
    return column.filter(_is_present(column))


def _is_present(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Per row, whether ``column`` has a value there: neither null nor NaN (pandas' missing, which GX skips)."""
    valid = pc.is_valid(column)
    return pc.and_kleene(valid, pc.invert(pc.is_nan(column))) if pa.types.is_floating(column.type) else valid


def _numeric(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind)


def _within(values: pa.ChunkedArray, kwargs: dict) -> bool:
    """Every one of ``values`` (numbers) within ``min_value``..``max_value`` (``strict_min``/``strict_max``)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if not _numeric(values.type) or (low is None and high is None):
        return False
    if not len(values):  # every value missing: GX skips them all
        return True
    least, most = (v.as_py() for v in pc.min_max(values).values())
    return ((low is None or (least > low if kwargs.get("strict_min") else least >= low))
            and (high is None or (most < high if kwargs.get("strict_max") else most <= high)))


def _unscreened(e: Expected, columns: list[str], missing: set[str]) -> Expected:
    """``e`` without its screen for missing values when its columns have none.

    The verdict is the same; GX would copy the whole frame to drop no row (a large share of a
    validation's time: docs/performance.md; the pair rules gain, and the natural key where it
    is not proven on Arrow).
    """
    if e.kwargs.get("ignore_row_if") in (None, "never", "neither") or missing.intersection(columns):
        return e
    return e.with_kwargs(ignore_row_if="neither" if "column_A" in e.kwargs else "never")


def _has_missing(column: pa.ChunkedArray) -> bool:
    """Missing as pandas counts it (what GX's rules skip or flag): null, or NaN in a float column."""
    return column.null_count > 0 or not pc.all(_is_present(column), min_count=0).as_py()


def _arrow(data: pa.Table | pa.RecordBatch | pa.RecordBatchReader) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    raise TypeError(f"validate() takes a pyarrow Table, not {type(data).__name__}")


def _frame(data: pa.Table):
    """The pandas frame GX validates: dictionary columns decoded (GX would see categoricals); a map column
    (a reading's sensor values) as whether each row has one: no rule looks inside it, and pandas would make
    a Python list of every row's pairs (docs/performance.md)."""
    columns = [
        c.cast(c.type.value_type) if pa.types.is_dictionary(c.type)
        else pc.if_else(pc.is_valid(c), True, None) if pa.types.is_map(c.type) else c
        for c in data.columns
    ]
    return pa.Table.from_arrays(columns, names=data.column_names).to_pandas()
