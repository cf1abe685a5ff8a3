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

from lakehouse.catalog import DATE, TIMESTAMP
from lakehouse.settings import get_settings
from sources import registry, series
from sources.contracts import CONTRACTS, PLANT, Contract, contract

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
    ("degR", "degC"): (5 / 9, -273.15),
    ("degR", "K"): (5 / 9, 0.0),
    ("degF", "K"): (5 / 9, 273.15 - 32 * 5 / 9),
    ("psia", "bar"): (0.0689475729, 0.0),
    ("lbm/s", "kg/s"): (0.45359237, 0.0),
    ("ft", "m"): (0.3048, 0.0),
    ("kn", "m/s"): (1852 / 3600, 0.0),
}


def is_currency(unit: str | None) -> bool:
    """An ISO 4217 code (``USD``, ``EUR``): converted by a dated rate, not by a constant."""
    return bool(unit) and len(unit) == 3 and unit.isalpha() and unit.isupper()


def conversion(source_unit: str | None, target_unit: str | None) -> tuple[float, float] | None:
    """(scale, offset) turning ``source_unit`` values into ``target_unit``; None when equal or when both are
    currencies (those take the rates table: :mod:`sources.rates`)."""
    if source_unit is None or source_unit == target_unit:
        return None
    if is_currency(source_unit) and is_currency(target_unit):
        return None
    try:
        return UNIT_CONVERSIONS[(source_unit, target_unit)]
    except KeyError:
        known = ", ".join(f"{a}->{b}" for a, b in UNIT_CONVERSIONS)
        raise ValueError(f"no conversion from {source_unit} to {target_unit} (known: {known})") from None


#: The delimiter of files whose columns are separated by runs of spaces or tabs (fixed-width-looking text).
WHITESPACE = "whitespace"


