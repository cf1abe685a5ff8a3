"""Feed contracts: what every plant and supplier feed must contain, and the rules its rows obey.

A contract names a feed's columns (type, unit, allowed range or values, required or
not), its natural key, the column that must fall inside the drop's date, and the
cross-column rules of its rows. Source mappings turn foreign exports into these
columns; the bronze tables of the catalog derive from the contracts (plus ``plant_id``,
``date`` and the lineage columns).

Which drop carries which feed:

* a plant drop (``plant=<id>/date=<D>/``): the plant's own master data (``plants``, one
  row; ``lines``; ``machines``) and its events (``telemetry``, ``production``,
  ``downtime_events``, ``maintenance``, ``failures``);
* the supplier drop (``suppliers/date=<D>/``): ``suppliers``, ``supplier_locations``,
  ``parts``, ``shipments`` and ``inspections``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from lakehouse import catalog
from lakehouse.catalog import BOOL, DATE, FLOAT64, INT64, NAMED_VALUES, STRING, TIMESTAMP, Column, TableSpec, col

PLANT = "plant"
SUPPLIER = "supplier"


@dataclass(frozen=True)
class Field:
    """One column of a feed as delivered (after its mapping)."""

    name: str
    type: pa.DataType
    description: str
    unit: str | None = None
    required: bool = True  # must be present in the file and non-null in every row
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    #: A master attribute an export may not know: rows a mapping derives from facts or declares
    #: (``derive:``, ``master:``) leave it null, and the KPIs that need it say unknown (null).
    may_be_unknown: bool = False

    def column(self) -> Column:
        """The column as bronze and silver declare it, with the contract's range and allowed values."""
        nullable = not self.required or self.may_be_unknown
        description = self.description + (" (null: unknown, the source does not say)" if self.may_be_unknown else "")
        return col(self.name, self.type, description, nullable=nullable, unit=self.unit,
                   min=self.min, max=self.max, allowed=self.allowed)


@dataclass(frozen=True)
class Rule:
    """A cross-column rule every row must satisfy; ``check`` is true for good rows (nulls pass)."""

    name: str
    description: str
    check: Callable[[], pl.Expr]
    ordered: tuple[str, str] | None = None  # (a, b) when the rule is a <= b: silver checks it again


@dataclass(frozen=True)
class Contract:
    feed: str
    scope: str  # PLANT or SUPPLIER: which drop carries the feed
    description: str
    fields: tuple[Field, ...]
    natural_key: tuple[str, ...]
    event_time: str | None = None  # must lie inside the drop's date (plant time zone; UTC for suppliers)
    rules: tuple[Rule, ...] = ()
    master: bool = False  # a full snapshot each night rather than the day's events
    references: tuple[tuple[str, str], ...] = ()  # (column, master feed whose key it must name)
    #: A sensor feed: besides its fields, each row carries the values of the sensors the mapping declares
    #: (``sensors:``) in one ``readings`` column, as many as the machine has (:data:`READINGS`).
    readings: bool = False

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        return [f.name for f in self.fields if f.required]

    @property
    def may_be_unknown(self) -> list[str]:
        """Columns a derived or declared master row may leave null (unknown)."""
        return [f.name for f in self.fields if f.may_be_unknown]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"feed {self.feed} has no column {name!r}")

    def columns(self) -> list[Column]:
        """The feed's columns as bronze and silver declare them: its fields, then ``readings`` for a sensor feed."""
        return [f.column() for f in self.fields] + ([READINGS] if self.readings else [])

    @property
    def bronze_name(self) -> str:
        return f"bronze.{self.feed}"

    @functools.cached_property
    def bronze(self) -> TableSpec:
        """The bronze table: the feed as delivered, typed, with its drop and lineage columns."""
        columns = self.columns()
        key = list(self.natural_key)
        if self.scope == PLANT and "plant_id" not in self.names:
            columns.insert(0, col("plant_id", STRING, "Plant whose drop delivered the row", nullable=False))
            key.insert(0, "plant_id")
        columns.insert(0, col("date", DATE, "Date of the drop (plant-local production date)", nullable=False))
        columns += LINEAGE
        return TableSpec(
            name=self.bronze_name,
            description=f"{self.description} As delivered, typed by its contract, with lineage.",
            columns=tuple(columns),
            partition_by=("date",),
            natural_key=("date", *key),
            scope=catalog.PLANT if self.scope == PLANT else catalog.NETWORK,
            blocking=True,  # bad data never flows into silver
        )


