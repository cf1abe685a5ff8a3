"""The contract rules as Polars expressions: which rule a row breaks first, and why.

Rules run in this order, columns in contract order within each rule, and the first
failure decides the row's quarantine ``rule`` (one quarantine row per bad row):

``type`` (a value that is not a number, integer, boolean, date or timestamp of the
dialect), ``nan`` (NaN or +/-Inf), ``required`` (null in a required column), ``range``
(outside the contract's min/max, after unit conversion), ``allowed`` (not in the allowed
values; a plant's ``timezone`` must be an IANA zone), ``rule:<name>`` (a cross-column
rule is false; nulls pass), ``in_date`` (the event time is not on the drop's date in
the drop's time zone), ``reference`` (an id that neither the lake nor the drop knows).
``duplicate`` (a later row with an earlier good row's natural key) is decided per feed
over all of a drop's files, after these.

File-level rules (``unknown_column``, ``missing_column``) and ``malformed`` rows are
decided before typing, in the reader.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from dataclasses import dataclass

import polars as pl

from lakehouse.catalog import FLOAT64, INT64, TIMESTAMP
from sources.contracts import Contract, Field

RAW = "__raw__"
ROW = "__row"
FILE = "__file"
FAIL = "__fail"

RULE_ORDER = ("type", "nan", "required", "range", "allowed", "rule", "in_date", "reference", "duplicate")


def raw(column: str) -> str:
    """Name of the column holding ``column``'s value as delivered (text)."""
    return RAW + column


@functools.cache
def iana_zones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def allowed_values(contract: Contract, f: Field) -> tuple[str, ...] | None:
    """The contract's allowed values; a plant's ``timezone`` must be an IANA zone (dates depend on it)."""
    if f.allowed is not None:
        return f.allowed
    if contract.feed == "plants" and f.name == "timezone":
        return iana_zones()
    return None


@dataclass(frozen=True)
class Check:
    """One rule on one column (or row): ``fails`` is true on a breaking row, ``reason`` says why."""

    rule: str
    fails: pl.Expr
    reason: pl.Expr


def _text(expr: pl.Expr) -> pl.Expr:
    if isinstance(expr, pl.Expr):
        return expr.cast(pl.String).fill_null("null")
    return expr


def _fmt(template: str, *args: pl.Expr) -> pl.Expr:
    """``pl.format`` that shows nulls as 'null' and keeps literal braces of names out of the way."""
    safe = template.replace("{", "(").replace("}", ")").replace("\x00", "{}")
    return pl.format(safe, *[_text(a) for a in args])


def _ts_text(column: str) -> pl.Expr:
    return pl.col(column).dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ")


def _value(f: Field) -> pl.Expr:
    return _ts_text(f.name) if f.type == TIMESTAMP else pl.col(f.name)


def row_checks(
    contract: Contract,
    *,
    present: set[str],
    labels: dict[str, str],
    kinds: dict[str, str],
    copies: set[str] = frozenset(),
    day: dt.date | None = None,
    day_zone: str = "UTC",
    refs: dict[str, tuple[str, set[str]]] | None = None,
) -> list[Check]:
    """Every row-level check of ``contract`` in rule order (``present``: columns with a source)."""
    refs = refs or {}
    fields = [f for f in contract.fields if f.name in present]
    checks: list[Check] = []
    for f in fields:
        if f.name in copies:
            continue
        c, r = pl.col(f.name), pl.col(raw(f.name))
        checks.append(Check("type", r.is_not_null() & c.is_null(),
                            _fmt(f"type: {labels[f.name]} = '\x00' is not a valid {kinds[f.name]}", r)))
    for f in fields:
        if f.type == FLOAT64 and f.name not in copies:
            c = pl.col(f.name)
            checks.append(Check("nan", c.is_nan() | c.is_infinite(),
                                _fmt(f"nan: {labels[f.name]} = '\x00' is NaN or infinite", pl.col(raw(f.name)))))
    for f in contract.fields:
        if f.required:
            missing = pl.col(f.name).is_null() if f.name in present else pl.lit(True)
            checks.append(Check("required", missing, pl.lit(f"required: {labels.get(f.name, f.name)} is empty "
                                                            "(null) but the contract requires a value")))
    for f in fields:
        if f.type in (FLOAT64, INT64) and (f.min is not None or f.max is not None):
            c = pl.col(f.name)
            low = c < f.min if f.min is not None else pl.lit(False)
            high = c > f.max if f.max is not None else pl.lit(False)
            unit = f" {f.unit}" if f.unit else ""
            reason = pl.when(low).then(_fmt(f"range: {labels[f.name]} = \x00{unit} is below the minimum {f.min}{unit}",
                                            c)).otherwise(
                _fmt(f"range: {labels[f.name]} = \x00{unit} is above the maximum {f.max}{unit}", c))
            checks.append(Check("range", (low | high).fill_null(False), reason))
    for f in fields:
        allowed = allowed_values(contract, f)
        if allowed is not None:
            c = pl.col(f.name)
            shown = f"one of {', '.join(allowed)}" if len(allowed) <= 20 else "an IANA time zone"
            checks.append(Check("allowed", c.is_not_null() & ~c.is_in(list(allowed)).fill_null(True),
                                _fmt(f"allowed: {labels[f.name]} = '\x00' is not {shown}", c)))
    for rule in contract.rules:
        expr = rule.check()
        names = [n for n in expr.meta.root_names() if n in present]
        if len(names) < len(expr.meta.root_names()):
            continue  # a column of the rule has no source: nothing to compare (nulls pass)
        shown = ", ".join(f"{n} = \x00" for n in names)
        fields_by_name = {f.name: f for f in contract.fields}
        checks.append(Check(f"rule:{rule.name}", ~expr.fill_null(True),
                            _fmt(f"rule:{rule.name}: {rule.description} is false ({shown})",
                                 *[_value(fields_by_name[n]) for n in names])))
    if day is not None and contract.event_time and contract.event_time in present:
        et = pl.col(contract.event_time)
        start, end = day_bounds(day, day_zone)
        local_day = et.dt.convert_time_zone(day_zone).dt.date()
        checks.append(Check("in_date", ((et < start) | (et >= end)).fill_null(False),
                            _fmt(f"in_date: {labels[contract.event_time]} = \x00 is on \x00 in {day_zone}, "
                                 f"not on the drop's date {day.isoformat()}", _ts_text(contract.event_time),
                                 local_day)))
    for column, (master, known) in refs.items():
        if column in present:
            c = pl.col(column)
            checks.append(Check("reference", c.is_not_null() & ~c.is_in(sorted(known)).fill_null(True),
                                _fmt(f"reference: {labels[column]} = '\x00' names no {master} row known to the "
                                     "lake or to this drop", c)))
    return checks


