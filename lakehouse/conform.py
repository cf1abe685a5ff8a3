"""Check data against a table's catalog schema before a single byte is written.

Writers accept what the ecosystem hands them (pyarrow, pandas, Polars, any Arrow stream)
and cast only where nothing can be lost: ``large_string`` or dictionary strings to
``string``, narrower integers or floats to wider ones, other timestamp units to
microseconds UTC, all-null columns to the declared type. Anything else is a
:class:`SchemaMismatchError` that names every column that differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.catalog import TableSpec
from lakehouse.errors import SchemaMismatchError

ArrowData = pa.Table | pa.RecordBatchReader


def as_arrow(data: Any) -> ArrowData:
    """pyarrow Table/RecordBatchReader as they are; pandas, Polars and Arrow streams converted."""
    if isinstance(data, pa.Table | pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if module.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if module.startswith("polars"):
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    raise TypeError(f"cannot write {type(data).__name__}: pass a pyarrow Table, pandas or Polars DataFrame")


def _castable(source: pa.DataType, target: pa.DataType) -> bool:
    if source == target or pa.types.is_null(source):
        return True
    if pa.types.is_dictionary(source):
        return _castable(source.value_type, target)
    if pa.types.is_string(target):
        return pa.types.is_large_string(source) or pa.types.is_string_view(source)
    if pa.types.is_integer(target) and pa.types.is_integer(source):
        return source.bit_width <= target.bit_width and (
            pa.types.is_signed_integer(source) or source.bit_width < target.bit_width
        )
    if pa.types.is_floating(target):
        return pa.types.is_floating(source) and source.bit_width <= target.bit_width
    if pa.types.is_timestamp(target) and pa.types.is_timestamp(source):
        return source.tz is not None and source.tz.upper() in {"UTC", "+00:00", "ETC/UTC", "Z"}
    return False


def check_schema(spec: TableSpec, schema: pa.Schema) -> None:
    """Raise naming every missing, unexpected or mistyped column; return if castable."""
    declared = spec.schema
    got = {f.name: f.type for f in schema}
    missing = [n for n in declared.names if n not in got]
    extra = [n for n in got if n not in declared.names]
    wrong = [
        f"{f.name}: expected {f.type}, got {got[f.name]}"
        for f in declared
        if f.name in got and not _castable(got[f.name], f.type)
    ]
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append("missing columns " + ", ".join(missing))
        if extra:
            parts.append("unexpected columns " + ", ".join(extra))
        if wrong:
            parts.append("wrong types " + "; ".join(wrong))
        raise SchemaMismatchError(f"{spec.name}: data does not match the catalog schema: " + "; ".join(parts))


def _conform_batch(spec: TableSpec, batch: pa.RecordBatch) -> pa.RecordBatch:
    declared = spec.schema
    arrays = []
    for f in declared:
        array = batch.column(f.name)
        if array.type != f.type:
            array = pc.cast(array, f.type, safe=True)
        if not f.nullable and array.null_count:
            raise SchemaMismatchError(
                f"{spec.name}: column {f.name} is declared not null but has {array.null_count} null values"
            )
        arrays.append(array)
    return pa.RecordBatch.from_arrays(arrays, schema=declared)


RowCheck = Callable[[pa.RecordBatch], None]


def conform(spec: TableSpec, data: Any, *checks: RowCheck) -> ArrowData:
    """The data in the catalog's column order and types, with ``checks`` run on every batch.

    A Table is checked completely here; a RecordBatchReader is checked batch by batch as
    the writer consumes it (an error then aborts the write before its commit).
    """
    arrow = as_arrow(data)
    check_schema(spec, arrow.schema)

    def batches(source: Any) -> Iterator[pa.RecordBatch]:
        for batch in source:
            out = _conform_batch(spec, batch)
            for check in checks:
                check(out)
            yield out

    if isinstance(arrow, pa.Table):
        return pa.Table.from_batches(list(batches(arrow.to_batches())), schema=spec.schema)
    return pa.RecordBatchReader.from_batches(spec.schema, batches(arrow))