LINEAGE = (
    col("_source_file", STRING, "Landing-zone file the row came from", nullable=False),
    col("_source_row", INT64, "Data row number in that file (1 = first row after the header)", nullable=False),
    col("_ingested_at", TIMESTAMP, "When the row was landed", nullable=False),
    col("_run_id", STRING, "Run that landed it (Dagster run id or CLI run id)", nullable=False),
)

# Value domains shared by the simulator, the mappings and the rules.
REGIONS = ("Europe", "North America", "South America", "China", "Asia Pacific", "Africa")
#: A sensor feed's values: sensor id (a key of the sensor registry, ``silver.dim_sensor``) -> value in the
#: registry's unit. A map rather than a column per sensor, so any machine brings any sensors (the reasons
#: and measurements: docs/architecture.md, "Telemetry: one row per reading instant, sensors in a map").
READINGS = col("readings", NAMED_VALUES, "Sensor values of the reading: sensor id (silver.dim_sensor) -> value in "
               "the registry's unit; only the sensors that reported", nullable=False)
CRITICALITY = ("A", "B", "C")
DOWNTIME_CATEGORIES = ("breakdown", "alarm", "setup", "material_shortage", "quality", "planned")
MAINTENANCE_TYPES = ("preventive", "corrective", "unspecified")
TRANSPORT_MODES = ("road", "rail", "sea", "air")
SHIPMENT_STATUS = ("in_transit", "delivered")

BIG = 1e12  # upper bound for money and counts: catches overflow and unit mix-ups


def _le(name: str, description: str, a: str, b: str) -> Rule:
    """The rule ``a <= b`` (nulls pass)."""
    return Rule(name, description, lambda: pl.col(a) <= pl.col(b), ordered=(a, b))


CONTRACTS: dict[str, Contract] = {}


def _register(contract: Contract) -> Contract:
    CONTRACTS[contract.feed] = contract
    return contract


# -- plant master data ----------------------------------------------------------------------
_register(Contract(
    feed="plants",
    scope=PLANT,
    master=True,
    description="The plant's own master record (one row per plant drop).",
    fields=(
        Field("plant_id", STRING, "Plant identifier, e.g. DE01"),
        Field("name", STRING, "Plant name"),
        Field("country", STRING, "ISO 3166 alpha-2 country code", may_be_unknown=True),
        Field("region", STRING, "Region of the production network", allowed=REGIONS, may_be_unknown=True),
        Field("timezone", STRING, "IANA time zone of the plant; production dates are local to it",
              may_be_unknown=True),
        Field("joined_on", DATE, "Date the plant joined the network", may_be_unknown=True),
        Field("baseline_units_per_hour", FLOAT64, "Good units per planned production hour when the plant joined",
              unit="units/h", min=0, max=1e6, may_be_unknown=True),
    ),
    natural_key=("plant_id",),
))

_register(Contract(
    feed="lines",
    scope=PLANT,
    master=True,
    description="Production lines of the plant.",
    fields=(
        Field("line_id", STRING, "Line identifier, unique in the network"),
        Field("name", STRING, "Line name"),
        Field("line_type", STRING, "Shop: press, body, paint, assembly, powertrain"),
        Field("ideal_cycle_time_s", FLOAT64, "Ideal (design) cycle time per unit", unit="s", min=0.1, max=3600),
        Field("planned_shifts", INT64, "Shifts planned per day", min=0, max=3),
        Field("shift_minutes", FLOAT64, "Length of a shift", unit="min", min=0, max=720),
    ),
    natural_key=("line_id",),
))

_register(Contract(
    feed="machines",
    scope=PLANT,
    master=True,
    description="Machines of the plant, each on one line.",
    fields=(
        Field("machine_id", STRING, "Machine identifier, unique in the network"),
        Field("line_id", STRING, "Line the machine belongs to"),
        Field("machine_type", STRING, "Kind of machine (its sensors and components: silver.dim_sensor, "
              "silver.dim_component)"),
        Field("model", STRING, "Manufacturer model", may_be_unknown=True),
        Field("install_date", DATE, "Date the machine was installed (null: its age is unknown)", may_be_unknown=True),
        Field("criticality", STRING, "A: stops the line, B: slows it, C: has a bypass", allowed=CRITICALITY,
              may_be_unknown=True),
        Field("downtime_cost_eur_h", FLOAT64, "Cost of one hour of this machine standing still",
              unit="EUR/h", required=False, min=0, max=1e7),
    ),
    natural_key=("machine_id",),
    references=(("line_id", "lines"),),
))

