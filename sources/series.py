"""Run-to-failure exports: a unit's records numbered by a counter, and events the records themselves imply.

A run-to-failure export (a test rig's, a fleet's) numbers each unit's records 1, 2, 3, ...
instead of timing them, and its failures are not listed: a unit's last record is its
failure, or a status column says so. Two parts of the mapping language read such exports:

* ``counter:`` on the event-time column: ts = the unit's start + (count - first) x period,
  the start per unit being a constant, a column of the row, or a stagger rule (unit n starts
  (n - 1) x stagger after the first, n being the unit's number as delivered);
* a feed derived from another (``from:``, ``when:``): its rows are the source feed's records
  where the event happened, the last record of each unit (``when: last``: its failure), its
  first (``when: first``: the unit itself, a machines row), or the records whose status column
  holds one of some values (``when: {column: ..., equals: [...]}``). ``plantlake import``
  copies those records, verbatim, into a file of the derived feed in the drop of their day;
  the mapping reads that file with the source feed's dialect and columns.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, field_validator, model_validator

from lakehouse.catalog import TIMESTAMP

UNITS = {"s": 1, "min": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|min|h|d)\s*$")
MICROS = 1_000_000


def _as_text(value: object) -> object:
    return value if value is None or isinstance(value, str) else str(value)


#: A source column of a mapping: a header, or a position in a headerless file (YAML reads ``1`` as a number,
#: kept here as the text ``"1"``, the way headerless files are named).
SourceColumn = Annotated[str, BeforeValidator(_as_text)]


def duration(value: object) -> object:
    """``90s``, ``30min``, ``2h``, ``1d`` as a timedelta; anything else is left to pydantic (ISO 8601, seconds)."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return dt.timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])
    return value


def _utc(value: dt.datetime | dt.date) -> dt.datetime:
    """A YAML date or timestamp as a UTC instant (a date: its midnight; no offset: UTC)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Counter(BaseModel):
    """An event-time column holding a per-unit record counter instead of a time."""

    model_config = ConfigDict(extra="forbid")

    period: dt.timedelta  # time between two counts (90s, 30min, 2h, 1d, or ISO 8601)
    first: int = 1  # the count of a unit's first record (at its start)
    start: dt.datetime | dt.date | None = None  # every unit's start; with stagger, unit 1's
    start_column: SourceColumn | None = None  # or: a source column holding each row's unit start (a timestamp)
    stagger: dt.timedelta | None = None  # unit n starts (n - 1) x stagger after ``start``
    unit: str = "machine_id"  # contract column whose source value is the unit's number (for stagger)

    @field_validator("period", "stagger", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return duration(value)

    @model_validator(mode="after")
    def _check(self) -> Counter:
        if self.period <= dt.timedelta(0):
            raise ValueError("counter period must be positive")
        if (self.start is None) == (self.start_column is None):
            raise ValueError("counter: give the units' start as start (a timestamp) or start_column, not both")
        if self.stagger is not None and self.start is None:
            raise ValueError("counter: stagger counts from start (a timestamp)")
        return self

    def describe(self) -> str:
        """What a value of the column must be, for quarantine reasons."""
        return f"record count (integer; {self.first} = the unit's start, one every {self.period})"


def timestamps(frame: pl.DataFrame, header: str, counter: Counter, unit_header: str | None, dialect,
               tz: str | None) -> tuple[pl.Series, pl.Series]:
    """(UTC timestamps, the counts as text) of a counter column; null where a count, unit number or start does
    not type (the row then breaks ``type``, naming the count)."""
    from sources import parse  # parse reads the mapping's dialect: imported when used, not with the mapping

    text = parse.as_text(frame[header], dialect.null_tokens)
    count = parse.to_int(text, dialect.decimal)
    if counter.start_column is not None:
        start = parse.typed(parse.as_text(frame[counter.start_column], dialect.null_tokens), TIMESTAMP, dialect, tz)
        start_us = start.dt.epoch("us")
    else:
        base = int(_utc(counter.start).timestamp() * MICROS)
        start_us = pl.Series("start", [base] * frame.height, dtype=pl.Int64)
        if counter.stagger is not None:
            number = parse.to_int(parse.as_text(frame[unit_header], dialect.null_tokens), dialect.decimal)
            start_us = start_us + (number - 1) * int(counter.stagger.total_seconds() * MICROS)
    offset = (count - counter.first) * int(counter.period.total_seconds() * MICROS)
    micros = (start_us + offset).alias(header)
    return pl.from_epoch(micros, time_unit="us").dt.replace_time_zone("UTC"), parse.text_of(text)


class Occurs(BaseModel):
    """Where a derived feed's event happened: the records whose status column holds one of ``equals``."""

    model_config = ConfigDict(extra="forbid")

    column: SourceColumn  # source header, or position in a headerless file
    equals: list[str]

    @field_validator("equals", mode="before")
    @classmethod
    def _texts(cls, value: object) -> object:
        values = value if isinstance(value, list) else [value]
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def event_rows(units: pl.Series | None, times: pl.Series | None, status: pl.Series | None,
               rule: Literal["first", "last"] | Occurs) -> np.ndarray:
    """Positions of the records where the event happened: each unit's first or last (by time, then record),
    or those whose status is one of the rule's values."""
    from sources import parse

    if rule in ("first", "last"):
        frame = pl.DataFrame({"unit": units, "time": times, "row": np.arange(units.len())})
        pick = pl.col("row").first() if rule == "first" else pl.col("row").last()
        ends = frame.drop_nulls(["unit", "time"]).sort(["unit", "time", "row"]).group_by("unit").agg(pick)
        return np.sort(ends["row"].to_numpy())
    hit = parse.text_of(status).str.strip_chars().is_in(rule.equals).fill_null(False)
    return np.flatnonzero(hit.to_numpy())
