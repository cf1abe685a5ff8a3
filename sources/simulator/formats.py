"""Writing feeds as files: CSV in any mapping's dialect, JSON lines, Parquet.

CSV and JSON lines are rendered column by column with Arrow compute (every value
becomes its text once, then lines are joined), so a chunk of a million readings costs
a few vector operations. Text cells are the point where faults can be injected
(``#VALUE!`` in a number column, an impossible date). Parquet files carry the contract's
types exactly and are cut into fixed-size row groups, so the chunking of the input never
shows in the bytes.
"""

from __future__ import annotations

import gzip
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sources.contracts import TIMESTAMP, contract
from sources.mapping import Mapping

EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}
ROW_GROUP_ROWS = 262_144
GZIP_LEVEL = 6
BOM = b"\xef\xbb\xbf"


def file_name(mapping: Mapping, feed: str, fmt: str, gz: bool) -> str:
    """The file a feed is written to: the mapping's name pattern with the format's extension."""
    pattern = mapping.feeds[feed].file
    name = pattern.replace("*", EXTENSIONS[fmt]) if "*" in pattern else pattern
    return f"{name}.gz" if gz else name


def decoded(table: pa.Table) -> pa.Table:
    """Dictionary-encoded columns as plain arrays of their value type."""
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.Table.from_arrays(columns, names=table.column_names)


def concat_lines(lines: pa.Array) -> bytes:
    """The bytes of a string array without nulls, values back to back."""
    lines = pa.concat_arrays([lines]) if lines.offset else lines
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1)
    return lines.buffers()[2][int(offsets[0]): int(offsets[-1])].to_pybytes()


class Stream:
    """A file-like view of a drop file's stream, for gzip and the Parquet writer."""

    closed = False

    def __init__(self, out):
        self.out = out

    def write(self, data) -> int:
        return self.out.write(bytes(data))

    def flush(self) -> None:
        pass