class Dialect(BaseModel):
    """How a file is written. Every field can be overridden per feed."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["csv", "parquet", "jsonl"] | None = None  # None: from the file extension
    delimiter: str = ","  # one character, or "whitespace": any run of spaces and tabs (leading/trailing ignored)
    header: bool = True  # false: no header line; columns are named by position, 1 = the first
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
        if len(self.delimiter) != 1 and self.delimiter != WHITESPACE:
            raise ValueError(f"delimiter must be one character or {WHITESPACE!r}, got {self.delimiter!r}")
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
    unit: str | None = None  # unit of the source values, converted to the contract's unit (currencies: by date)
    template: str | None = None  # e.g. "AZ01-M{value:0>3}": builds ids from source values
    age_at: dt.date | None = None  # source value = age in years on this date -> the date it started
    # -- per column (the dialect says it for the whole file) --
    format: str | list[str] | None = None  # date/timestamp format(s) of this column, tried in order
    null_tokens: list[str] = Field(default_factory=list)  # more values meaning null in this column
    recode: dict[str, Any] | None = None  # source value -> contract value (others pass as they are)
    unparsable: Literal["quarantine", "null"] = "quarantine"  # "null": a value that does not type is null,
    #                                                          kept with its reason in bronze.nulled_values
    counter: series.Counter | None = None  # the column counts each unit's records: times from a start and period

    @property
    def formats(self) -> list[str]:
        return [self.format] if isinstance(self.format, str) else list(self.format or [])

    @model_validator(mode="after")
    def _check(self) -> ColumnMap:
        if self.template is not None and "{value" not in self.template:
            raise ValueError(f"template {self.template!r} must contain {{value}} (optionally with a format spec)")
        if self.age_at is not None and (self.unit or self.template):
            raise ValueError("age_at cannot be combined with unit or template")
        if self.format is not None and not self.formats:
            raise ValueError("format must name at least one format")
        return self


class FeedMap(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    file: str | None = None  # glob of the file name inside a drop (or an export folder); ".gz" is always accepted
    columns: dict[series.SourceColumn, str | ColumnMap] = Field(default_factory=dict)  # source column -> column
    constants: dict[str, Any] = Field(default_factory=dict)
    same_as: dict[str, str] = Field(default_factory=dict)  # contract column -> contract column it copies
    #: contract columns the source does not say: null (unknown), for columns the contract allows to be unknown
    unknown: list[str] = Field(default_factory=list)
    ignore: list[series.SourceColumn] = Field(default_factory=list)
    ignore_unmapped: bool = False  # true: headers neither mapped nor ignored are left out, not unknown
    dialect: dict[str, Any] = Field(default_factory=dict)  # overrides of the mapping's dialect
    # -- a sensor feed: source header (or position) -> sensor (its registry entry; None: named as the header) --
    sensors: dict[series.SourceColumn, registry.SensorMap | str | None] = Field(default_factory=dict)
    # -- a feed derived from another's records (run-to-failure: sources.series) --
    from_feed: str | None = Field(default=None, alias="from")  # the feed whose records the rows are
    when: Literal["first", "last"] | series.Occurs | None = None  # which records: each unit's first or last,
    #                                                               or those a status column marks
    take: dict[str, str] = Field(default_factory=dict)  # column <- the source feed's column (default: same
    #                                                    names, and the event time <- the source's event time)

    @model_validator(mode="after")
    def _inside_the_drop(self) -> FeedMap:
        if (self.from_feed is None) != (self.when is None):
            raise ValueError("a derived feed names both the feed it comes from (from:) and when its event "
                             "happened (when:)")
        if self.file is None and self.from_feed is None:
            raise ValueError("file is missing (the glob of the feed's file name)")
        if self.file is not None and ("/" in self.file or "\\" in self.file or ".." in self.file):
            raise ValueError(f"file {self.file!r} must be a file name inside the drop, not a path")
        return self


class Derivation(BaseModel):
    """Master rows derived from the distinct values of a fact feed's rows (``derive:``).

    ``columns`` maps each column of the master feed to the column of the fact feed it takes
    its value from; the master feed's key must be among them. ``constants`` gives the columns
    every derived row shares that no fact column holds (the line and type of a plant's machines,
    which its telemetry does not name). Every other attribute is unknown (null), which only
    columns the contract marks ``may_be_unknown`` allow. A key takes the attributes of the
    latest fact row naming it in a drop.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_feed: str = Field(alias="from")
    columns: dict[str, str]
    constants: dict[str, Any] = Field(default_factory=dict)


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str
    scope: Literal["plant", "supplier"]
    dialect: Dialect = Field(default_factory=Dialect)
    feeds: dict[str, FeedMap]
    master: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    derive: dict[str, Derivation] = Field(default_factory=dict)  # master feed -> how its rows come from facts
    #: machine type -> its components (names, or name: description): the component registry
    components: dict[str, list[str] | dict[str, str | None]] = Field(default_factory=dict)
    source: Path | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _expand(self) -> Mapping:
        """Feeds derived from another's records become feeds reading those records (sources.series); the
        sensor and component declarations become the registries' master rows (sources.registry)."""
        for feed, fmap in self.feeds.items():
            if fmap.from_feed is not None:
                self.feeds[feed] = self._derived_feed(feed, fmap)
        for feed in self.feeds:
            self._check_layout(feed)
        declared = {"sensors": registry.registry_rows([s for f in self.feeds for s in self.sensor_maps(f).values()]),
                    "components": registry.component_rows(self.components)}
        for feed, rows in declared.items():
            if rows and feed in self.master:
                raise ValueError(f"master {feed}: the {feed} registry comes from the mapping's declarations "
                                 f"({'sensors: of the telemetry feed' if feed == 'sensors' else 'components:'}), "
                                 "not from master rows as well")
            if rows:
                self.master[feed] = rows
        return self

    def _derived_feed(self, feed: str, fmap: FeedMap) -> FeedMap:
        """A derived feed as an ordinary one: the source feed's dialect and the headers of the columns it takes
        (every other header of the copied records left out), read from ``<feed>.derived.*`` files."""
        source = self.feeds.get(fmap.from_feed)
        if source is None or source.from_feed is not None or fmap.from_feed == feed:
            raise ValueError(f"{feed}: from {fmap.from_feed!r} must be another feed of this mapping read from files")
        spec, facts = contract(feed), contract(fmap.from_feed)
        take = fmap.take or {**{n: n for n in spec.names if n in facts.names},
                             **({spec.event_time: facts.event_time} if spec.event_time and facts.event_time else {})}
        if spec.event_time and take.get(spec.event_time) != facts.event_time:
            raise ValueError(f"{feed}: its event time {spec.event_time} must be {fmap.from_feed}'s "
                             f"({facts.event_time}): a derived record lands on the day of the record it copies")
        maps = self.column_maps(fmap.from_feed)
        columns: dict[str, ColumnMap] = {}
        constants: dict[str, Any] = {}
        for target, origin in take.items():
            if target not in spec.names or origin not in facts.names:
                raise ValueError(f"{feed}: take {target}: {origin} must name a {feed} column and a "
                                 f"{fmap.from_feed} column")
            if spec.field(target).type != facts.field(origin).type:
                raise ValueError(f"{feed}: take {target}: {origin} joins columns of different types")
            header = next((h for h, m in maps.items() if m.to == origin), None)
            if header is not None:
                columns[header] = maps[header].model_copy(update={"to": target})
            elif origin in source.constants:
                constants[target] = source.constants[origin]
        if isinstance(fmap.when, series.Occurs):
            listed = {*source.columns, *source.sensors, *source.ignore}
            if fmap.when.column not in listed and not source.ignore_unmapped:
                raise ValueError(f"{feed}: the status column {fmap.when.column!r} must be listed by {fmap.from_feed} "
                                 "(under ignore:, if nothing else reads it)")
        fed = {m.to for m in columns.values()} | {c.to if isinstance(c, ColumnMap) else c
                                                  for c in fmap.columns.values()}
        fed |= {*constants, *fmap.constants, *fmap.same_as, *fmap.unknown}
        unsaid = [name for name in spec.required if name not in fed]
        _refuse_unknown(spec, unsaid, f"{feed}: {{columns}} must come from a column of {fmap.from_feed} or from "
                                      "constants:")
        return fmap.model_copy(update={
            "file": fmap.file or f"{feed}.derived.*", "columns": {**columns, **fmap.columns},
            "constants": {**constants, **fmap.constants}, "ignore_unmapped": True,
            "unknown": [*fmap.unknown, *unsaid],
            "dialect": {**source.dialect, **fmap.dialect}})

    def _check_layout(self, feed: str) -> None:
        """Positions only in headerless files (and only there); sensors only on sensor feeds, each source column
        read once; a counter on a timestamp column, its start column and unit present."""
        fmap, spec = self.feeds[feed], contract(feed)
        headerless = not self.dialect_for(feed).header
        named = [*fmap.columns, *fmap.sensors, *fmap.ignore]
        for key in named:
            if headerless != key.isdigit():
                raise ValueError(f"{feed}: column {key!r}: " + ("a headerless file (header: false) names its columns "
                                 "by position, 1 = the first" if headerless else "positions need header: false"))
        if fmap.sensors and not spec.readings:
            raise ValueError(f"{feed}: sensors: only a sensor feed (telemetry) has sensor values")
        both = sorted(set(fmap.columns) & set(fmap.sensors))
        if both:
            raise ValueError(f"{feed}: {', '.join(both)} both a column and a sensor")
        ids = [s.sensor for s in self.sensor_maps(feed).values()]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"{feed}: sensor(s) {', '.join(repeated)} fed by more than one column")
        for s in self.sensor_maps(feed).values():
            if s.source_unit:
                conversion(s.source_unit, s.unit)
        maps = self.column_maps(feed)
        for cmap in maps.values():
            if cmap.counter is None:
                continue
            if spec.field(cmap.to).type != TIMESTAMP:
                raise ValueError(f"{feed}: counter: {cmap.to} is not a timestamp column")
            if cmap.counter.start_column is not None and cmap.counter.start_column not in named:
                raise ValueError(f"{feed}: counter start_column {cmap.counter.start_column!r} must be listed "
                                 "(under ignore:, if nothing else reads it)")
            if cmap.counter.stagger is not None and not any(m.to == cmap.counter.unit for m in maps.values()):
                raise ValueError(f"{feed}: counter stagger numbers units by {cmap.counter.unit}, which no column feeds")

    def sensor_maps(self, feed: str) -> dict[str, registry.SensorMap]:
        """Source header (or position) -> the sensor it holds, with its id."""
        return {header: registry.parse(value).named(header) for header, value in self.feeds[feed].sensors.items()}

    def sensor_header(self, feed: str, sensor: str) -> str:
        """The source header holding ``sensor`` (for writers of this format)."""
        for header, declared in self.sensor_maps(feed).items():
            if declared.sensor == sensor:
                return header
        raise KeyError(f"{self.name}: no source column holds sensor {sensor} of {feed}")

    def derived_feeds(self) -> dict[str, FeedMap]:
        """Feeds whose rows are another feed's records (``from:``): ``plantlake import`` writes their files."""
        return {feed: fmap for feed, fmap in self.feeds.items() if fmap.from_feed is not None}

    @model_validator(mode="after")
    def _check_against_contracts(self) -> Mapping:
        for feed, fmap in self.feeds.items():
            spec = contract(feed)
            if spec.scope != self.scope:
                raise ValueError(f"feed {feed} belongs to {spec.scope} drops, not {self.scope} drops")
            Dialect(**{**self.dialect.model_dump(), **fmap.dialect})
            mapped = {c.to if isinstance(c, ColumnMap) else c for c in fmap.columns.values()}
            for target in mapped | set(fmap.constants) | set(fmap.same_as) | set(fmap.same_as.values()) | set(
                    fmap.unknown):
                if target not in spec.names:
                    raise ValueError(f"{feed}: {target!r} is not a column of the {feed} contract")
            for target, origin in fmap.same_as.items():
                if target in mapped or target in fmap.constants:
                    raise ValueError(f"{feed}: same_as {{{target}: {origin}}} conflicts with another source of "
                                     f"{target}: same_as fills the column on the left from the one on the right; "
                                     f"to fill {origin} from {target}, write same_as: {{{origin}: {target}}}")
                if origin in fmap.same_as:
                    raise ValueError(f"{feed}: same_as {target}: {origin} conflicts with another source of {target}")
                if spec.field(target).type != spec.field(origin).type:
                    raise ValueError(f"{feed}: same_as {target}: {origin} joins columns of different types")
            for target in fmap.columns.values():
                if isinstance(target, ColumnMap):
                    _check_column(feed, target, spec.field(target.to))
            said = sorted(set(fmap.unknown) & (mapped | set(fmap.constants) | set(fmap.same_as)))
            if said:
                raise ValueError(f"{feed}: {', '.join(said)} both unknown and given a source")
            _refuse_unknown(spec, fmap.unknown, f"{feed}: unknown: {{columns}} cannot be unknown")
        for feed, rows in self.master.items():
            spec = self._reference_feed(feed, "master rows")
            for row in rows:
                unknown = sorted(set(row) - set(spec.names))
                if unknown:
                    raise ValueError(f"master {feed}: {', '.join(unknown)} not columns of the {feed} contract")
        for feed, how in self.derive.items():
            spec = self._reference_feed(feed, "derive")
            if how.from_feed not in self.feeds:
                raise ValueError(f"derive {feed}: from {how.from_feed!r} is not a feed of this mapping "
                                 f"({', '.join(self.feeds)})")
            facts = contract(how.from_feed)
            for target, origin in how.columns.items():
                if target not in spec.names:
                    raise ValueError(f"derive {feed}: {target!r} is not a column of the {feed} contract")
                if origin not in facts.names:
                    raise ValueError(f"derive {feed}: {origin!r} is not a column of the {how.from_feed} contract")
                if spec.field(target).type != facts.field(origin).type:
                    raise ValueError(f"derive {feed}: {target} and {how.from_feed}.{origin} are of different types")
            for target in how.constants:
                if target not in spec.names:
                    raise ValueError(f"derive {feed}: constant {target!r} is not a column of the {feed} contract")
                if target in how.columns:
                    raise ValueError(f"derive {feed}: {target} is both a constant and a column of {how.from_feed}")
            if spec.natural_key[0] not in how.columns:
                raise ValueError(f"derive {feed}: its key {spec.natural_key[0]} must come from a column of "
                                 f"{how.from_feed}")
            _refuse_unknown(spec, [name for name in spec.required if name not in how.columns
                                   and name not in how.constants],
                            f"derive {feed}: {{columns}} must come from a column of {how.from_feed} or from constants:")
        return self

    def _reference_feed(self, feed: str, what: str):
        """A master feed this mapping may declare or derive rows of: its own scope's, or one its feeds reference
        (the ship-to plants of a supplier export)."""
        spec = contract(feed)
        if not spec.master:
            raise ValueError(f"{what} can only be declared for master feeds, not {feed}")
        referenced = {master for f in self.feeds for _, master in contract(f).references}
        if spec.scope != self.scope and feed not in referenced:
            raise ValueError(f"{what}: master feed {feed} belongs to {spec.scope} drops and no feed of this "
                             f"{self.scope} mapping references it")
        return spec

    def declares(self, feed: str) -> bool:
        """Whether the mapping itself gives rows of ``feed`` (``master:`` or ``derive:``)."""
        return feed in self.master or feed in self.derive

    def dialect_for(self, feed: str) -> Dialect:
        return Dialect(**{**self.dialect.model_dump(), **self.feeds[feed].dialect})

    def column_maps(self, feed: str) -> dict[str, ColumnMap]:
        """Source header -> how it becomes a contract column. Headers named like a contract
        column map to it unless the mapping says otherwise."""
        fmap = self.feeds[feed]
        maps = {src: c if isinstance(c, ColumnMap) else ColumnMap(to=c) for src, c in fmap.columns.items()}
        taken = {m.to for m in maps.values()} | set(fmap.constants) | set(fmap.same_as) | set(fmap.unknown)
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