# -- the registries: what a machine type's sensors measure and which components it has -------
# Declared by a plant's mapping (``sensors:`` of its telemetry feed, ``components:``), landed with
# each drop like the mapping's ``master:`` rows (a drop that brings them as files wins).
_register(Contract(
    feed="sensors",
    scope=PLANT,
    master=True,
    description="The sensor registry: per sensor and machine type, what it measures, the unit its values are "
    "stored in and the range a reading must lie in (outside it the reading's row is quarantined).",
    fields=(
        Field("sensor_id", STRING, "Sensor identifier: the key of its values in telemetry readings"),
        Field("machine_type", STRING, "Machine type reporting it ('*': any machine type of the mapping's plants)"),
        Field("unit", STRING, "Unit of the stored values (a mapping converts the export's unit to it)",
              required=False),
        Field("description", STRING, "What the sensor measures", required=False),
        Field("expected_min", FLOAT64, "Lowest valid reading, in the sensor's unit (null: no lower bound)",
              required=False),
        Field("expected_max", FLOAT64, "Highest valid reading, in the sensor's unit (null: no upper bound)",
              required=False),
    ),
    natural_key=("sensor_id", "machine_type"),
    rules=(_le("range_in_order", "expected_min <= expected_max", "expected_min", "expected_max"),),
))

_register(Contract(
    feed="components",
    scope=PLANT,
    master=True,
    description="The component registry: the components each machine type has (what maintenance and failures "
    "name, and the models' per-component features).",
    fields=(
        Field("machine_type", STRING, "Machine type"),
        Field("component", STRING, "Component of that machine type"),
        Field("description", STRING, "What it is", required=False),
    ),
    natural_key=("machine_type", "component"),
))

# -- plant events ---------------------------------------------------------------------------
_register(Contract(
    feed="telemetry",
    scope=PLANT,
    description="Machine sensor readings (per minute from the simulator, other granularities from real plants): "
    "one row per machine and reading instant, the values of whatever sensors the machine has in readings.",
    fields=(
        Field("machine_id", STRING, "Machine"),
        Field("ts", TIMESTAMP, "Start of the reading interval (UTC)"),
        Field("interval_s", INT64, "Seconds the reading covers (60 = per minute, 3600 = hourly)", unit="s",
              min=1, max=86400),
    ),
    natural_key=("machine_id", "ts"),
    event_time="ts",
    references=(("machine_id", "machines"),),
    readings=True,
))

_register(Contract(
    feed="production",
    scope=PLANT,
    description="Output per line and shift: planned and run time, total and good units.",
    fields=(
        Field("line_id", STRING, "Line"),
        Field("shift", INT64, "Shift number of the day", min=1, max=3),
        Field("shift_start", TIMESTAMP, "Shift start (UTC)"),
        Field("shift_end", TIMESTAMP, "Shift end (UTC)"),
        Field("planned_minutes", FLOAT64, "Planned production time", unit="min", min=0, max=1440),
        Field("run_minutes", FLOAT64, "Time the line actually ran", unit="min", min=0, max=1440),
        Field("total_count", INT64, "Units produced", min=0, max=BIG),
        Field("good_count", INT64, "Units right first time", min=0, max=BIG),
    ),
    natural_key=("line_id", "shift_start"),
    event_time="shift_start",
    references=(("line_id", "lines"),),
    rules=(
        _le("good_le_total", "good_count <= total_count", "good_count", "total_count"),
        _le("run_le_planned", "run_minutes <= planned_minutes", "run_minutes", "planned_minutes"),
        _le("end_after_start", "shift_end >= shift_start", "shift_start", "shift_end"),
    ),
))