def day_bounds(day: dt.date, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where ``day`` starts and the next day starts in ``zone`` (DST-aware)."""
    tz = zoneinfo.ZoneInfo(zone)

    def start(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(), tzinfo=tz).astimezone(dt.UTC)

    return start(day), start(day + dt.timedelta(days=1))


def first_failure(checks: list[Check]) -> pl.Expr:
    """Index of the first check a row fails (null for a good row)."""
    if not checks:
        return pl.lit(None, dtype=pl.Int32)
    expr = pl.when(checks[0].fails).then(pl.lit(0, dtype=pl.Int32))
    for i, check in enumerate(checks[1:], start=1):
        expr = expr.when(check.fails).then(pl.lit(i, dtype=pl.Int32))
    return expr.otherwise(pl.lit(None, dtype=pl.Int32))


def split(frame: pl.DataFrame, checks: list[Check]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(good rows, bad rows as ``__row``, ``rule``, ``reason``) by each row's first failing check."""
    fail = frame.select(first_failure(checks)).to_series()
    if fail.null_count() == fail.len():  # the usual night: keep the frame as it is, no copy
        return frame, concat_bad([])
    marked = frame.with_columns(fail.alias(FAIL))
    bad = marked.filter(pl.col(FAIL).is_not_null())
    good = marked.filter(pl.col(FAIL).is_null()).drop(FAIL)
    parts = [
        bad.filter(pl.col(FAIL) == i).select(ROW, rule=pl.lit(checks[i].rule), reason=checks[i].reason)
        for i in (bad[FAIL].unique().sort().to_list() if bad.height else [])
    ]
    return good, concat_bad(parts)


def concat_bad(parts: list[pl.DataFrame]) -> pl.DataFrame:
    empty = pl.DataFrame(schema={ROW: pl.Int64, "rule": pl.String, "reason": pl.String})
    parts = [p.select(pl.col(ROW).cast(pl.Int64), pl.col("rule").cast(pl.String), pl.col("reason").cast(pl.String))
             for p in parts if p.height]
    return pl.concat(parts) if parts else empty


def duplicates(frame: pl.DataFrame, key: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(first rows, later rows with an earlier row's natural key as ``__file``, ``__row``, ``rule``, ``reason``).

    ``frame`` holds the good rows of one feed in delivery order with ``__file`` and ``__row``.
    """
    hashed = frame.select(pl.struct(key).hash()).to_series()
    if hashed.is_unique().all():  # equal keys hash equally: no repeated hash, no duplicate
        return frame, pl.DataFrame(schema={FILE: pl.String, ROW: pl.Int64, "rule": pl.String, "reason": pl.String})
    first = frame.select(pl.struct(key).is_first_distinct()).to_series()
    shown = ", ".join(f"{k} = \x00" for k in key)
    values = [_ts_text(k) if frame.schema[k] == pl.Datetime("us", "UTC") else pl.col(k) for k in key]
    marked = frame.with_columns(
        __first_row=(pl.col(ROW) + 1).first().over(key), __first_file=pl.col(FILE).first().over(key))
    later = marked.filter(~first).select(
        FILE, ROW, rule=pl.lit("duplicate"),
        reason=_fmt(f"duplicate: same natural key ({shown}) as row \x00 of \x00, which landed", *values,
                    pl.col("__first_row"), pl.col("__first_file")))
    return frame.filter(first), later
