"""From a file's source columns to its feed's contract columns, as a mapping says.

Headers are renamed (``columns``), ids built from templates, units converted, ages turned
into dates (``age_at``), constants added, contract columns copied (``same_as``), headers
listed in ``ignore`` dropped. What cannot be mapped is reported, not guessed: headers
neither mapped nor ignored (``unknown``) and required contract columns without a source
(``missing``) make the reader quarantine every row of the file.

The result keeps, next to each typed contract column, its value as delivered (text) so
that quarantine reasons show what the plant sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from lakehouse.catalog import DATE, INT64
from lakehouse.settings import Settings
from sources import parse, rates, registry, series
from sources.contracts import Contract
from sources.mapping import ColumnMap, Dialect, Mapping, conversion, is_currency
from sources.validate import ROW, UNRATED, raw

#: Constants and a mapping's ``master:`` rows are YAML values: ISO dates and timestamps, UTC unless offset.
YAML_DIALECT = Dialect()


def unrated(column: str) -> str:
    """Name of the flag column: a money value of ``column`` that had no rate of its currency for its day."""
    return UNRATED + column


@dataclass(frozen=True)
class Sources:
    """Where each contract column of one feed comes from."""

    maps: dict[str, ColumnMap]  # source header -> contract column
    constants: dict[str, Any] = field(default_factory=dict)
    same_as: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    ignore_unmapped: bool = False  # headers neither mapped nor ignored are left out rather than unknown
    sensors: dict[str, registry.SensorMap] = field(default_factory=dict)  # source header -> sensor (named)
    unknown: tuple[str, ...] = ()  # contract columns the source does not say: null, which they may be

    @classmethod
    def of(cls, mapping: Mapping, feed: str) -> Sources:
        fmap = mapping.feeds[feed]
        return cls(mapping.column_maps(feed), dict(fmap.constants), dict(fmap.same_as), tuple(fmap.ignore),
                   fmap.ignore_unmapped, mapping.sensor_maps(feed), tuple(fmap.unknown))

    @classmethod
    def identity(cls, contract: Contract) -> Sources:
        """Contract column names as headers (a mapping's ``master:`` rows)."""
        return cls({n: ColumnMap(to=n) for n in contract.names})

    def header_for(self, column: str) -> str | None:
        """The source header feeding ``column``, also through ``same_as`` (a copy's header is its origin's)."""
        found = next((h for h, m in self.maps.items() if m.to == column), None)
        if found is None and column in self.same_as:
            return self.header_for(self.same_as[column])
        return found


@dataclass
class Mapped:
    """A file's rows as contract columns, or why it cannot be mapped."""

    frame: pl.DataFrame | None  # typed contract columns, raw(column) texts, and __row
    unknown: list[str]
    missing: list[str]
    present: set[str] = field(default_factory=set)  # contract columns with a source
    labels: dict[str, str] = field(default_factory=dict)  # how reasons name each column
    kinds: dict[str, str] = field(default_factory=dict)  # what each column's values must look like
    copies: set[str] = field(default_factory=set)  # columns copied from another (same_as)
    sensor_fields: list = field(default_factory=list)  # the file's sensors as fields (sources.registry)
    nulled: pl.DataFrame | None = None  # __row, column, value, reason: values made null on purpose (unparsable)
    unrated: dict[str, str] = field(default_factory=dict)  # column -> currency: UNRATED(column) marks no rate
    unsaid: frozenset[str] = frozenset()  # columns the source does not say: null passes ``required``


def yaml_text(value: Any) -> str | None:
    """A YAML value (constant or ``master:`` cell) as the text the contract types parse."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def column_dialect(dialect: Dialect, cmap: ColumnMap) -> Dialect:
    """The file's dialect with the column's own null tokens added."""
    if not cmap.null_tokens:
        return dialect
    return dialect.model_copy(update={"null_tokens": [*dialect.null_tokens, *cmap.null_tokens]})


def recoded(values: pl.Series, table: dict[str, Any]) -> pl.Series:
    """Source values replaced by the mapping's recoding table (values it does not list pass as they are)."""
    text = parse.text_of(values)
    return text.replace({str(k): yaml_text(v) for k, v in table.items()}).cast(pl.String)


def typed_in_formats(values: pl.Series, target, dialect: Dialect, tz: str | None, formats: list[str]) -> pl.Series:
    """A date or timestamp column written in any of ``formats`` (the first that reads a value wins)."""
    tries = [parse.typed(values, target.type, dialect.model_copy(update={"date_format": f, "timestamp_format": f}),
                         tz) for f in formats]
    return pl.select(pl.coalesce(tries)).to_series().alias(values.name)


def convert(
    source: pl.Series, cmap: ColumnMap, target, dialect: Dialect, tz: str | None
) -> tuple[pl.Series, pl.Series]:
    """(typed contract column, its values as text for quarantine reasons) from a source column."""
    dialect = column_dialect(dialect, cmap)
    if cmap.template or cmap.age_at or cmap.recode is not None or cmap.formats:
        values = parse.as_text(source, dialect.null_tokens)
        text = parse.text_of(values)
        if cmap.recode is not None:
            values = recoded(values, cmap.recode)
        if cmap.template:
            values = parse.apply_template(values, cmap.template)
        if cmap.age_at:
            return parse.years_before(values, cmap.age_at, dialect.decimal), text
        if cmap.formats:
            out = typed_in_formats(values, target, dialect, tz, cmap.formats)
        else:
            out = parse.typed(values, target.type, dialect, tz)
    else:
        out, text = parse.typed_text(source, target.type, dialect, tz)
    factors = conversion(cmap.unit, target.unit)
    if factors:
        scale, offset = factors
        out = out.cast(pl.Float64) * scale + offset
        if target.type == INT64:
            out = out.round().cast(pl.Int64, strict=False)
    return out, text


def typed_column(frame: pl.DataFrame, header: str, cmap: ColumnMap, target, sources: Sources, dialect: Dialect,
                 tz: str | None) -> tuple[pl.Series, pl.Series]:
    """(typed contract column, its values as text) of one source column: a counter's times (sources.series,
    which read the unit's number or start from the row's other columns), else :func:`convert`."""
    if cmap.counter is not None:
        unit = sources.header_for(cmap.counter.unit)
        return series.timestamps(frame, header, cmap.counter, unit, dialect, tz)
    return convert(frame[header], cmap, target, dialect, tz)


def _kind(cmap: ColumnMap | None, target, dialect: Dialect, tz: str | None) -> str:
    if cmap is not None and cmap.counter is not None:
        return cmap.counter.describe()
    if cmap is not None and cmap.age_at:
        return f"age in years (number) on {cmap.age_at.isoformat()}"
    if cmap is not None and cmap.formats:
        shown = " or ".join(cmap.formats)
        return f"date ({shown})" if target.type == DATE else f"timestamp ({shown}, local zone {tz})"
    kind = parse.describe(target.type, dialect, tz)
    if cmap is not None and cmap.template:
        return f"{kind} for template {cmap.template!r}"
    return kind


def map_columns(
    frame: pl.DataFrame,
    rows: np.ndarray,
    contract: Contract,
    sources: Sources,
    dialect: Dialect,
    tz: str | None,
    *,
    on: dt.date | None = None,
    settings: Settings | None = None,
) -> Mapped:
    """Map and type ``frame`` (source columns, one row per entry of ``rows``) into ``contract``'s columns.

    ``on`` dates money of a feed without an event time (for currency rates); ``settings`` name the rates."""
    headers = frame.columns
    unknown = [h for h in headers if h not in sources.maps and h not in sources.ignore and h not in sources.sensors
               and not sources.ignore_unmapped]
    chosen: dict[str, str] = {}
    for header in headers:  # file order: the first header feeding a column wins
        cmap = sources.maps.get(header)
        if cmap is not None and cmap.to not in chosen:
            chosen[cmap.to] = header
    fed = set(chosen) | set(sources.constants) | set(sources.unknown)
    fed |= {t for t, o in sources.same_as.items() if o in fed}
    missing = [name for name in contract.required if name not in fed]
    if unknown or missing:
        return Mapped(None, unknown, missing)

    n = len(rows)
    typed: dict[str, pl.Series] = {}
    texts: dict[str, pl.Series] = {}
    result = Mapped(None, [], [], present=set(fed), unsaid=frozenset(sources.unknown))
    maps, labels = dict(sources.maps), {}
    for header in headers:  # the file's sensors: checked like contract columns, their values in ``readings``
        sensor = sources.sensors.get(header)
        if sensor is not None:
            result.sensor_fields.append(sensor.field())
            chosen[sensor.field().name] = header
            maps[header] = ColumnMap(to=sensor.field().name, unit=sensor.source_unit)
            labels[sensor.field().name] = sensor.sensor
    result.present |= {f.name for f in result.sensor_fields}
    fields = [*contract.fields, *result.sensor_fields]
    for f in fields:
        if f.name in chosen:
            header = chosen[f.name]
            cmap = maps[header]
            label = labels.get(f.name, f.name)
            typed[f.name], texts[f.name] = typed_column(frame, header, cmap, f, sources, dialect, tz)
            result.labels[f.name] = label if header == label else f"{label} (from {header!r})"
            result.kinds[f.name] = _kind(cmap, f, dialect, tz)
            if cmap.unparsable == "null":
                texts[f.name] = _nulled(result, f.name, typed[f.name], texts[f.name], rows)
        elif f.name in sources.constants:
            text = yaml_text(sources.constants[f.name])
            values = pl.Series(f.name, [text] * n, dtype=pl.String)
            typed[f.name] = parse.typed(values, f.type, YAML_DIALECT, "UTC")
            texts[f.name] = values
            result.labels[f.name] = f"{f.name} (constant of the mapping)"
            result.kinds[f.name] = _kind(None, f, YAML_DIALECT, "UTC")
        else:
            typed[f.name] = pl.Series(f.name, [None] * n, dtype=parse.polars_type(f.type))
            texts[f.name] = pl.Series(f.name, [None] * n, dtype=pl.String)
            result.labels[f.name] = f"{f.name} (unknown: the source does not say)" if f.name in sources.unknown \
                else f.name
            result.kinds[f.name] = _kind(None, f, dialect, tz)
    flags = _in_euros(result, contract, chosen, sources, typed, on, settings)
    for target, origin in sources.same_as.items():
        if origin in fed:
            typed[target], texts[target] = typed[origin], texts[origin]
            result.labels[target] = f"{target} (same as {origin})"
            result.copies.add(target)
    columns = [typed[f.name].alias(f.name) for f in fields]
    columns += [texts[f.name].alias(raw(f.name)) for f in fields]
    columns += flags
    columns.append(pl.Series(ROW, np.asarray(rows, dtype=np.int64), dtype=pl.Int64))
    result.frame = pl.DataFrame(columns)
    return result


def _nulled(result: Mapped, column: str, out: pl.Series, text: pl.Series, rows: np.ndarray) -> pl.Series:
    """``unparsable: null``: values that do not type are null on purpose, each kept with its reason; the
    texts returned hide them from the ``type`` rule."""
    bad = (text.is_not_null() & out.is_null()).fill_null(False)
    if not bad.any():
        return text
    picked = pl.DataFrame({ROW: np.asarray(rows, dtype=np.int64), "value": text}).filter(bad)
    reason = f"{result.labels[column]} is not a {result.kinds[column]}: null (the mapping says unparsable: null)"
    found = picked.select(ROW, pl.lit(column).alias("column"), "value", pl.lit(reason).alias("reason"))
    result.nulled = found if result.nulled is None else pl.concat([result.nulled, found])
    return text.set(bad, None)


def _in_euros(result: Mapped, contract: Contract, chosen: dict[str, str], sources: Sources,
              typed: dict[str, pl.Series], on: dt.date | None, settings: Settings | None) -> list[pl.Series]:
    """Money in another currency (``unit: USD``) converted by the rate of its row's day; the flag columns
    mark values without a rate (rule ``unit``)."""
    flags = []
    for f in contract.fields:
        cmap = sources.maps.get(chosen.get(f.name, ""))
        if cmap is None or not is_currency(cmap.unit) or cmap.unit == f.unit:
            continue
        n = typed[f.name].len()
        event = contract.event_time
        if event and event not in chosen and event not in sources.constants:
            event = sources.same_as.get(event, event)  # the event time copied from another column
        if event and event in typed:
            days = typed[event].dt.date()
        else:
            days = pl.Series("day", [on] * n, dtype=pl.Date)
        converted, rate_day = rates.to_eur(typed[f.name], cmap.unit, days, rates.rates(settings))
        # True: no rate for a known day (rule ``unit``); null: the day itself is unknown (another rule says so)
        missing = pl.select(pl.when(days.is_null()).then(None).otherwise(rate_day.is_null())).to_series()
        missing = missing & typed[f.name].is_not_null()
        typed[f.name] = converted
        result.unrated[f.name] = cmap.unit
        result.kinds[f.name] = f"number ({cmap.unit}, converted to {f.unit})"
        flags.append(missing.alias(unrated(f.name)))
    return flags