_register(Contract(
    feed="downtime_events",
    scope=PLANT,
    description="Downtime and alarm events per machine (alarms may have no duration).",
    fields=(
        Field("machine_id", STRING, "Machine"),
        Field("start_ts", TIMESTAMP, "Event start (UTC)"),
        Field("end_ts", TIMESTAMP, "Event end (UTC); equal to start for instantaneous alarms"),
        Field("code", STRING, "Alarm or reason code"),
        Field("category", STRING, "Kind of event", allowed=DOWNTIME_CATEGORIES),
    ),
    natural_key=("machine_id", "start_ts", "code"),
    event_time="start_ts",
    references=(("machine_id", "machines"),),
    rules=(_le("end_after_start", "end_ts >= start_ts", "start_ts", "end_ts"),),
))

_register(Contract(
    feed="maintenance",
    scope=PLANT,
    description="Maintenance work orders: preventive or corrective work on a machine's component.",
    fields=(
        Field("work_order_id", STRING, "Work order number", required=False),
        Field("machine_id", STRING, "Machine"),
        Field("component", STRING, "Component worked on or replaced"),
        Field("maintenance_type", STRING, "preventive, corrective, or unspecified where the export does not say",
              allowed=MAINTENANCE_TYPES),
        Field("performed_at", TIMESTAMP, "When the work was done (UTC)"),
        Field("labour_hours", FLOAT64, "Technician hours", unit="h", required=False, min=0, max=1000),
        Field("parts_cost_eur", FLOAT64, "Cost of parts used", unit="EUR", required=False, min=0, max=BIG),
    ),
    natural_key=("machine_id", "performed_at", "component"),
    event_time="performed_at",
    references=(("machine_id", "machines"),),
))

_register(Contract(
    feed="failures",
    scope=PLANT,
    description="Unplanned failures: the component that failed, how, and what it cost.",
    fields=(
        Field("machine_id", STRING, "Machine"),
        Field("failed_at", TIMESTAMP, "When the failure stopped the machine (UTC)"),
        Field("component", STRING, "Component that failed"),
        Field("failure_mode", STRING, "How it failed (wear, overheating, leak, ...)", required=False),
        Field("downtime_minutes", FLOAT64, "Minutes the machine stood still", unit="min", required=False,
              min=0, max=100000),
        Field("repair_cost_eur", FLOAT64, "Parts and labour of the repair", unit="EUR", required=False,
              min=0, max=BIG),
    ),
    natural_key=("machine_id", "failed_at", "component"),
    event_time="failed_at",
    references=(("machine_id", "machines"),),
))

# -- supplier master data and events ---------------------------------------------------------
_register(Contract(
    feed="suppliers",
    scope=SUPPLIER,
    master=True,
    description="Suppliers of the network.",
    fields=(
        Field("supplier_id", STRING, "Supplier identifier"),
        Field("name", STRING, "Supplier name"),
        Field("country", STRING, "ISO 3166 alpha-2 country of the head office", may_be_unknown=True),
        Field("tier", INT64, "Tier in the supply chain", min=1, max=3, may_be_unknown=True),
    ),
    natural_key=("supplier_id",),
))

_register(Contract(
    feed="supplier_locations",
    scope=SUPPLIER,
    master=True,
    description="Ship-from locations of the suppliers.",
    fields=(
        Field("location_id", STRING, "Location identifier"),
        Field("supplier_id", STRING, "Supplier operating the location"),
        Field("city", STRING, "City", may_be_unknown=True),
        Field("country", STRING, "ISO 3166 alpha-2 country code", may_be_unknown=True),
        Field("region", STRING, "Region", allowed=REGIONS, may_be_unknown=True),
        Field("latitude", FLOAT64, "Latitude", unit="deg", min=-90, max=90, may_be_unknown=True),
        Field("longitude", FLOAT64, "Longitude", unit="deg", min=-180, max=180, may_be_unknown=True),
    ),
    natural_key=("location_id",),
    references=(("supplier_id", "suppliers"),),
))

_register(Contract(
    feed="parts",
    scope=SUPPLIER,
    master=True,
    description="Purchased parts.",
    fields=(
        Field("part_id", STRING, "Part number"),
        Field("description", STRING, "Part description", may_be_unknown=True),
        Field("commodity", STRING, "Commodity group (electronics, steel, plastics, ...)", may_be_unknown=True),
        Field("unit_cost_eur", FLOAT64, "Purchase price per unit", unit="EUR", min=0, max=1e7, may_be_unknown=True),
    ),
    natural_key=("part_id",),
))

