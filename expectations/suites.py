"""One expectation suite per table, built from the catalog, the caller's ranges and the table's rules.

A suite ``<layer>.<table>`` expects, in this order:

* the catalog's columns, in order and nothing else;
* each column of its catalog type (``expect_column_values_to_be_of_type`` with the Arrow type
  name): the runner evaluates these on the Arrow schema, before GX, because the pandas dtype
  GX would see is lossy (an int64 column with a null becomes float64, a date an object);
* no nulls in not-null columns, and a unique natural key (compound when it has several columns);
* the rules the table's declaration states (:func:`expectations.rules.rules_for`: column ranges and
  allowed values, which bronze and silver take from the feed contracts, and ordered column pairs);
* the ``ranges`` and ``allowed`` values a caller adds.

A suite is plain data (:class:`Suite` of :class:`expectations.rules.Expected`), GX's expectation types
and arguments: the runner proves most of them on the Arrow slice and builds GX's objects
(:func:`gx_suite`) only for what is left, so a process whose slices are clean never imports GX.
Suites are cached per process and argument set: callers share them and must not modify them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from expectations import rules
from expectations.rules import Expected
from lakehouse.catalog import TableSpec

log = logging.getLogger(__name__)

Ranges = dict[str, tuple[float | None, float | None]]
Allowed = dict[str, Sequence[str]]

TYPE_CHECK = "expect_column_values_to_be_of_type"


@dataclass(frozen=True)
class Suite:
    """A table's expectations, in order."""

    name: str
    expectations: tuple[Expected, ...]


def suite_for(spec: TableSpec, *, ranges: Ranges | None = None, allowed: Allowed | None = None) -> Suite:
    """The table's suite (cached: the same arguments give the same, shared suite object)."""
    frozen_ranges = tuple(sorted((c, (low, high)) for c, (low, high) in (ranges or {}).items()))
    frozen_allowed = tuple(sorted((c, tuple(v) if not isinstance(v, str) else v) for c, v in (allowed or {}).items()))
    return _suite(spec, frozen_ranges, frozen_allowed)


@functools.lru_cache(maxsize=512)
def _suite(spec: TableSpec, ranges: tuple, allowed: tuple) -> Suite:
    own = rules.rules_for(spec)
    extra = [r for r in (*rules.range_rules(dict(ranges)), *rules.allowed_rules(dict(allowed))) if r not in own]
    _check_extra(spec, [*extra, *(r for r in own if not isinstance(r, rules.AtMost))])
    _check_columns(spec, own, "rule")
    expectations = (*catalog_expectations(spec), *(r.expectation() for r in (*extra, *own)))
    log.debug("suite %s: %d expectations", spec.name, len(expectations))
    return Suite(spec.name, expectations)


def catalog_expectations(spec: TableSpec) -> list[Expected]:
    """What the catalog alone says: columns in order, their types, not-null columns, the natural key."""
    out = [Expected("expect_table_columns_to_match_ordered_list", {"column_list": spec.column_names})]
    out += [Expected(TYPE_CHECK, {"column": c.name, "type_": str(c.type)}, meta={"checked_on": "arrow schema"})
            for c in spec.columns]
    out += [Expected("expect_column_values_to_not_be_null", {"column": c.name}) for c in spec.columns if not c.nullable]
    key = list(spec.natural_key)
    if len(key) == 1:
        out.append(Expected("expect_column_values_to_be_unique", {"column": key[0]}, f"natural key {key[0]} is unique"))
    elif key:
        out.append(Expected(
            "expect_compound_columns_to_be_unique",
            # a null key part is the not-null expectation's finding
            {"column_list": key, "ignore_row_if": "any_value_is_missing"},
            f"natural key ({', '.join(key)}) is unique",
        ))
    return out


def gx_suite(name: str, expectations: Sequence[Expected]):
    """GX's suite of ``expectations`` (imports GX and builds its context: the runner calls it for what the Arrow
    proofs leave). GX logs and drops an expectation it cannot build: that raises here, never silently."""
    import great_expectations as gx

    from expectations.context import context

    context()  # suites resolve their store through the current context
    suite = gx.ExpectationSuite(name=name, expectations=[e.configuration for e in expectations])
    if len(suite.expectations) != len(expectations):
        raise ValueError(f"{name}: GX refused {len(expectations) - len(suite.expectations)} expectations")
    return suite


def _check_columns(spec: TableSpec, given: Sequence[rules.Rule], what: str) -> None:
    unknown = sorted({c for r in given for c in r.columns if c not in spec.column_names})
    if unknown:
        raise ValueError(f"{spec.name}: {what} names columns the table does not have: {', '.join(unknown)}")


def _check_extra(spec: TableSpec, extra: Sequence[rules.Rule]) -> None:
    """Ranges and domains must name columns of a fitting type: a mismatch is a declaration bug."""
    _check_columns(spec, extra, "ranges/allowed")
    for r in extra:
        kind = spec.column(r.column).type
        if isinstance(r, rules.Between):
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise ValueError(f"{spec.name}: range on {r.column}, which is {kind}, not a number")
            if r.low is not None and r.high is not None and r.low > r.high:
                raise ValueError(f"{spec.name}: range of {r.column} is empty: {r.low} > {r.high}")
        elif not pa.types.is_string(kind):
            raise ValueError(f"{spec.name}: allowed values on {r.column}, which is {kind}, not a string")
