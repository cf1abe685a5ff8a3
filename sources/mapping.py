"""Source mappings: how a foreign export becomes plantlake feeds. Onboarding a plant is a YAML file.

A mapping says, per feed, which file holds it and how that file is written (format,
delimiter, encoding, decimal comma, null tokens, timestamp format and time zone), which
source column becomes which contract column (with unit conversion, an id template or a
date from an age), which columns are constants and which copy another contract column
(``same_as``: an alarm's end is its start). Master rows an export lacks (the plant itself, its
lines) can be declared in the mapping. A drop's manifest names its mapping in
``format``; ``plantlake`` (the simulator's own format) is the default.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import os
import zoneinfo
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lakehouse.catalog import DATE
from lakehouse.settings import get_settings
from sources.contracts import CONTRACTS, PLANT, contract

BUILTIN_DIR = Path(__file__).parent / "mappings"
DEFAULT_MAPPING = "plantlake"

#: Linear conversions (scale, offset) from a source unit to the contract's unit.
UNIT_CONVERSIONS: dict[tuple[str, str], tuple[float, float]] = {
    ("degF", "degC"): (5 / 9, -32 * 5 / 9),
    ("K", "degC"): (1.0, -273.15),
    ("psi", "bar"): (0.0689475729, 0.0),
    ("kPa", "bar"): (0.01, 0.0),
    ("in/s", "mm/s"): (25.4, 0.0),
    ("kV", "V"): (1000.0, 0.0),
    ("mA", "A"): (0.001, 0.0),
    ("ms", "s"): (0.001, 0.0),
    ("min", "s"): (60.0, 0.0),
    ("h", "min"): (60.0, 0.0),
    ("s", "min"): (1 / 60, 0.0),
    ("rps", "rpm"): (60.0, 0.0),
}


def conversion(source_unit: str | None, target_unit: str | None) -> tuple[float, float] | None:
    """(scale, offset) turning ``source_unit`` values into ``target_unit``; None when equal."""
    if source_unit is None or source_unit == target_unit:
        return None
    try:
        return UNIT_CONVERSIONS[(source_unit, target_unit)]
    except KeyError:
        known = ", ".join(f"{a}->{b}" for a, b in UNIT_CONVERSIONS)
        raise ValueError(f"no conversion from {source_unit} to {target_unit} (known: {known})") from None


class Dialect(BaseModel):
    """How a file is written. Every field can be overridden per feed."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "parquet", "jsonl"] | None = None  # None: from the file extension
    delimiter: str = ","
    encoding: str = "utf-8"
    decimal: str = "."
    null_tokens: list[str] = Field(default_factory=lambda: ["", "NA", "null", "NULL"])
    true_tokens: list[str] = Field(default_factory=lambda: ["true", "True", "TRUE", "1", "yes"])
    false_tokens: list[str] = Field(default_factory=lambda: ["false", "False", "FALSE", "0", "no"])
    timestamp_format: str = "iso"  # "iso" (ISO 8601, offset optional) or a strftime format
    date_format: str = "%Y-%m-%d"
    timezone: str = "UTC"  # zone of timestamps without offset; "plant" = the plant's own zone

    @model_validator(mode="after")
    def _check(self) -> Dialect:
        if len(self.delimiter) != 1:
            raise ValueError(f"delimiter must be one character, got {self.delimiter!r}")
        if self.decimal not in {".", ","}:
            raise ValueError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if self.decimal == self.delimiter:
            raise ValueError("decimal and delimiter cannot both be ','")
        "".encode(self.encoding)  # unknown encodings fail here, at load time
        if self.timezone != "plant":
            try:
                zoneinfo.ZoneInfo(self.timezone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"timezone must be an IANA zone or 'plant', got {self.timezone!r}") from None
        return self


class ColumnMap(BaseModel):
    """How one source column becomes a contract column.

    ``age_at`` reads the source value as an age in years on that date and yields the date
    that many years before it (e.g. a machine's install date from its age): whole years go
    back by calendar years (29 February becomes 28 February), fractions by 365.2425 days.
    """

    model_config = ConfigDict(extra="forbid")

    to: str
    unit: str | None = None  # unit of the source values, converted to the contract's unit
    template: str | None = None  # e.g. "AZ01-M{value:0>3}": builds ids from source values
    age_at: dt.date | None = None  # source value = age in years on this date -> the date it started

    @model_validator(mode="after")
    def _check(self) -> ColumnMap:
        if self.template is not None and "{value" not in self.template:
            raise ValueError(f"template {self.template!r} must contain {{value}} (optionally with a format spec)")
        if self.age_at is not None and (self.unit or self.template):
            raise ValueError("age_at cannot be combined with unit or template")
        return self


