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

from lakehouse.catalog import INT64
from sources import parse
from sources.contracts import Contract
from sources.mapping import ColumnMap, Dialect, Mapping, conversion
from sources.validate import ROW, raw

#: Constants and a mapping's ``master:`` rows are YAML values: ISO dates and timestamps, UTC unless offset.
YAML_DIALECT = Dialect()


@dataclass(frozen=True)
class Sources:
    """Where each contract column of one feed comes from."""

    maps: dict[str, ColumnMap]  # source header -> contract column
    constants: dict[str, Any] = field(default_factory=dict)
    same_as: dict[str, str] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()

    @classmethod
    def of(cls, mapping: Mapping, feed: str) -> Sources:
        fmap = mapping.feeds[feed]
        return cls(mapping.column_maps(feed), dict(fmap.constants), dict(fmap.same_as), tuple(fmap.ignore))

    @classmethod
    def identity(cls, contract: Contract) -> Sources:
        """Contract column names as headers (a mapping's ``master:`` rows)."""
        return cls({n: ColumnMap(to=n) for n in contract.names})

    def header_for(self, column: str) -> str | None:
        return next((h for h, m in self.maps.items() if m.to == column), None)


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


def yaml_text(value: Any) -> str | None:
    """A YAML value (constant or ``master:`` cell) as the text the contract types parse."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _convert(
    source: pl.Series, cmap: ColumnMap, target, dialect: Dialect, tz: str | None
) -> tuple[pl.Series, pl.Series]:
    """(typed contract column, its values as text for quarantine reasons) from a source column."""
    if cmap.template or cmap.age_at:
        values = parse.as_text(source, dialect.null_tokens)
        text = parse.text_of(values)
        if cmap.template:
            values = parse.apply_template(values, cmap.template)
        if cmap.age_at:
            return parse.years_before(values, cmap.age_at, dialect.decimal), text
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


def _kind(cmap: ColumnMap | None, target, dialect: Dialect, tz: str | None) -> str:
    if cmap is not None and cmap.age_at:
        return f"age in years (number) on {cmap.age_at.isoformat()}"
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
) -> Mapped:
    """Map and type ``frame`` (source columns, one row per entry of ``rows``) into ``contract``'s columns."""
    headers = frame.columns
    unknown = [h for h in headers if h not in sources.maps and h not in sources.ignore]
    chosen: dict[str, str] = {}
    for header in headers:  # file order: the first header feeding a column wins
        cmap = sources.maps.get(header)
        if cmap is not None and cmap.to not in chosen:
            chosen[cmap.to] = header
    fed = set(chosen) | set(sources.constants)
    fed |= {t for t, o in sources.same_as.items() if o in fed}
    missing = [f.name for f in contract.fields if f.required and f.name not in fed]
    if unknown or missing:
        return Mapped(None, unknown, missing)

    n = len(rows)
    typed: dict[str, pl.Series] = {}
    texts: dict[str, pl.Series] = {}
    result = Mapped(None, [], [], present=set(fed))
    for f in contract.fields:
        if f.name in chosen:
            header = chosen[f.name]
            cmap = sources.maps[header]
            typed[f.name], texts[f.name] = _convert(frame[header], cmap, f, dialect, tz)
            result.labels[f.name] = f.name if header == f.name else f"{f.name} (from {header!r})"
            result.kinds[f.name] = _kind(cmap, f, dialect, tz)
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
            result.labels[f.name] = f.name
            result.kinds[f.name] = _kind(None, f, dialect, tz)
    for target, origin in sources.same_as.items():
        if origin in fed:
            typed[target], texts[target] = typed[origin], texts[origin]
            result.labels[target] = f"{target} (same as {origin})"
            result.copies.add(target)
    columns = [typed[f.name].alias(f.name) for f in contract.fields]
    columns += [texts[f.name].alias(raw(f.name)) for f in contract.fields]
    columns.append(pl.Series(ROW, np.asarray(rows, dtype=np.int64), dtype=pl.Int64))
    result.frame = pl.DataFrame(columns)
    return result
