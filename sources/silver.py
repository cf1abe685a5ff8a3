"""Silver tables: the feeds conformed and deduplicated, and the dimension tables.

Both derive from the feed contracts, so a column added to a contract reaches bronze and
silver without being declared twice.

* Event feeds become ``silver.<feed>``: contract columns with ``date`` (plant-local
  production date for plant feeds, UTC date for the supplier drop), ``plant_id`` for
  plant feeds, one row per natural key, and the source file kept for traceability.
* Master feeds become dimensions ``silver.dim_<name>``: the latest attributes per key
  (SCD type 1), with the first and the latest drop date that named the key. The sensor and
  component registries the mappings declare are dimensions too (``dim_sensor``, ``dim_component``).
"""

from __future__ import annotations

from lakehouse import catalog
from lakehouse.catalog import DATE, STRING, TIMESTAMP, TableSpec, col
from sources.contracts import CONTRACTS, PLANT, Contract

DIMENSIONS = {
    "plants": "dim_plant",
    "lines": "dim_line",
    "machines": "dim_machine",
    "sensors": "dim_sensor",
    "components": "dim_component",
    "suppliers": "dim_supplier",
    "supplier_locations": "dim_supplier_location",
    "parts": "dim_part",
}
#: Dimensions kept per plant: each plant's mapping declares its own registry (its sensors' units and ranges).
PER_PLANT = ("sensors", "components")


def _plant_column(c: Contract):
    if c.scope == PLANT and "plant_id" not in c.names:
        return [col("plant_id", STRING, "Plant", nullable=False)]
    return []


def event_table(c: Contract) -> TableSpec:
    date_doc = "Plant-local production date" if c.scope == PLANT else "UTC date of the supplier drop"
    key = ([] if "plant_id" in c.natural_key or c.scope != PLANT else ["plant_id"]) + list(c.natural_key)
    return TableSpec(
        name=f"silver.{c.feed}",
        description=f"{c.description} Conformed: UTC times, contract units, one row per natural key.",
        columns=(
            col("date", DATE, date_doc, nullable=False),
            *_plant_column(c),
            *c.columns(),
            col("_source_file", STRING, "Landing-zone file the row came from", nullable=False),
            col("_ingested_at", TIMESTAMP, "When the row was landed", nullable=False),
        ),
        partition_by=("date",),
        natural_key=tuple(dict.fromkeys(["date", *key])),
        at_most=tuple(r.ordered for r in c.rules if r.ordered),  # the contract's ordered pairs, after dedup
        scope=catalog.PLANT if c.scope == PLANT else catalog.NETWORK,
        blocking=True,  # gold reads it
    )


def dimension_table(c: Contract) -> TableSpec:
    return TableSpec(
        name=f"silver.{DIMENSIONS[c.feed]}",
        description=f"{c.description} Latest attributes per key (type 1 dimension).",
        columns=(
            *_plant_column(c),
            *(f.column() for f in c.fields),
            col("first_seen", DATE, "First drop date that named this key", nullable=False),
            col("as_of", DATE, "Latest drop date these attributes come from", nullable=False),
        ),
        partition_by=(),
        natural_key=("plant_id", *c.natural_key) if c.feed in PER_PLANT else c.natural_key,
        blocking=True,  # gold reads it
    )


EVENT_TABLES = {feed: event_table(c) for feed, c in CONTRACTS.items() if not c.master}
DIMENSION_TABLES = {feed: dimension_table(c) for feed, c in CONTRACTS.items() if c.master}

#: Silver tables published to the catalog (entry point ``plantlake.tables``).
SILVER_TABLES = [*DIMENSION_TABLES.values(), *EVENT_TABLES.values()]
