"""Slices: exactly which rows a nightly write replaces.

A slice is one value of the table's partition column (a ``date``, or a ``month`` for
monthly tables), optionally narrowed to some plants. A run over several nights or
plants replaces several slices in one commit. Slice values are validated before any
work: a value of the wrong type is an error, never a whole-table overwrite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import DATE, TableSpec
from lakehouse.errors import PartitionValueError


def slice_date(value: Any) -> dt.date:
    """A slice value: a ``datetime.date`` or an ISO ``YYYY-MM-DD`` string, nothing else."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise PartitionValueError(f"a slice's date must be a date or 'YYYY-MM-DD', got {type(value).__name__} {value!r}")


def _plants(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not value or not all(isinstance(p, str) for p in value):
        raise PartitionValueError(f"plant_ids must be a non-empty list of strings, got {value!r}")
    return tuple(sorted(set(value)))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Slices:
    """Partition values of ``column``, each whole (``None``) or narrowed to some plants."""

    column: str
    parts: tuple[tuple[dt.date, tuple[str, ...] | None], ...]

    @classmethod
    def of(cls, spec: TableSpec, slices: Mapping[Any, Sequence[str] | None]) -> Slices:
        if not spec.partition_by or spec.column(spec.partition_by[0]).type != DATE:
            raise PartitionValueError(f"{spec.name} is not partitioned by a date column; use append or merge")
        parts = {slice_date(value): _plants(plants) for value, plants in slices.items()}
        if not parts:
            raise PartitionValueError(f"{spec.name}: no slice named")
        if any(p is not None for p in parts.values()) and "plant_id" not in spec.column_names:
            raise PartitionValueError(f"{spec.name} has no plant_id column to narrow a slice")
        return cls(spec.partition_by[0], tuple(sorted(parts.items())))

    @property
    def values(self) -> list[dt.date]:
        return [value for value, _ in self.parts]

    @property
    def narrowed(self) -> dict[dt.date, tuple[str, ...]]:
        """The slices limited to some plants (their other plants' rows are kept)."""
        return {value: plants for value, plants in self.parts if plants is not None}

    def predicate(self) -> str:
        """SQL naming the slices, e.g. ``date IN ('2026-01-01') OR (date = '2026-01-02' AND plant_id IN ('DE01'))``."""
        whole = [value for value, plants in self.parts if plants is None]
        clauses = []
        if whole:
            clauses.append(f"{self.column} IN ({', '.join(_literal(v.isoformat()) for v in whole)})")
        for value, plants in self.narrowed.items():
            clauses.append(
                f"({self.column} = {_literal(value.isoformat())} AND plant_id IN ({', '.join(map(_literal, plants))}))"
            )
        return " OR ".join(clauses)

    def __str__(self) -> str:
        return self.predicate()

    def partition_filter(self) -> list[tuple[str, str, list[str]]]:
        return [(self.column, "in", [v.isoformat() for v in self.values])]

    def outside(self, batch: pa.RecordBatch | pa.Table) -> pa.Array:
        """A boolean mask of the rows that lie outside every slice (nulls count as outside)."""
        values = batch.column(self.column)
        dates_by_plants: dict[tuple[str, ...] | None, list[dt.date]] = {}
        for value, plants in self.parts:
            dates_by_plants.setdefault(plants, []).append(value)
        inside = pc.is_in(values, value_set=pa.array(dates_by_plants.pop(None, []), pa.date32()))
        # One pass per distinct set of plants, not per date: a backfill's nights mostly share theirs.
        for plants, dates in dates_by_plants.items():
            ours = pc.and_(pc.is_in(values, value_set=pa.array(dates, pa.date32())),
                           pc.is_in(batch.column("plant_id"), value_set=pa.array(plants, pa.string())))
            inside = pc.or_(inside, ours)
        return pc.invert(pc.fill_null(inside, False))

    def check(self, spec: TableSpec):
        """A batch check for :func:`lakehouse.conform.conform`: every row must lie inside the slices."""

        def check(batch: pa.RecordBatch) -> None:
            outside = self.outside(batch)
            bad = pc.sum(pc.cast(outside, pa.int64())).as_py() or 0
            if bad:
                index = pc.index(outside, True).as_py()
                first = batch.slice(index, 1).to_pylist()[0]
                row = {k: first[k] for k in (self.column, "plant_id") if k in first}
                raise PartitionValueError(
                    f"{spec.name}: {bad} rows lie outside the slice {self} (first: {row}); nothing was written"
                )

        return check