class FeedMap(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file: str  # glob of the file name inside a drop (or an export folder); ".gz" is always accepted
    columns: dict[str, str | ColumnMap] = Field(default_factory=dict)
    constants: dict[str, Any] = Field(default_factory=dict)
    same_as: dict[str, str] = Field(default_factory=dict)  # contract column -> contract column it copies
    ignore: list[str] = Field(default_factory=list)
    dialect: dict[str, Any] = Field(default_factory=dict)  # overrides of the mapping's dialect

    @model_validator(mode="after")
    def _inside_the_drop(self) -> FeedMap:
        if "/" in self.file or "\\" in self.file or ".." in self.file:
            raise ValueError(f"file {self.file!r} must be a file name inside the drop, not a path")
        return self


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    scope: Literal["plant", "supplier"]
    dialect: Dialect = Field(default_factory=Dialect)
    feeds: dict[str, FeedMap]
    master: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _check_against_contracts(self) -> Mapping:
        for feed, fmap in self.feeds.items():
            spec = contract(feed)
            if spec.scope != self.scope:
                raise ValueError(f"feed {feed} belongs to {spec.scope} drops, not {self.scope} drops")
            Dialect(**{**self.dialect.model_dump(), **fmap.dialect})
            mapped = {c.to if isinstance(c, ColumnMap) else c for c in fmap.columns.values()}
            for target in mapped | set(fmap.constants) | set(fmap.same_as) | set(fmap.same_as.values()):
                if target not in spec.names:
                    raise ValueError(f"{feed}: {target!r} is not a column of the {feed} contract")
            for target, origin in fmap.same_as.items():
                if target in mapped or target in fmap.constants or origin in fmap.same_as:
                    raise ValueError(f"{feed}: same_as {target}: {origin} conflicts with another source of {target}")
                if spec.field(target).type != spec.field(origin).type:
                    raise ValueError(f"{feed}: same_as {target}: {origin} joins columns of different types")
            for target in fmap.columns.values():
                if isinstance(target, ColumnMap) and target.unit:
                    conversion(target.unit, spec.field(target.to).unit)
                if isinstance(target, ColumnMap) and target.age_at and spec.field(target.to).type != DATE:
                    raise ValueError(f"{feed}: age_at needs a date column, {target.to} is not one")
        for feed, rows in self.master.items():
            spec = contract(feed)
            if not spec.master:
                raise ValueError(f"master rows can only be declared for master feeds, not {feed}")
            if spec.scope != self.scope:
                raise ValueError(f"master feed {feed} belongs to {spec.scope} drops, not {self.scope} drops")
            for row in rows:
                unknown = sorted(set(row) - set(spec.names))
                if unknown:
                    raise ValueError(f"master {feed}: {', '.join(unknown)} not columns of the {feed} contract")
        return self

    def dialect_for(self, feed: str) -> Dialect:
        return Dialect(**{**self.dialect.model_dump(), **self.feeds[feed].dialect})

    def column_maps(self, feed: str) -> dict[str, ColumnMap]:
        """Source header -> how it becomes a contract column. Headers named like a contract
        column map to it unless the mapping says otherwise."""
        fmap = self.feeds[feed]
        maps = {src: c if isinstance(c, ColumnMap) else ColumnMap(to=c) for src, c in fmap.columns.items()}
        taken = {m.to for m in maps.values()} | set(fmap.constants) | set(fmap.same_as)
        for name in contract(feed).names:
            if name not in taken and name not in maps:
                maps[name] = ColumnMap(to=name)
        return maps

    def source_header(self, feed: str, column: str) -> str:
        """The source header that feeds contract ``column`` (for writers of this format)."""
        for src, cmap in self.column_maps(feed).items():
            if cmap.to == column:
                return src
        raise KeyError(f"{self.name}: no source column feeds {feed}.{column}")

    def feed_for_file(self, filename: str) -> str | None:
        """Which feed a file of a drop holds, by the mappings' file globs."""
        base = filename[:-3] if filename.endswith(".gz") else filename
        for feed, fmap in self.feeds.items():
            if fnmatch.fnmatch(base, fmap.file) or fnmatch.fnmatch(filename, fmap.file):
                return feed
        return None

    @property
    def timezone_is_plant(self) -> bool:
        return self.dialect.timezone == "plant"


def load(path: str | Path) -> Mapping:
    """Load and validate a mapping file; errors name the file and the field."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        mapping = Mapping(**data)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read mapping {path}: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"mapping {path} is invalid:\n{exc}") from exc
    except ValueError as exc:
        raise ValueError(f"mapping {path} is invalid: {exc}") from exc
    return mapping.model_copy(update={"source": path})


def search_path() -> list[Path]:
    """Where mappings are looked up by name: ``PLANTLAKE_MAPPINGS_DIR`` (os.pathsep-separated), then built-ins."""
    return [*get_settings().mappings_dirs, BUILTIN_DIR]


@functools.lru_cache(maxsize=64)
def _by_name(name: str, dirs: tuple[Path, ...]) -> Mapping:
    for folder in dirs:
        candidate = folder / f"{name}.yaml"
        if candidate.exists():
            return load(candidate)
    raise KeyError(f"no mapping named {name!r} in {', '.join(map(str, dirs))}")


def get(name_or_path: str | Path) -> Mapping:
    """A mapping by name (``plantlake``, ``german_csv``, ``azure_pdm``, or one of yours) or by path."""
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")) or os.sep in text:
        return load(text)
    return _by_name(text, tuple(search_path()))


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


def default_for(scope: str) -> Mapping:
    """The simulator's own format for a scope (plant drops and the supplier drop share one mapping name)."""
    return get(DEFAULT_MAPPING if scope == PLANT else f"{DEFAULT_MAPPING}_suppliers")


__all__ = ["CONTRACTS", "ColumnMap", "Dialect", "FeedMap", "Mapping", "conversion", "get", "load"]
