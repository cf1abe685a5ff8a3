"""Writing one drop: its files through :class:`~sources.landing.DropWriter`, a fault if the drop
was chosen for one, and the manifest last.

The manifest's ``created_at`` is derived from the drop's date (02:00 UTC the next
morning, plus a minute per revision), so a drop written twice is byte-identical down to
its manifest; files a resend no longer has are removed before the new manifest appears.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gzip
import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs

from lakehouse import storage
from sources.landing import MANIFEST, DropRef, DropWriter, Manifest
from sources.mapping import Mapping
from sources.simulator import faults, tables
from sources.simulator.config import SimulationConfig
from sources.simulator.formats import (
    BOM,
    GZIP_LEVEL,
    ParquetSink,
    Stream,
    TextEncoder,
    decoded,
    file_name,
    gzip_stream,
)
from sources.simulator.seeds import rng


@dataclass
class FeedData:
    """A feed to write: its rows as chunks (one table for small feeds) and how many there are."""

    feed: str
    chunks: Callable[[], Iterator[pa.Table]]
    rows: int

    @classmethod
    def of(cls, feed: str, table: pa.Table) -> FeedData:
        return cls(feed, lambda: iter([table]), table.num_rows)


@dataclass
class DropResult:
    ref: DropRef
    manifest: Manifest
    fault: faults.Fault | None

    @property
    def rows(self) -> dict[str, int]:
        return {f.feed: f.rows for f in self.manifest.files}

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.manifest.files)


def created_at(date: dt.date, revision: int) -> str:
    when = dt.datetime.combine(date + dt.timedelta(days=1), dt.time(2, 0), dt.UTC) + dt.timedelta(minutes=revision)
    return when.isoformat(timespec="seconds")


def write(config: SimulationConfig, ref: DropRef, mapping: Mapping, feeds: list[FeedData], *,
          timezone: str | None, fault: str | None, revision: int) -> DropResult:
    """Write a drop (a resend if it exists) and return its manifest and injected fault."""
    writer = DropWriter(config.landing, ref, mapping.name, config.settings, created_at=created_at(ref.date, revision))
    writer.__enter__()  # drops the old manifest first: a rewritten drop is incomplete until the new one lands
    injection = None
    if fault:
        r = rng(config.seed, "fault", ref.drop_id)
        target = faults.choose_feed(fault, ref.scope, {f.feed: f.rows for f in feeds}, config.format, r)
        injection = faults.Injection(fault, target, None if ref.source == "suppliers" else ref.source, r)
    fault_file = ""
    for data in feeds:
        inj = injection if injection and injection.feed == data.feed else None
        if config.format == "jsonl" and data.rows == 0 and inj is None:
            continue  # an empty JSON-lines file would be a 0-byte file: a feed without rows is left out
        name = _write_file(writer, config, mapping, data, inj, timezone)
        if inj:
            fault_file = name
    _remove_stale(writer)
    manifest = writer.manifest()
    if fault in ("manifest_row_mismatch", "manifest_checksum_mismatch", "path_traversal"):
        manifest = _broken_manifest(manifest, fault, fault_file)
    if fault != "missing_manifest":
        writer.write_manifest(manifest)
    found = faults.Fault(ref.drop_id, fault_file if fault != "missing_manifest" else MANIFEST, fault,
                         injection.rows) if fault else None
    return DropResult(ref, manifest, found)


def _write_file(writer: DropWriter, config: SimulationConfig, mapping: Mapping, data: FeedData,
                inj: faults.Injection | None, timezone: str | None) -> str:
    kind = inj.kind if inj else None
    fmt = "csv" if kind in faults.TEXT_KINDS and config.format == "parquet" else config.format
    gz = config.gzip and fmt != "parquet"  # Parquet compresses inside (gzip codec with --gzip)
    if kind == "truncated_gzip":
        body = io.BytesIO()  # a small file: compressed whole, then cut
        rows = _render(body, config, fmt, mapping, data, inj, timezone)
        packed = gzip.compress(body.getvalue(), compresslevel=GZIP_LEVEL, mtime=0)
        name = file_name(mapping, data.feed, fmt, gz=True)
        writer.write(name, data.feed, packed[: max(10, len(packed) * 6 // 10)], rows)
        return name
    name = file_name(mapping, data.feed, fmt, gz)
    with writer.open(name, data.feed) as out:
        if kind == "empty_file":
            out.rows = 0
            return name
        sink = gzip_stream(out) if gz else Stream(out)
        out.rows = _render(sink, config, fmt, mapping, data, inj, timezone)
        if gz:
            sink.close()
    return name


def _render(stream, config: SimulationConfig, fmt: str, mapping: Mapping, data: FeedData,
            inj: faults.Injection | None, timezone: str | None) -> int:
    """Write the feed's rows to ``stream`` in ``fmt``; returns the data rows written."""
    rows = 0
    chunks = data.chunks()
    if fmt == "parquet":
        first = next(chunks, tables.empty(data.feed))
        if inj:
            first = inj.on_table(decoded(first), fmt)
        sink = ParquetSink(stream, _parquet_schema(data.feed, first, inj), config.gzip)
        for chunk in _chain(first, chunks):
            sink.write(chunk)
            rows += chunk.num_rows
        sink.close()
        return rows
    encoder = TextEncoder(mapping, data.feed, fmt, timezone)
    eol = "\r" if inj and inj.kind == "cr_line_endings" else "\n"
    if inj and inj.kind == "bom":
        stream.write(BOM)
    first = next(chunks, tables.empty(data.feed))
    if inj:
        first = inj.on_table(decoded(first), fmt)
    stream.write(encoder.header_bytes(first.column_names, eol))
    for i, chunk in enumerate(_chain(first, chunks)):
        cells = encoder.cells(chunk)
        if i == 0 and inj:
            cells = inj.on_cells(cells, encoder.text)
        stream.write(encoder.lines(cells, eol))
        rows += chunk.num_rows
    return rows


def _chain(first: pa.Table, rest: Iterator[pa.Table]) -> Iterator[pa.Table]:
    yield first
    yield from rest


def _parquet_schema(feed: str, first: pa.Table, inj: faults.Injection | None) -> pa.Schema:
    """The contract's types; a fault may have nulled a required column, added or removed one."""
    contract_schema = tables.schema(feed, nullable_all=False)
    fields = []
    for name in first.column_names:
        if name in contract_schema.names:
            f = contract_schema.field(name)
            fields.append(f.with_nullable(True) if inj and inj.nulled == name else f)
        else:
            fields.append(first.schema.field(name))
    return pa.schema(fields)


def _broken_manifest(manifest: Manifest, kind: str, name: str) -> Manifest:
    files = []
    for f in manifest.files:
        if f.path == name:
            if kind == "manifest_row_mismatch":
                f = dataclasses.replace(f, rows=f.rows + 1)
            elif kind == "manifest_checksum_mismatch":
                f = dataclasses.replace(f, sha256=hashlib.sha256(f"{f.sha256}:tampered".encode()).hexdigest())
            else:
                f = dataclasses.replace(f, path=f"../{f.path}")
        files.append(f)
    return dataclasses.replace(manifest, files=tuple(files))


def _remove_stale(writer: DropWriter) -> None:
    """Delete files of an earlier version of the drop that this version does not have."""
    keep = {f.path for f in writer.files} | {MANIFEST}
    fs, root = storage.filesystem(writer.uri, writer.settings)
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    for info in fs.get_file_info(selector):
        if info.type == pafs.FileType.File and info.path[len(root):].lstrip("/") not in keep:
            fs.delete_file(info.path)
