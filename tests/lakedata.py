"""A small table spec and deterministic rows for storage tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from lakehouse.catalog import DATE, FLOAT64, INT64, STRING, TIMESTAMP, TableSpec, col

READINGS = TableSpec(
    name="silver.test_readings",
    description="Sensor readings used by the storage tests.",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("machine_id", STRING, "Machine", nullable=False),
        col("ts", TIMESTAMP, "Reading time (UTC)", nullable=False),
        col("value", FLOAT64, "Reading", unit="mm/s"),
        col("count", INT64, "A counter"),
    ),
    partition_by=("date",),
    natural_key=("plant_id", "machine_id", "ts"),
)

START = dt.date(2026, 1, 1)


def readings(day: dt.date, plants: list[str], machines: int = 3, per_machine: int = 4, seed: int = 0) -> pa.Table:
    """Rows for one date: every plant x machine x reading, values seeded."""
    rng = np.random.default_rng(seed + day.toordinal())
    rows = {"date": [], "plant_id": [], "machine_id": [], "ts": [], "value": [], "count": []}
    base = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    for plant in plants:
        for m in range(machines):
            for i in range(per_machine):
                rows["date"].append(day)
                rows["plant_id"].append(plant)
                rows["machine_id"].append(f"{plant}-M{m:03d}")
                rows["ts"].append(base + dt.timedelta(minutes=i))
                rows["value"].append(float(rng.normal(5, 1)))
                rows["count"].append(int(rng.integers(0, 100)))
    return pa.Table.from_pydict(rows, schema=READINGS.schema)


def sorted_rows(table: pa.Table) -> list[dict]:
    return table.sort_by(
        [("date", "ascending"), ("plant_id", "ascending"), ("machine_id", "ascending"), ("ts", "ascending")]
    ).to_pylist()