def _refuse_unknown(spec: Contract, columns: list[str], what: str) -> None:
    """Of the columns a mapping would leave unknown, those the contract requires a value for: refused as it loads."""
    allowed = spec.may_be_unknown
    refused = [name for name in columns if name not in allowed]
    if refused:
        raise ValueError(what.format(columns=", ".join(refused)) + f" (the {spec.feed} contract does not allow "
                         "them to be unknown; the columns it allows to be unknown are: "
                         f"{', '.join(allowed) or 'none'})")


def _check_column(feed: str, cmap: ColumnMap, target) -> None:
    """What a column map asks of its contract column: a known unit conversion, a date for ``age_at``,
    a date or timestamp for ``format``."""
    if cmap.unit:
        if is_currency(cmap.unit) != is_currency(target.unit):
            raise ValueError(f"{feed}.{cmap.to}: unit {cmap.unit} cannot become {target.unit or 'a unitless value'}")
        conversion(cmap.unit, target.unit)
    if cmap.age_at and target.type != DATE:
        raise ValueError(f"{feed}: age_at needs a date column, {cmap.to} is not one")
    if cmap.format is not None and target.type not in (DATE, TIMESTAMP):
        raise ValueError(f"{feed}: format is for date and timestamp columns, {cmap.to} is neither")
    if cmap.unparsable == "null" and target.required:
        raise ValueError(f"{feed}: unparsable: null cannot apply to {cmap.to}, which the contract requires "
                         "(its rows would be quarantined as empty anyway)")