_register(Contract(
    feed="shipments",
    scope=SUPPLIER,
    description="Shipment status records: one when a shipment leaves (in transit), one when it arrives.",
    fields=(
        Field("shipment_id", STRING, "Shipment (advance shipping notice) number"),
        Field("supplier_id", STRING, "Supplier"),
        Field("location_id", STRING, "Ship-from location"),
        Field("plant_id", STRING, "Ship-to plant"),
        Field("part_id", STRING, "Part shipped"),
        Field("status", STRING, "in_transit or delivered", allowed=SHIPMENT_STATUS),
        Field("updated_at", TIMESTAMP, "When this status was recorded (UTC)"),
        Field("ordered_qty", INT64, "Quantity ordered", min=0, max=BIG),
        Field("delivered_qty", INT64, "Quantity delivered (null while in transit, or when the export does not say: "
              "in-full is then unknown)", required=False, min=0, max=BIG),
        Field("shipped_at", TIMESTAMP, "When it left the location (UTC); null where the export does not say "
              "(lead times are then unknown)", required=False),
        Field("promised_at", TIMESTAMP, "Promised delivery time (UTC)"),
        Field("eta", TIMESTAMP, "Expected arrival (UTC) while in transit", required=False),
        Field("delivered_at", TIMESTAMP, "Actual delivery time (UTC), null while in transit", required=False),
        Field("transport_mode", STRING, "road, rail, sea or air (null: not recorded)", allowed=TRANSPORT_MODES,
              required=False),
        Field("freight_cost_eur", FLOAT64, "Freight cost (null: not known, e.g. included in the goods' price)",
              unit="EUR", min=0, max=BIG, required=False),
        Field("premium_freight", BOOL, "Expedited at extra cost to make up for lateness (null: not recorded)",
              required=False),
    ),
    natural_key=("shipment_id", "status"),
    event_time="updated_at",
    references=(("supplier_id", "suppliers"), ("location_id", "supplier_locations"), ("plant_id", "plants"),
                ("part_id", "parts")),
    rules=(
        _le("promised_after_shipped", "promised_at >= shipped_at", "shipped_at", "promised_at"),
        _le("delivered_after_shipped", "delivered_at >= shipped_at", "shipped_at", "delivered_at"),
        Rule("delivered_has_time", "a delivered shipment has delivered_at",
             lambda: (pl.col("status") != "delivered") | pl.col("delivered_at").is_not_null()),
    ),
))

_register(Contract(
    feed="inspections",
    scope=SUPPLIER,
    description="Incoming quality inspections of delivered lots.",
    fields=(
        Field("inspection_id", STRING, "Inspection identifier"),
        Field("shipment_id", STRING, "Shipment the lot arrived with"),
        Field("lot_id", STRING, "Lot number"),
        Field("supplier_id", STRING, "Supplier"),
        Field("plant_id", STRING, "Inspecting plant"),
        Field("part_id", STRING, "Part"),
        Field("inspected_at", TIMESTAMP, "When the lot was inspected (UTC)"),
        Field("inspected_qty", INT64, "Units inspected", min=0, max=BIG),
        Field("defective_qty", INT64, "Units found defective", min=0, max=BIG),
    ),
    natural_key=("inspection_id",),
    event_time="inspected_at",
    references=(("supplier_id", "suppliers"), ("plant_id", "plants"), ("part_id", "parts")),
    rules=(_le("defective_le_inspected", "defective_qty <= inspected_qty", "defective_qty", "inspected_qty"),),
))


PLANT_FEEDS = tuple(c.feed for c in CONTRACTS.values() if c.scope == PLANT)
SUPPLIER_FEEDS = tuple(c.feed for c in CONTRACTS.values() if c.scope == SUPPLIER)
#: Plant master feeds a supplier drop can carry rows of: the ship-to plants its feeds reference, which its
#: mapping declares or derives (landed into those plants' slices).
SHIP_TO_MASTERS = frozenset(master for feed in SUPPLIER_FEEDS for _, master in CONTRACTS[feed].references
                            if CONTRACTS[master].scope == PLANT)


def contract(feed: str) -> Contract:
    try:
        return CONTRACTS[feed]
    except KeyError:
        raise KeyError(f"unknown feed {feed!r}; feeds are {', '.join(CONTRACTS)}") from None


