"""Arrow tables typed exactly by a feed's contract (telemetry: with the simulator's sensors as columns)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from sources.contracts import FLOAT64, TIMESTAMP, contract
from sources.simulator.clock import utc_micros
from sources.simulator.sensors import SENSORS


def schema(feed: str, nullable_all: bool = True) -> pa.Schema:
    """The contract's columns and types; required columns are not-null unless ``nullable_all``. A sensor feed
    has a column per sensor of the simulator, as its exports write them (the mapping's ``sensors:``)."""
    spec = contract(feed)
    fields = [pa.field(f.name, f.type, nullable=nullable_all or not f.required) for f in spec.fields]
    return pa.schema(fields + ([pa.field(s, FLOAT64) for s in SENSORS] if spec.readings else []))


def table(feed: str, columns: dict[str, object]) -> pa.Table:
    """A table of the feed from arrays; timestamps may be given as UTC minutes (int64 arrays)."""
    arrays = []
    for field in schema(feed):
        values = columns[field.name]
        if field.type == TIMESTAMP and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
            values = pa.array(utc_micros(values), type=pa.int64()).cast(TIMESTAMP)
        arrays.append(pa.array(values, type=field.type) if not isinstance(values, pa.Array) else values)
    return pa.Table.from_arrays(arrays, schema=schema(feed))


def empty(feed: str) -> pa.Table:
    return schema(feed).empty_table()
