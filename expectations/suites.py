"""One GX expectation suite per table, built from the catalog, the caller's ranges and the table's rules.

A suite ``<layer>.<table>`` expects, in this order:

* the catalog's columns, in order and nothing else;
* each column of its catalog type (``expect_column_values_to_be_of_type`` with the Arrow type
  name): the runner evaluates these on the Arrow schema, before GX, because the pandas dtype
  GX would see is lossy (an int64 column with a null becomes float64, a date an object);
* no nulls in not-null columns, and a unique natural key (compound when it has several columns);
* the rules the table's declaration states (:func:`expectations.rules.rules_for`: column ranges and
  allowed values, which bronze and silver take from the feed contracts, and ordered column pairs);
* the ``ranges`` and ``allowed`` values a caller adds.

Suites are cached per process and argument set: callers share them and must not modify them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import great_expectations as gx
import pyarrow as pa
from great_expectations.expectations.expectation import Expectation

from expectations import rules
from expectations.context import context
from lakehouse.catalog import TableSpec

log = logging.getLogger(__name__)

Ranges = dict[str, tuple[float | None, float | None]]
Allowed = dict[str, Sequence[str]]

TYPE_CHECK = "expect_column_values_to_be_of_type"


def suite_for(spec: TableSpec, *, ranges: Ranges | None = None, allowed: Allowed | None = None) -> gx.ExpectationSuite:
    """The table's suite (cached: the same arguments give the same, shared suite object)."""
    frozen_ranges = tuple(sorted((c, (low, high)) for c, (low, high) in (ranges or {}).items()))
    frozen_allowed = tuple(sorted((c, tuple(v) if not isinstance(v, str) else v) for c, v in (allowed or {}).items()))
    return _suite(spec, frozen_ranges, frozen_allowed)


@functools.lru_cache(maxsize=512)
def _suite(spec: TableSpec, ranges: tuple, allowed: tuple) -> gx.ExpectationSuite:
    context()  # suites resolve their store through the current context
    own = rules.rules_for(spec)
    extra = [r for r in (*rules.range_rules(dict(ranges)), *rules.allowed_rules(dict(allowed))) if r not in own]
    _check_extra(spec, [*extra, *(r for r in own if not isinstance(r, rules.AtMost))])
    _check_columns(spec, own, "rule")
    expectations = [*catalog_expectations(spec), *(r.expectation() for r in (*extra, *own))]
    suite = gx.ExpectationSuite(name=spec.name, expectations=expectations, meta={"table": spec.name})
    if len(suite.expectations) != len(expectations):  # GX logs and drops invalid ones; never silently
        raise ValueError(f"{spec.name}: GX refused {len(expectations) - len(suite.expectations)} expectations")
    log.debug("suite %s: %d expectations", spec.name, len(expectations))
    return suite


def catalog_expectations(spec: TableSpec) -> list[Expectation]:
    """What the catalog alone says: columns in order, their types, not-null columns, the natural key."""
    expect = gx.expectations
    out: list[Expectation] = [expect.ExpectTableColumnsToMatchOrderedList(column_list=spec.column_names)]
    out += [
        expect.ExpectColumnValuesToBeOfType(column=c.name, type_=str(c.type), meta={"checked_on": "arrow schema"})
        for c in spec.columns
    ]
    out += [expect.ExpectColumnValuesToNotBeNull(column=c.name) for c in spec.columns if not c.nullable]
    key = list(spec.natural_key)
    if len(key) == 1:
        out.append(expect.ExpectColumnValuesToBeUnique(column=key[0], description=f"natural key {key[0]} is unique"))
    elif key:
        out.append(expect.ExpectCompoundColumnsToBeUnique(
            column_list=key,
            ignore_row_if="any_value_is_missing",  # a null key part is the not-null expectation's finding
            description=f"natural key ({', '.join(key)}) is unique",
        ))
    return out


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