class TextEncoder:
    """Renders typed tables of a feed as CSV (the mapping's dialect) or JSON lines."""

    def __init__(self, mapping: Mapping, feed: str, fmt: str, plant_timezone: str | None):
        self.mapping, self.feed, self.fmt = mapping, feed, fmt
        self.dialect = mapping.dialect_for(feed)
        tz = self.dialect.timezone
        self.timezone = plant_timezone if tz == "plant" else tz
        if fmt == "csv" and self.dialect.timestamp_format == "iso" and self.timezone != "UTC":
            raise ValueError(f"{mapping.name}: the simulator writes ISO timestamps in UTC only")
        self.contract_columns = set(contract(feed).names)
        self.sensor_headers = {s.sensor: header for header, s in mapping.sensor_maps(feed).items()}

    def header(self, column: str) -> str:
        """The file's header for a column (a sensor's as the mapping declares it; others keep their name)."""
        if column in self.contract_columns:
            return self.mapping.source_header(self.feed, column)
        return self.sensor_headers.get(column, column)

    # -- cells ------------------------------------------------------------------------------------
    def cells(self, table: pa.Table) -> pa.Table:
        """Every value as its text in the file (null stays null: empty in CSV, ``null`` in JSON)."""
        return pa.Table.from_arrays([self._cell(c) for c in table.columns], names=table.column_names)

    def _cell(self, column: pa.ChunkedArray | pa.Array) -> pa.Array:
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_dictionary(array.type):
            return self._cell(array.dictionary).take(array.indices)
        t = array.type
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            text = self._time_text(array)
            return self._quoted(text) if self.fmt == "jsonl" else text
        if pa.types.is_boolean(t):
            if self.fmt == "jsonl":
                return pc.if_else(array, "true", "false")
            return pc.if_else(array, self.dialect.true_tokens[0], self.dialect.false_tokens[0])
        if pa.types.is_floating(t):
            text = array.cast(pa.string())
            if self.fmt == "jsonl":  # JSON has no NaN or Infinity: 1e999 reads back as infinity
                text = pc.replace_substring(pc.replace_substring(text, "inf", "1e999"), "nan", "NaN")
            elif self.dialect.decimal != ".":
                text = pc.replace_substring(text, ".", self.dialect.decimal)
            return text
        if pa.types.is_integer(t):
            return array.cast(pa.string())
        text = array.cast(pa.string())
        return self._quoted(text) if self.fmt == "jsonl" else self._csv_escaped(text)

    def _time_text(self, array: pa.Array) -> pa.Array:
        if pa.types.is_date(array.type):
            if self.dialect.date_format == "%Y-%m-%d" or self.fmt == "jsonl":
                return array.cast(pa.string())
            return pc.strftime(array, format=self.dialect.date_format)
        if self.fmt == "jsonl" or self.dialect.timestamp_format == "iso":
            return pc.strftime(array.cast(TIMESTAMP), format="%Y-%m-%dT%H:%M:00Z")
        local = array.cast(pa.timestamp("us", tz=self.timezone))
        return pc.strftime(local, format=self.dialect.timestamp_format)

    def text(self, value: str) -> str:
        """A raw value as it appears in a cell (quoted in JSON)."""
        return self._quoted(pa.array([value]))[0].as_py() if self.fmt == "jsonl" else value

    @staticmethod
    def _quoted(text: pa.Array) -> pa.Array:
        escaped = pc.replace_substring(pc.replace_substring(text, "\\", "\\\\"), '"', '\\"')
        return pc.binary_join_element_wise('"', escaped, '"', "")

    def _csv_escaped(self, text: pa.Array) -> pa.Array:
        special = pc.or_(pc.or_(pc.match_substring(text, self.dialect.delimiter), pc.match_substring(text, '"')),
                         pc.match_substring_regex(text, "[\r\n]"))
        if not pc.any(special).as_py():
            return text
        quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
        return pc.if_else(special, quoted, text)

    # -- lines ------------------------------------------------------------------------------------
    def header_bytes(self, columns: list[str], eol: str) -> bytes:
        if self.fmt != "csv":
            return b""
        return self.encode(self.dialect.delimiter.join(self.header(c) for c in columns) + eol)

    def lines(self, cells: pa.Table, eol: str) -> bytes:
        """The rows of a cell table, each ending with ``eol``, in the file's encoding."""
        if cells.num_rows == 0:
            return b""
        if self.fmt == "csv":
            parts = [c.combine_chunks() for c in cells.columns]
            joined = pc.binary_join_element_wise(*parts, self.dialect.delimiter, null_handling="replace",
                                                 null_replacement="")
        else:
            parts = []
            for name, c in zip(cells.column_names, cells.columns, strict=True):
                key = self.text(self.header(name)) + ":"
                parts.append(pc.binary_join_element_wise(key, pc.fill_null(c.combine_chunks(), "null"), ""))
            joined = pc.binary_join_element_wise("{", pc.binary_join_element_wise(*parts, ","), "}", "")
        return self.encode_bytes(concat_lines(pc.binary_join_element_wise(joined, "", eol)))

    def encode(self, text: str) -> bytes:
        return text.encode(self.dialect.encoding)

    def encode_bytes(self, utf8: bytes) -> bytes:
        if self.dialect.encoding.replace("-", "").lower() in ("utf8", "ascii") or utf8.isascii():
            return utf8
        return utf8.decode("utf-8").encode(self.dialect.encoding)


class ParquetSink:
    """Writes a feed as Parquet in row groups of a fixed size, whatever the chunks it is given."""

    def __init__(self, out, schema: pa.Schema, gz: bool):
        self.schema = schema
        self.writer = pq.ParquetWriter(pa.PythonFile(Stream(out), mode="w"), schema,
                                       compression="gzip" if gz else "snappy")
        self.pending: list[pa.Table] = []
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        self.pending.append(table.cast(self.schema))
        self.rows += table.num_rows
        buffered = sum(t.num_rows for t in self.pending)
        if buffered >= ROW_GROUP_ROWS:
            data = pa.concat_tables(self.pending)
            cut = buffered - buffered % ROW_GROUP_ROWS
            for a in range(0, cut, ROW_GROUP_ROWS):
                self.writer.write_table(data.slice(a, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
            self.pending = [data.slice(cut)] if cut < buffered else []

    def close(self) -> None:
        if self.pending or self.rows == 0:
            data = pa.concat_tables(self.pending) if self.pending else self.schema.empty_table()
            self.writer.write_table(data, row_group_size=ROW_GROUP_ROWS)
        self.writer.close()


def gzip_stream(out) -> BinaryIO:
    """A deterministic gzip stream (no name, no time in its header) over a drop file stream."""
    return gzip.GzipFile(fileobj=Stream(out), mode="wb", compresslevel=GZIP_LEVEL, mtime=0)
