"""The contract rules as Polars expressions: which rules a row breaks, and why.

Every rule a row breaks is recorded (one quarantine row per row and rule, the reasons of
several columns breaking one rule joined), so an export's problems show all at once, not one
fix at a time. Rules, in the order they are listed, columns in contract order within each:

``type`` (a value that is not a number, integer, boolean, date or timestamp of the
dialect), ``unit`` (money in another currency without a rate for its day), ``nan`` (NaN or
+/-Inf), ``required`` (null in a required column), ``range``
(outside the contract's min/max, after unit conversion), ``allowed`` (not in the allowed
values; a plant's ``timezone`` must be an IANA zone), ``rule:<name>`` (a cross-column
rule is false; nulls pass), ``in_date`` (the event time is not on the drop's date in
the drop's time zone), ``reference`` (an id that neither the lake nor the drop knows). A
value that breaks ``type`` is not also reported empty by ``required``.
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
from sources.parse import instant

RAW = "__raw__"
UNRATED = "__unrated__"  # flag column of a money value without a rate (sources.columns.unrated)
ROW = "__row"
FILE = "__file"
FAIL = "__fail"

RULE_ORDER = ("type", "unit", "nan", "required", "range", "allowed", "rule", "in_date", "reference", "duplicate")


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
    unrated: dict[str, str] | None = None,
    unknown_ok: frozenset[str] = frozenset(),
) -> list[Check]:
    """Every row-level check of ``contract`` in rule order (``present``: columns with a source).

    ``unrated``: money columns in another currency (flag columns mark values without a rate);
    ``unknown_ok``: columns that may be null in these rows (derived or declared master rows)."""
    refs = refs or {}
    unrated = unrated or {}
    fields = [f for f in contract.fields if f.name in present]
    checks: list[Check] = []
    for f in fields:
        if f.name in copies:
            continue
        c, r = pl.col(f.name), pl.col(raw(f.name))
        fails = r.is_not_null() & c.is_null()
        if f.name in unrated:  # not converted for want of a rate (or of a day): not a type error
            fails = fails & ~pl.col(UNRATED + f.name).fill_null(True)
        checks.append(Check("type", fails, _fmt(f"type: {labels[f.name]} = '\x00' is not a valid {kinds[f.name]}", r)))
    for name, currency in unrated.items():
        if name in present:
            checks.append(Check("unit", pl.col(UNRATED + name).fill_null(False),
                                _fmt(f"unit: {labels[name]} = '\x00' {currency} has no {currency} rate on or "
                                     "before its day in the rates table (PLANTLAKE_FX_RATES)", pl.col(raw(name)))))
    for f in fields:
        if f.type == FLOAT64 and f.name not in copies:
            c = pl.col(f.name)
            checks.append(Check("nan", c.is_nan() | c.is_infinite(),
                                _fmt(f"nan: {labels[f.name]} = '\x00' is NaN or infinite", pl.col(raw(f.name)))))
    for f in contract.fields:
        if f.required and f.name not in unknown_ok:
            # a value that was delivered but did not type broke ``type``; it is not also "empty"
            missing = (pl.col(f.name).is_null() & pl.col(raw(f.name)).is_null()) if f.name in present else pl.lit(True)
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
            outside = (low | high) & c.is_finite() if f.type == FLOAT64 else low | high  # NaN/inf broke ``nan``
            checks.append(Check("range", outside.fill_null(False), reason))
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
        broken = ~expr.fill_null(True)
        for n in names:  # a NaN or infinite value broke ``nan``: it is not compared (like a null)
            if fields_by_name[n].type == FLOAT64:
                broken = broken & pl.col(n).is_finite().fill_null(True)
        checks.append(Check(f"rule:{rule.name}", broken,
                            _fmt(f"rule:{rule.name}: {rule.description} is false ({shown})",
                                 *[_value(fields_by_name[n]) for n in names])))
    if day is not None and contract.event_time and contract.event_time in present:
        et = pl.col(contract.event_time)
        start, end = day_bounds(day, day_zone)
        local_day = et.dt.convert_time_zone(day_zone).dt.date()
        checks.append(Check("in_date", ((et < instant(start)) | (et >= instant(end))).fill_null(False),
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


def split(frame: pl.DataFrame, checks: list[Check]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(good rows, bad rows as ``__row``, ``rule``, ``reason``): every check a row fails, one row per row and
    rule (the reasons of several columns breaking one rule joined by '; ')."""
    if not checks:
        return frame, concat_bad([])
    fails = frame.select([c.fails.fill_null(False).alias(f"{FAIL}{i}") for i, c in enumerate(checks)])
    any_fail = fails.select(pl.any_horizontal(pl.all())).to_series()
    if not any_fail.any():  # the usual night: keep the frame as it is, no copy
        return frame, concat_bad([])
    bad = frame.filter(any_fail)
    bad_fails = fails.filter(any_fail)
    parts = [
        bad.filter(bad_fails[f"{FAIL}{i}"]).select(ROW, rule=pl.lit(check.rule), reason=check.reason,
                                                   order=pl.lit(i))
        for i, check in enumerate(checks) if bad_fails[f"{FAIL}{i}"].any()
    ]
    joined = (pl.concat(parts).sort(ROW, "order")
              .group_by(ROW, "rule", maintain_order=True).agg(pl.col("reason").str.join("; ")))
    return frame.filter(~any_fail), concat_bad([joined])


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