def _row_of_a_drop(what: str) -> tuple[Column, ...]:
    """The columns naming a row of a drop (its drop, feed, file and row) in the tables about rows."""
    return (
        col("date", DATE, "Date of the drop", nullable=False),
        col("plant_id", STRING, "Plant of the drop, or 'suppliers' for the supplier drop", nullable=False),
        col("feed", STRING, what, nullable=False),
        col("drop_id", STRING, "Drop folder, e.g. plant=DE01/date=2026-01-05", nullable=False),
        col("_source_file", STRING, "Landing-zone file the row came from", nullable=False),
        col("_source_row", INT64, "Data row number in that file (1 = first row after the header)", nullable=False),
    )


def _stamped(what: str) -> tuple[Column, ...]:
    return (col("_ingested_at", TIMESTAMP, f"When the row was {what}", nullable=False),
            col("_run_id", STRING, f"Run that {what} it", nullable=False))


QUARANTINE = TableSpec(
    name="bronze.quarantine",
    description="Rows that broke their feed's contract: the raw line, the rule it broke and why, by drop.",
    columns=(
        *_row_of_a_drop("Feed the row was meant for"),
        col("rule", STRING, "Rule broken: type, unit, nan, required, range, allowed, rule:<name>, in_date, "
            "reference, duplicate, unknown_column, missing_column, malformed (a row breaking several rules has a "
            "row per rule)", nullable=False),
        col("reason", STRING, "What was wrong, naming the column and value (several columns breaking one rule: "
            "'; '-separated)", nullable=False),
        col("raw_line", STRING, "The row as delivered (CSV/JSON line, or the Parquet row as JSON)"),
        *_stamped("quarantined"),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id", "feed", "_source_file", "_source_row", "rule"),
)

NULLED_VALUES = TableSpec(
    name="bronze.nulled_values",
    description="Values a mapping turned into null on purpose (``unparsable: null``: free text in a number or "
    "date column), with the value as delivered and why: the row landed, the value is unknown.",
    columns=(
        *_row_of_a_drop("Feed of the row"),
        col("column", STRING, "Contract column left null", nullable=False),
        col("value", STRING, "The value as delivered", nullable=False),
        col("reason", STRING, "Why it is null, naming the source header and the type it is not", nullable=False),
        *_stamped("landed"),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id", "feed", "_source_file", "_source_row", "column"),
)

#: Bronze tables published to the catalog (entry point ``plantlake.tables``).
BRONZE_TABLES = [c.bronze for c in CONTRACTS.values()] + [QUARANTINE, NULLED_VALUES]


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e9 else f"{value:.0e}"


def _bounds(f: Field) -> str:
    unit = f" {f.unit}" if f.unit else ""
    low = _number(f.min) if f.min is not None else "-inf"
    high = _number(f.max) if f.max is not None else "inf"
    return f"`{f.name}` {low}..{high}{unit}"


def markdown() -> str:
    """The table of feed contracts (docs/reference/contracts.md): what the catalog's column lists do not say."""
    lines = [
        "| feed | drop | natural key | on the drop's date | ranges | allowed values | cross-column rules "
        "| references |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in CONTRACTS.values():
        drop = ("plant" if c.scope == PLANT else "supplier") + (" (master)" if c.master else "")
        ranges = "; ".join([_bounds(f) for f in c.fields if f.min is not None or f.max is not None]
                           + (["`readings`: each sensor's expected range (`silver.dim_sensor`)"] if c.readings else []))
        allowed = "; ".join(f"`{f.name}`: {', '.join(f.allowed)}" for f in c.fields if f.allowed)
        if c.feed == "plants":
            allowed = "; ".join(filter(None, [allowed, "`timezone`: an IANA time zone"]))
        rules = "; ".join(f"`{r.name}`: {r.description}" for r in c.rules)
        refs = "; ".join(f"`{column}` -> {master}" for column, master in c.references)
        lines.append(
            f"| `{c.feed}` | {drop} | {', '.join(f'`{k}`' for k in c.natural_key)} "
            f"| {f'`{c.event_time}`' if c.event_time else ''} | {ranges} | {allowed} | {rules} | {refs} |"
        )
    return "\n".join(lines) + "\n"
