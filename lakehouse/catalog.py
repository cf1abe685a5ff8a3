"""The table catalog: every table of the lake is declared once, here or by a layer's module.

A :class:`TableSpec` names a table (``layer.table``), its Arrow schema with a description
per column, its partition columns and its natural key. Writers validate against it,
quality suites and Dagster metadata are built from it, and the docs' table reference
(docs/reference/tables.md, written by ``make docs``) is generated from it.

Layers declare their tables where the knowledge lives (bronze tables derive from the
feed contracts in ``sources``) and publish them through the ``plantlake.tables`` entry
point group, so the catalog sees every table without importing upwards.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

import pyarrow as pa

LAYERS = ("bronze", "silver", "gold", "ops")

STRING = pa.string()
INT32 = pa.int32()
INT64 = pa.int64()
FLOAT64 = pa.float64()
BOOL = pa.bool_()
DATE = pa.date32()
TIMESTAMP = pa.timestamp("us", tz="UTC")

_ALLOWED_TYPES = {STRING, INT32, INT64, FLOAT64, BOOL, DATE, TIMESTAMP}
_PARTITION_TYPES = {DATE, TIMESTAMP}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    nullable: bool = True
    unit: str | None = None

    @property
    def comment(self) -> str:
        """The description with its unit: what the Delta schema, Dagster and Glue show for the column."""
        return f"{self.description} [{self.unit}]" if self.unit else self.description

    def field(self) -> pa.Field:
        return pa.field(self.name, self.type, nullable=self.nullable, metadata={"comment": self.comment})


def col(name: str, type_: pa.DataType, description: str, *, nullable: bool = True, unit: str | None = None) -> Column:
    """Shorthand for declaring a column."""
    return Column(name, type_, description, nullable, unit)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ("date",)
    natural_key: tuple[str, ...] = ()

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
        """The table as a Markdown section (of the docs' table reference)."""
        lines = [f"### `{self.name}`", "", self.description, ""]
        facts = []
        if self.partition_by:
            facts.append("partitioned by " + ", ".join(f"`{p}`" for p in self.partition_by))
        if self.natural_key:
            facts.append("natural key " + ", ".join(f"`{k}`" for k in self.natural_key))
        if facts:
            lines += ["; ".join(facts).capitalize() + ".", ""]
        lines += ["| column | type | description |", "|---|---|---|"]
        for c in self.columns:
            unit = f" ({c.unit})" if c.unit else ""
            lines.append(f"| `{c.name}` | {c.type}{'' if c.nullable else ' not null'} | {c.description}{unit} |")
        return "\n".join(lines) + "\n"


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
