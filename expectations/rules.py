"""What must hold in a table beyond its types, from its catalog declaration: rules as plain data.

Each column's ``min``/``max`` becomes a :class:`Between`, its ``allowed`` values a :class:`OneOf`,
each ``at_most`` pair an :class:`AtMost`. Rules are plain data so that every suite gets fresh GX
expectations and the rules read like the KPI definitions they protect. Nulls pass every rule:
whether a column may be null is the catalog's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import great_expectations as gx
from great_expectations.expectations.expectation import Expectation

from lakehouse.catalog import TableSpec


@dataclass(frozen=True)
class Between:
    """``low <= column <= high`` (either bound may be open)."""

    column: str
    low: float | None = None
    high: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=self.column, min_value=self.low, max_value=self.high, description=self.text
        )

    @property
    def text(self) -> str:
        if self.high is None:
            return f"{self.column} >= {self.low:g}"
        if self.low is None:
            return f"{self.column} <= {self.high:g}"
        return f"{self.low:g} <= {self.column} <= {self.high:g}"


@dataclass(frozen=True)
class AtMost:
    """``column <= other`` in every row where both are present."""

    column: str
    other: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.other)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=self.other,
            column_B=self.column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description=self.text,
        )

    @property
    def text(self) -> str:
        return f"{self.column} <= {self.other}"


@dataclass(frozen=True)
class OneOf:
    """The column's values come from a fixed set."""

    column: str
    values: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=self.column, value_set=list(self.values), description=self.text
        )

    @property
    def text(self) -> str:
        return f"{self.column} in ({', '.join(self.values)})"


Rule = Between | AtMost | OneOf


def rules_for(spec: TableSpec) -> tuple[Rule, ...]:
    """The rules the table's declaration states: column ranges and allowed values, ordered pairs."""
    ranges = {c.name: (c.min, c.max) for c in spec.columns if c.min is not None or c.max is not None}
    allowed = {c.name: c.allowed for c in spec.columns if c.allowed}
    return (*range_rules(ranges), *allowed_rules(allowed), *(AtMost(a, b) for a, b in spec.at_most))


def range_rules(ranges: dict[str, tuple[float | None, float | None]] | None) -> tuple[Between, ...]:
    """The caller's ``{column: (min, max)}`` as rules; a pair of open bounds adds nothing."""
    return tuple(Between(c, lo, hi) for c, (lo, hi) in (ranges or {}).items() if lo is not None or hi is not None)


def allowed_rules(allowed: dict[str, Sequence[str]] | None) -> tuple[OneOf, ...]:
    """The caller's ``{column: allowed values}`` as rules."""
    rules = []
    for column, values in (allowed or {}).items():
        if isinstance(values, str):
            raise ValueError(f"allowed values of {column!r} must be a sequence of strings, not the string {values!r}")
        rules.append(OneOf(column, tuple(values)))
    return tuple(rules)
