"""Columns of named values (:data:`lakehouse.catalog.NAMED_VALUES`, a map of name -> number), to and from
one column per name.

A table that must hold whatever names its rows bring (a reading's sensors, a training row's
sensor features) stores them in one map column; code that computes with them wants a column
per name. Both directions are vectorised (numpy offsets and masks, no Python loop per value),
so a night of per-minute readings converts in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import NAMED_VALUES


def pack(columns: Mapping[str, np.ndarray], rows: int) -> pa.MapArray:
    """One map per row from equally long float columns: each name with its value, NaN left out, in column order."""
    if not columns:
        return pa.array([[]] * rows, type=NAMED_VALUES)
    values = np.column_stack([np.asarray(v, dtype=np.float64) for v in columns.values()])
    present = ~np.isnan(values)
    offsets = np.zeros(rows + 1, dtype=np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    which = np.broadcast_to(np.arange(len(columns), dtype=np.int32), values.shape)[present]
    names = pa.array(list(columns), pa.string()).take(pa.array(which))
    return pa.MapArray.from_arrays(pa.array(offsets), names, pa.array(values[present], pa.float64()))


def unpack(column: pa.Array | pa.ChunkedArray) -> dict[str, np.ndarray]:
    """A map column as one float column per name it holds (sorted by name; NaN where a row lacks the name)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(array)
    if rows == 0:
        return {}
    offsets = array.offsets.to_numpy()  # absolute offsets into the (unsliced) keys and items; a null map: none
    lengths = np.diff(offsets)
    first, count = int(offsets[0]), int(offsets[-1] - offsets[0])
    keys = array.keys.slice(first, count)
    values = array.items.slice(first, count).to_numpy(zero_copy_only=False).astype(np.float64)
    order = sorted(pc.unique(keys).to_pylist())
    if not order:
        return {}
    index = pc.index_in(keys, pa.array(order, pa.string())).to_numpy(zero_copy_only=False)
    row = np.repeat(np.arange(rows), lengths)
    wide = np.full((rows, len(order)), np.nan)
    wide[row, index] = values
    return {name: wide[:, i] for i, name in enumerate(order)}
