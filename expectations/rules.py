"""What must hold in a table beyond its types, from its catalog declaration: rules as plain data.

Each column's ``min``/``max`` becomes a :class:`Between`, its ``allowed`` values a :class:`OneOf`,
each ``at_most`` pair an :class:`AtMost`. Rules are plain data so that the rules read like the KPI
definitions they protect, and each states its GX expectation as plain data too (:class:`Expected`):
GX is imported only when a slice leaves an expectation for GX to compute (``expectations.runner``).
Nulls pass every rule: whether a column may be null is the catalog's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lakehouse.catalog import TableSpec


@dataclass(frozen=True)
class Expected:
    """One GX expectation as plain data: its type (``expect_column_values_to_be_between``...) and arguments,
    as GX's ``ExpectationConfiguration`` holds them."""

    type: str
    kwargs: Mapping[str, Any]
    description: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def type_(self) -> str | None:
        return self.kwargs.get("type_")

    def with_kwargs(self, **changes: Any) -> Expected:
        return replace(self, kwargs={**self.kwargs, **changes})

    @property
    def configuration(self):
        """GX's configuration of it (imports GX)."""
        from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

        return ExpectationConfiguration(type=self.type, kwargs=dict(self.kwargs), meta=dict(self.meta) or None,
                                        description=self.description)

    @classmethod
    def of(cls, expectation: Any) -> Expected:
        """A GX expectation (or its configuration) as plain data."""
        config = getattr(expectation, "configuration", expectation)
        return cls(config.type, dict(config.kwargs), config.description, dict(config.meta or {}))


@dataclass(frozen=True)
class Between:
    """``low <= column <= high`` (either bound may be open)."""

    column: str
    low: float | None = None
    high: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def expectation(self) -> Expected:
        bounds = {k: float(v) for k, v in (("min_value", self.low), ("max_value", self.high)) if v is not None}
        return Expected("expect_column_values_to_be_between", {"column": self.column, **bounds}, self.text)

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

    def expectation(self) -> Expected:
        return Expected("expect_column_pair_values_a_to_be_greater_than_b",
                        {"column_A": self.other, "column_B": self.column, "or_equal": True,
                         "ignore_row_if": "either_value_is_missing"}, self.text)

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

    def expectation(self) -> Expected:
        return Expected("expect_column_values_to_be_in_set", {"column": self.column, "value_set": list(self.values)},
                        self.text)

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
