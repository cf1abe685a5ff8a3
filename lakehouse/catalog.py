"""The table catalog: every table of the lake is declared once, here or by a layer's module.

A :class:`TableSpec` names a table (``layer.table``), its Arrow schema with a description
per column, its partition columns and its natural key, and what must hold in it (column
ranges and allowed values, ordered column pairs). A table computed from others also says how
(:class:`Derived`: a pure transform and the rows of each input it reads), which plants a run
replaces (``scope``) and whether its check blocks what is downstream (``blocking``). Writers
validate against it; quality suites, Dagster assets and checks, metadata and the docs' table
reference (written by ``make docs``) are generated from it.

Layers declare their tables where the knowledge lives (bronze tables derive from the
feed contracts in ``sources``) and publish them through the ``plantlake.tables`` entry
point group, so the catalog sees every table without importing upwards.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pyarrow as pa

LAYERS = ("bronze", "silver", "gold", "ops")

#: Scopes of a table's rows: a run limited to some plants replaces only their rows of a ``PLANT``
#: table; a ``NETWORK`` table (the suppliers' drop, the savings forecast) is replaced night by night.
PLANT = "plant"
NETWORK = "network"

STRING = pa.string()
INT32 = pa.int32()
INT64 = pa.int64()
FLOAT64 = pa.float64()
BOOL = pa.bool_()
DATE = pa.date32()
TIMESTAMP = pa.timestamp("us", tz="UTC")
#: Values keyed by name, as many as a row has (a reading's sensor values: sensor id -> value); BI readers
#: read it as ``map<string,double>`` (``readings['temperature_c']`` in Athena, Spark, DuckDB).
NAMED_VALUES = pa.map_(pa.string(), pa.float64())

_ALLOWED_TYPES = {STRING, INT32, INT64, FLOAT64, BOOL, DATE, TIMESTAMP, NAMED_VALUES}
_PARTITION_TYPES = {DATE, TIMESTAMP}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    unit: str | None = None
    min: float | None = None  # values below are wrong (nulls pass: nullability is ``nullable``'s business)
    max: float | None = None
    allowed: tuple[str, ...] | None = None  # the only values it may hold

    @property
    def comment(self) -> str:
        """The description with its unit: what the Delta schema, Dagster and Glue show for the column."""
        return f"{self.description} [{self.unit}]" if self.unit else self.description

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable, metadata={"comment": self.comment})


def col(name: str, type_: pa.DataType, description: str, *, nullable: bool = True, unit: str | None = None,
        min: float | None = None, max: float | None = None, allowed: tuple[str, ...] | None = None) -> Column:
    """Shorthand for declaring a column."""
    return Column(name, type_, description, nullable, unit, min, max, tuple(allowed) if allowed else None)


@dataclass(frozen=True)
class Input:
    """The rows of one table a derived table's transform reads, for a run over some nights.

    By default the rows of the run's own partition values (its nights, or its months for a
    monthly input). ``days_before`` reaches further back (a rolling window, a recency
    lookback), ``history_only`` keeps only those earlier days (a table's own past, for drift),
    ``days_after`` reads on past the last night (what followed an alert, so that re-running an
    old night sees the events a later night saw), ``whole_months`` widens to the months the
    nights fall in, and ``everything`` reads every row (a dimension). A run limited to some
    plants reads only their rows of a plant-scoped input.
    """

    table: str
    days_before: int = 0
    history_only: bool = False
    days_after: int = 0
    whole_months: bool = False
    everything: bool = False
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Derived:
    """How a table is computed: ``transform`` ("module:function") is called with the run's partition
    values (nights, or months for a monthly table) and one DataFrame per input, by keyword, plus
    ``params``; it returns the table's rows for those values. ``write_via`` "parquet" lets the
    executors write a large result in parallel."""

    transform: str
    inputs: tuple[tuple[str, Input], ...]
    params: tuple[tuple[str, Any], ...] = ()
    write_via: str = "arrow"
    reach_back_days: int = 0  # a night's rows depend on later nights (an outcome): a run also redoes this many before

    @property
    def reads(self) -> list[str]:
        """The tables it reads, each once, in declaration order."""
        return list(dict.fromkeys(i.table for _, i in self.inputs))


def derived(transform: str, write_via: str = "arrow", params: dict[str, Any] | None = None,
            reach_back_days: int = 0, **inputs: Input | str) -> Derived:
    """Shorthand: ``derived("transforms.oee:oee_daily", production="silver.production", ...)``;
    a bare table name is an :class:`Input` of the run's partition values."""
    pairs = tuple((k, v if isinstance(v, Input) else Input(v)) for k, v in inputs.items())
    frozen = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in (params or {}).items())
    return Derived(transform, pairs, frozen, write_via, reach_back_days)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ("date",)
    natural_key: tuple[str, ...] = ()
    at_most: tuple[tuple[str, str], ...] = ()  # (a, b): a <= b wherever both are present
    scope: str | None = None  # PLANT or NETWORK: what a run limited to some plants replaces; None: the whole table
    blocking: bool = False  # a failing check stops what reads the table
    derived: Derived | None = None  # how it is computed from other tables (None: written by its own code)

    def __post_init__(self) -> None:
        layer, _, table = self.name.partition(".")
        if layer not in LAYERS or not table:
            raise ValueError(f"table name {self.name!r} must be '<layer>.<table>' with layer in {LAYERS}")
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate column names")
        for c in self.columns:
            if c.type not in _ALLOWED_TYPES:
                raise ValueError(f"{self.name}.{c.name}: type {c.type} is not one BI readers can all read")
        for key in (*self.partition_by, *self.natural_key):
            if key not in names:
                raise ValueError(f"{self.name}: key column {key!r} is not a column")
        for p in self.partition_by:
            if self.column(p).type not in _PARTITION_TYPES:
                raise ValueError(f"{self.name}: partition column {p!r} must be a date or a UTC timestamp")
        for pair in self.at_most:
            if len(pair) != 2 or not set(pair) <= set(names):
                raise ValueError(f"{self.name}: at_most pair {pair!r} must name two columns")
        if self.scope not in (None, PLANT, NETWORK):
            raise ValueError(f"{self.name}: scope must be {PLANT!r}, {NETWORK!r} or None, not {self.scope!r}")
        if self.scope == PLANT and "plant_id" not in names:
            raise ValueError(f"{self.name}: a plant-scoped table needs a plant_id column")
        if self.derived and not self.partition_by:
            raise ValueError(f"{self.name}: a derived table is replaced by partition: declare partition_by")

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def path(self) -> str:
        """Location under the lake root: ``<layer>/<table>``."""
        return f"{self.layer}/{self.table}"

    def periods(self, nights: Iterable[dt.date]) -> list[dt.date]:
        """The partition values a run over ``nights`` replaces: the nights (and the days a derived table reaches
        back), or the months they fall in for a monthly table."""
        nights = sorted(nights)
        if self.derived and self.derived.reach_back_days and nights:
            first = nights[0] - dt.timedelta(days=self.derived.reach_back_days)
            nights = sorted({first + dt.timedelta(days=i) for i in range((nights[-1] - first).days + 1)})
        if self.partition_by and self.partition_by[0] == "month":
            return sorted({d.replace(day=1) for d in nights})
        return nights

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @functools.cached_property
    def schema(self) -> pa.Schema:
        return pa.schema([c.field() for c in self.columns], metadata={"description": self.description})

    def markdown(self) -> str:
        """The table as a reference section: what it holds, how it is computed and checked, its columns."""
        lines = [f"### `{self.name}`", "", self.description, ""]
        facts = []
        if self.partition_by:
            facts.append("partitioned by " + ", ".join(f"`{p}`" for p in self.partition_by))
        if self.natural_key:
            facts.append("natural key " + ", ".join(f"`{k}`" for k in self.natural_key))
        if self.scope:
            facts.append("a run limited to some plants replaces " + ("only their rows" if self.scope == PLANT
                                                                      else "the whole night"))
        if self.blocking:
            facts.append("a failing check stops what reads it")
        if facts:
            lines += ["; ".join(facts).capitalize() + ".", ""]
        if self.derived:
            reads = ", ".join(f"`{name}`" for name in self.derived.reads)
            lines += [f"Computed by `{self.derived.transform}` from {reads}.", ""]
        if self.at_most:
            lines += ["Holds " + ", ".join(f"`{a}` <= `{b}`" for a, b in self.at_most) + ".", ""]
        lines += ["| column | type | description | valid values |", "|---|---|---|---|"]
        for c in self.columns:
            unit = f" ({c.unit})" if c.unit else ""
            lines.append(f"| `{c.name}` | {c.type}{'' if c.nullable else ' not null'} | {c.description}{unit} "
                         f"| {_valid(c)} |")
        return "\n".join(lines) + "\n"