_UNION_BRANCHES = {"str", "ColumnMap", "list[str]"}


def plain_errors(exc: ValidationError) -> str:
    """Pydantic's errors as one plain sentence each: where, and what is wrong (no URLs, no input dumps)."""
    errors = exc.errors()
    branches = {e["loc"][:-1] for e in errors if e["loc"] and e["loc"][-1] != "str"}
    sentences = []
    for error in errors:
        if error["loc"] and error["loc"][-1] == "str" and error["loc"][:-1] in {b[:-1] for b in branches}:
            continue  # a column written as a table: the "plain string" alternative of the union is not the point
        loc = [str(p) for p in error["loc"] if not str(p).startswith(("function-", "literal["))]
        where = ".".join(p for p in loc if p not in _UNION_BRANCHES)
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if error["type"] == "extra_forbidden":
            message = "is not a field a mapping knows (misspelt?)"
        elif error["type"] == "missing":
            message = "is missing"
        sentences.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(sentences))


def load(path: str | Path) -> Mapping:
    """Load and validate a mapping file; errors name the file and the field, one plain sentence each."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("a mapping is a YAML mapping of name, description, scope, feeds, ...")
        mapping = Mapping(**data)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read mapping {path}: {exc}") from exc
    except ValidationError as exc:
        raise ValueError(f"mapping {path} is invalid: {plain_errors(exc)}") from exc
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


__all__ = ["CONTRACTS", "ColumnMap", "Derivation", "Dialect", "FeedMap", "Mapping", "conversion", "get", "load"]
