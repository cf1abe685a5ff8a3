"""Typing source values by their contract type and the file's dialect (pure functions on Polars Series).

Every function returns nulls where a value cannot be typed; the caller compares with
the input to find the rows that break the ``type`` rule. Timestamps end as UTC
microseconds:

* ``timestamp_format: iso`` accepts ``YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z|+HH[:MM]]``;
  values without an offset are local to the dialect's time zone;
* any other ``timestamp_format`` is a strftime format (``%z`` makes it carry its offset);
* a local time that a DST change makes ambiguous (it happens twice) is taken as the
  earlier of the two instants; a local time that does not exist (skipped by the clock
  change) is a type error.

Columns with few distinct values (timestamps of a per-minute feed, machine ids) are
typed once per distinct value and mapped back, which keeps a million-row file fast.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import polars as pl
import pyarrow as pa

from lakehouse.catalog import BOOL, DATE, FLOAT64, INT64, STRING, TIMESTAMP
from sources.mapping import Dialect

UTC_TS = pl.Datetime("us", "UTC")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def instant(value: dt.datetime) -> pl.Expr:
    """A timezone-aware ``value`` as a UTC-microsecond literal, built from its epoch microseconds: for a
    literal of an aware datetime Polars builds a Series, which a drop pays for every feed and file
    (docs/performance.md, Landing)."""
    if value.tzinfo is None:
        raise ValueError(f"{value} has no time zone")
    return pl.lit((value - EPOCH) // dt.timedelta(microseconds=1), dtype=pl.Int64).cast(UTC_TS)


ISO = (r"^(?P<d>\d{4}-\d{2}-\d{2})(?:[T ](?P<t>\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?))?"
       r"\s*(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)?$")
_EXACT_INT = 2**53  # floats beyond this are not exact integers
SMALL = 1000  # below this many rows, typing every value is cheaper than finding the distinct ones


def polars_type(arrow: pa.DataType) -> pl.DataType:
    return {STRING: pl.String, INT64: pl.Int64, FLOAT64: pl.Float64, BOOL: pl.Boolean, DATE: pl.Date,
            TIMESTAMP: UTC_TS}[arrow]


def describe(arrow: pa.DataType, dialect: Dialect, tz: str | None) -> str:
    """What a value of this type must look like, for quarantine reasons."""
    if arrow == TIMESTAMP:
        fmt = "ISO 8601" if dialect.timestamp_format == "iso" else dialect.timestamp_format
        return f"timestamp ({fmt}, local zone {tz})"
    if arrow == DATE:
        return f"date ({dialect.date_format})"
    if arrow == BOOL:
        return f"boolean ({'/'.join(dialect.true_tokens)} or {'/'.join(dialect.false_tokens)})"
    return {INT64: "integer", FLOAT64: "number", STRING: "text"}[arrow]


def as_text(s: pl.Series, null_tokens: list[str]) -> pl.Series:
    """Strings stripped, null tokens made null; other types as they are."""
    if s.dtype != pl.String:
        return s
    stripped = s.str.strip_chars()
    return stripped.set(stripped.is_in(null_tokens), None) if null_tokens else stripped


def text_of(s: pl.Series) -> pl.Series:
    """Any column as strings (what a quarantine reason shows)."""
    if s.dtype == pl.String:
        return s
    if s.dtype == pl.Null:
        return s.cast(pl.String)
    try:
        return s.cast(pl.String)
    except pl.exceptions.PolarsError:
        return pl.Series(s.name, [None if v is None else str(v) for v in s.to_list()], dtype=pl.String)


def by_distinct(s: pl.Series, fn: Callable[[pl.Series], pl.Series], dtype: pl.DataType) -> pl.Series:
    """``fn`` applied to the distinct non-null values of ``s`` only, mapped back onto every row."""
    if s.len() <= SMALL:
        return fn(s).cast(dtype)
    distinct = s.drop_nulls().unique()
    if distinct.len() * 2 > s.len():
        return fn(s).cast(dtype)
    return s.replace_strict(distinct, fn(distinct).cast(dtype), default=None, return_dtype=dtype)


def to_float(s: pl.Series, decimal: str = ".") -> pl.Series:
    if s.dtype.is_numeric():
        return s.cast(pl.Float64)
    text = text_of(s)
    if decimal == ",":
        text = text.str.replace(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def to_int(s: pl.Series, decimal: str = ".") -> pl.Series:
    """Integers; a float that is a whole number (``12.0``) counts, ``12.5`` does not."""
    if s.dtype.is_integer():
        return s.cast(pl.Int64, strict=False)
    direct = s.cast(pl.Int64, strict=False) if s.dtype == pl.String else pl.Series(s.name, [None] * s.len(), pl.Int64)
    if direct.null_count() == s.null_count():  # every value was an integer as written
        return direct
    f = to_float(s, decimal)
    whole = f.is_finite() & (f == f.floor()) & (f.abs() < _EXACT_INT)
    return direct.fill_null(f.set(~whole.fill_null(False), None).cast(pl.Int64, strict=False))


def to_bool(s: pl.Series, true_tokens: list[str], false_tokens: list[str]) -> pl.Series:
    if s.dtype == pl.Boolean:
        return s
    text = text_of(s)
    return pl.select(
        pl.when(text.is_in(true_tokens)).then(True).when(text.is_in(false_tokens)).then(False).otherwise(None)
    ).to_series().alias(s.name)


def to_date(s: pl.Series, fmt: str) -> pl.Series:
    if s.dtype == pl.Date:
        return s
    if isinstance(s.dtype, pl.Datetime):
        return s.dt.date()
    return by_distinct(text_of(s), lambda u: u.str.to_date(fmt, strict=False), pl.Date)


def local_to_utc(naive: pl.Series, tz: str) -> pl.Series:
    """Wall-clock times in ``tz`` as UTC: ambiguous -> the earlier instant, non-existent -> null."""
    local = naive.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
    return local.dt.convert_time_zone("UTC").dt.cast_time_unit("us")


def _iso(u: pl.Series, tz: str) -> pl.Series:
    parts = u.str.extract_groups(ISO).struct.unnest()
    clock = pl.col("t").fill_null("00:00").str.replace(",", ".", literal=True)
    naive_text = pl.concat_str(pl.col("d"), pl.lit("T"), clock)
    zone = pl.col("z").str.replace(":", "", literal=True)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    offset_s = pl.when(zone.str.to_uppercase() == "Z").then(0).otherwise(
        sign * (zone.str.slice(1, 2).cast(pl.Int64, strict=False) * 3600
                + zone.str.slice(3, 2).cast(pl.Int64, strict=False).fill_null(0) * 60))
    frame = parts.select(
        naive=pl.coalesce(naive_text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us"),
                          naive_text.str.to_datetime("%Y-%m-%dT%H:%M", strict=False, time_unit="us")),
        offset=offset_s,
        has_zone=pl.col("z").is_not_null(),
    )
    frame = frame.with_columns(local=local_to_utc(frame["naive"], tz))
    fixed = pl.col("naive").dt.replace_time_zone("UTC") - pl.duration(seconds=pl.col("offset"))
    return frame.select(pl.when("has_zone").then(fixed).otherwise("local")).to_series().alias(u.name)


def _strftime(u: pl.Series, fmt: str, tz: str) -> pl.Series:
    parsed = u.str.to_datetime(fmt, strict=False, time_unit="us")
    if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone:
        return parsed.dt.convert_time_zone("UTC")
    return local_to_utc(parsed, tz)


def to_timestamp(s: pl.Series, fmt: str, tz: str) -> pl.Series:
    """UTC microseconds from text in ``fmt`` ("iso" or strftime) or from a Parquet timestamp/date."""
    if isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone:
            return s.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return local_to_utc(s.dt.cast_time_unit("us"), tz)
    if s.dtype == pl.Date:
        return local_to_utc(s.cast(pl.Datetime("us")), tz)
    if fmt == "iso":
        return by_distinct(text_of(s), lambda u: _iso(u, tz), UTC_TS)
    return by_distinct(text_of(s), lambda u: _strftime(u, fmt, tz), UTC_TS)


def typed(s: pl.Series, arrow: pa.DataType, dialect: Dialect, tz: str | None) -> pl.Series:
    """``s`` (after :func:`as_text`) as the contract type; null where it cannot be."""
    if arrow == STRING:
        return text_of(s)
    if arrow == FLOAT64:
        return to_float(s, dialect.decimal)
    if arrow == INT64:
        return to_int(s, dialect.decimal)
    if arrow == BOOL:
        return to_bool(s, dialect.true_tokens, dialect.false_tokens)
    if arrow == DATE:
        return to_date(s, dialect.date_format)
    if arrow == TIMESTAMP:
        if tz is None:
            raise ValueError("timestamps need a time zone: the plant's is unknown")
        return to_timestamp(s, dialect.timestamp_format, tz)
    raise TypeError(f"no parser for {arrow}")


def typed_text(s: pl.Series, arrow: pa.DataType, dialect: Dialect, tz: str | None) -> tuple[pl.Series, pl.Series]:
    """(``s`` as the contract type, ``s`` as text for reasons), as :func:`typed` after :func:`as_text` gives them.

    Most values of a clean file type as delivered, so only the values that do not (blank,
    padded, a null token, or bad) are stripped and checked for null tokens: stripping a
    whole column costs more than typing it. Text columns, and columns where a null token
    would itself type (``-999`` as a number), take the whole way.
    """
    if s.dtype != pl.String or arrow == STRING or _tokens_type(arrow, dialect, tz):
        text = as_text(s, dialect.null_tokens)
        return typed(text, arrow, dialect, tz), text_of(text)
    out = typed(s, arrow, dialect, tz)
    redo = (out.is_null() & s.is_not_null()).arg_true()
    if redo.len() == 0:
        return out, s
    text = as_text(s.gather(redo), dialect.null_tokens)
    return out.scatter(redo, typed(text, arrow, dialect, tz)), s.clone().scatter(redo, text)


def _tokens_type(arrow: pa.DataType, dialect: Dialect, tz: str | None) -> bool:
    return _dialect_tokens_type(arrow, dialect.model_dump_json(), tz)


@functools.lru_cache(maxsize=256)
def _dialect_tokens_type(arrow: pa.DataType, dialect_json: str, tz: str | None) -> bool:
    """Whether a null token of the dialect is also a value of the type (asked once per file kind, not per file)."""
    dialect = Dialect.model_validate_json(dialect_json)
    tokens = pl.Series("tokens", dialect.null_tokens, dtype=pl.String)
    return tokens.len() > 0 and typed(tokens, arrow, dialect, tz).is_not_null().any()


def _format(template: str, value: str | None) -> str | None:
    if value is None:
        return None
    for candidate in (value, _number(value)):
        if candidate is None:
            continue
        try:
            return template.format(value=candidate)
        except (ValueError, TypeError, IndexError, KeyError):
            continue
    return None


def _number(value: str) -> int | float | None:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return None


def apply_template(s: pl.Series, template: str) -> pl.Series:
    """Ids from source values, e.g. ``US-AZ1-M{value:0>3}``: 7 -> US-AZ1-M007 (null if the value does not fit)."""
    return by_distinct(text_of(s), lambda u: pl.Series(u.name, [_format(template, v) for v in u.to_list()],
                                                        dtype=pl.String), pl.String)


def _years_before(on: dt.date, years: float | None) -> dt.date | None:
    if years is None or years != years or abs(years) > 1000:
        return None
    if float(years).is_integer():
        year = on.year - int(years)
        try:
            return on.replace(year=year)
        except ValueError:  # 29 February in a year that has none
            return on.replace(year=year, day=28)
    return on - dt.timedelta(days=round(years * 365.2425))


def years_before(s: pl.Series, on: dt.date, decimal: str = ".") -> pl.Series:
    """The date ``value`` years before ``on`` (an install date from an age)."""
    return by_distinct(to_float(s, decimal), lambda u: pl.Series(
        u.name, [_years_before(on, v) for v in u.to_list()], dtype=pl.Date), pl.Date)