def _valid(c: Column) -> str:
    if c.allowed:
        return ", ".join(f"`{v}`" for v in c.allowed)
    if c.min is not None and c.max is not None:
        return f"{c.min:g} to {c.max:g}"
    if c.min is not None:
        return f">= {c.min:g}"
    if c.max is not None:
        return f"<= {c.max:g}"
    return ""


ENTRY_POINT_GROUP = "plantlake.tables"


@functools.cache
def _load() -> dict[str, TableSpec]:
    found: dict[str, TableSpec] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        specs: Iterable[TableSpec] = ep.load()
        for spec in specs:
            if spec.name in found and found[spec.name] != spec:
                raise ValueError(f"table {spec.name} is declared twice (entry point {ep.name})")
            found[spec.name] = spec
    return found


def tables(layer: str | None = None) -> list[TableSpec]:
    """Every declared table (of one layer), in layer order then by name."""
    order = {name: i for i, name in enumerate(LAYERS)}
    specs = [s for s in _load().values() if layer is None or s.layer == layer]
    return sorted(specs, key=lambda s: (order[s.layer], s.name))


def get(name: str) -> TableSpec:
    """A declared table by ``layer.table`` name."""
    try:
        return _load()[name]
    except KeyError:
        known = ", ".join(sorted(_load()))
        raise KeyError(f"no table {name!r} in the catalog; known tables: {known}") from None


def markdown() -> str:
    """The table list as Markdown, generated from the catalog (``plantlake tables --markdown``)."""
    parts = []
    for layer in LAYERS:
        specs = tables(layer)
        if specs:
            parts.append(f"#### {layer}\n\n" + "\n".join(s.markdown() for s in specs))
    return "\n".join(parts)
