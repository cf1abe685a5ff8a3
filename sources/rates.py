"""Currency rates: money delivered in another currency becomes the contract's EUR by a dated rate.

A mapping says a money column's currency (``unit: USD``); the rates are a CSV the user supplies
(``PLANTLAKE_FX_RATES``) with the columns ``date,currency,eur_per_unit``. A value takes the
latest rate of its currency on or before its row's date (the feed's event time, UTC); a
value with no such rate is not converted by guess: its row is quarantined (rule ``unit``).
"""

from __future__ import annotations

import datetime as dt
import functools

import polars as pl

from lakehouse import storage
from lakehouse.settings import Settings, get_settings

COLUMNS = ("date", "currency", "eur_per_unit")


class RatesProblem(ValueError):
    """The rates table is missing or unreadable; the message says which and why."""


@functools.lru_cache(maxsize=8)
def _parse(data: bytes, where: str) -> pl.DataFrame:
    """The table parsed and checked; cached by its content, so each file read parses it once."""
    try:
        frame = pl.read_csv(data, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise RatesProblem(f"rates table {where} is not a readable CSV: {exc}") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise RatesProblem(f"rates table {where} lacks the column(s) {', '.join(missing)} "
                           f"(it needs {', '.join(COLUMNS)})")
    typed = frame.select(
        pl.col("date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False),
        pl.col("currency").str.strip_chars().str.to_uppercase(),
        pl.col("eur_per_unit").str.strip_chars().cast(pl.Float64, strict=False),
    )
    bad = typed.with_row_index("row", 1).filter(
        pl.any_horizontal(pl.all().is_null()) | (pl.col("eur_per_unit") <= 0) | ~pl.col("eur_per_unit").is_finite())
    if bad.height:
        raise RatesProblem(f"rates table {where}: row {bad['row'][0]} is not a date (YYYY-MM-DD), a currency and "
                           "a positive rate")
    return typed.sort("currency", "date")


def rates(settings: Settings | None = None) -> pl.DataFrame:
    """The rates table of ``PLANTLAKE_FX_RATES`` (read once per content)."""
    settings = settings or get_settings()
    where = settings.fx_rates
    if not where:
        raise RatesProblem("the mapping converts a currency, but PLANTLAKE_FX_RATES names no rates table "
                           f"(a CSV of {', '.join(COLUMNS)})")
    try:
        data = storage.read_bytes(where, settings)
    except FileNotFoundError:
        raise RatesProblem(f"rates table {where} (PLANTLAKE_FX_RATES) does not exist") from None
    return _parse(data, where)


def to_eur(values: pl.Series, currency: str, days: pl.Series, table: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(``values`` in EUR, the rate date used: null where no rate of ``currency`` is on or before the day)."""
    known = table.filter(pl.col("currency") == currency).select(pl.col("date").alias("rate_date"), "eur_per_unit")
    frame = pl.DataFrame({"i": range(values.len()), "day": days.cast(pl.Date)}).sort("day")
    matched = frame.join_asof(known, left_on="day", right_on="rate_date", strategy="backward").sort("i")
    return (values.cast(pl.Float64) * matched["eur_per_unit"]).alias(values.name), matched["rate_date"]


def shown(day: dt.date | None) -> str:
    return day.isoformat() if day else "null"
