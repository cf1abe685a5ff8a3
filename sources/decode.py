"""Decoding a landed file into rows of source values, keeping each row's raw line.

Files arrive as CSV (any delimiter and encoding a dialect describes), JSON lines or
Parquet, optionally gzipped, with or without a UTF-8 byte-order mark, with LF, CRLF or
CR-only line endings. This module turns the bytes into a Polars frame of the source
columns (strings for CSV and JSON lines: typing is the contract's job, so nothing is
guessed here) and remembers, per data row, where its line is, so that a quarantined row
keeps its text as delivered.

Rows are found with numpy on the bytes (newlines outside quotes), which is what lets a
night of per-minute telemetry (a million rows) decode in about a second. A row whose
field count differs from the header's, or a JSON line that is not an object, is
``malformed``: it is kept aside with its line, never parsed, and never lost.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sources.mapping import WHITESPACE, Dialect

GZ = ".gz"
BOM = b"\xef\xbb\xbf"
QUOTE = ord('"')
#: A whitespace-delimited file's runs of spaces and tabs become this byte before parsing (no text holds it).
SEPARATOR = "\x1f"
_RUNS = re.compile(rb"[ \t]+")
_EDGES = re.compile(rb"(?:^|(?<=[\r\n]))\x1f|\x1f(?=[\r\n]|$)")
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet",
               ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class FileProblem(ValueError):
    """A file that cannot be read as a whole; the message says why (the caller names the file)."""


@dataclass
class Decoded:
    """A decoded file: source columns per well-formed row, and every data row's raw line."""

    format: str
    frame: pl.DataFrame  # source columns as delivered, one row per well-formed data row
    rows: np.ndarray  # 0-based data-row number of each frame row
    n_rows: int  # data rows found (well-formed and malformed)
    malformed: dict[int, str] = field(default_factory=dict)  # data-row number -> why it has no fields
    raw: Callable[[Sequence[int]], list[str]] = lambda rows: [None] * len(rows)

    @property
    def headers(self) -> list[str]:
        return self.frame.columns


def file_format(name: str, dialect: Dialect) -> str:
    """csv, parquet or jsonl: the dialect's ``format``, else the file extension (``.gz`` aside)."""
    if dialect.format:
        return dialect.format
    base = name[: -len(GZ)] if name.endswith(GZ) else name
    ext = "." + base.rsplit(".", 1)[-1].lower() if "." in base else ""
    try:
        return _EXTENSIONS[ext]
    except KeyError:
        raise FileProblem(f"cannot tell the format of {name!r} (extension {ext or 'none'}); "
                          "set dialect.format in the mapping") from None


def decompress(name: str, data: bytes) -> bytes:
    """The file's content: gunzipped when its name ends in ``.gz``; a truncated or corrupt gzip is a problem."""
    if not name.endswith(GZ):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise FileProblem(f"truncated or corrupt gzip: {exc}") from None


def transcode(data: bytes, encoding: str) -> bytes:
    """UTF-8 without byte-order mark. A UTF-8 BOM wins over the dialect's encoding (it says what the file is)."""
    if data.startswith(BOM):
        data, encoding = data[len(BOM):], "utf-8"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileProblem(f"not valid {encoding} at byte {exc.start}: {data[exc.start:exc.start + 8]!r}") from None
    return data if encoding.replace("-", "").replace("_", "").lower() == "utf8" else text.encode("utf-8")


def ascii_compatible(encoding: str) -> bool:
    """True when newlines, quotes and delimiters are the same bytes as in ASCII (utf-8, latin-1, cp1252...)."""
    probe = "\r\n\",;\t|abcAZ09"
    try:
        return probe.encode(encoding) == probe.encode("ascii")
    except (LookupError, UnicodeEncodeError):
        return False


def split_lines(buf: bytes, quote: int | None = QUOTE) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the non-blank lines of ``buf`` (LF, CRLF or CR-only endings).

    With ``quote``, a newline inside a quoted field does not end the line (RFC 4180: a
    doubled quote inside a field keeps the quote count even). Ends exclude the line ending.
    """
    arr = np.frombuffer(buf, dtype=np.uint8)
    n = arr.size
    breaks = np.flatnonzero(arr == 10)
    if b"\r" in buf:
        cr = np.flatnonzero(arr == 13)
        following = np.minimum(cr + 1, max(n - 1, 0))
        bare = cr[(cr + 1 >= n) | (arr[following] != 10)]  # a CR not followed by LF ends a line by itself
        breaks = np.union1d(breaks, bare)
    if quote is not None and bytes([quote]) in buf:
        quotes = np.flatnonzero(arr == quote)
        breaks = breaks[np.searchsorted(quotes, breaks) % 2 == 0]
    starts = np.concatenate(([0], breaks + 1)).astype(np.int64)
    ends = np.concatenate((breaks, [n])).astype(np.int64)
    if b"\r" in buf:  # a CRLF line ends before its CR
        last = np.clip(ends - 1, 0, max(n - 1, 0))
        ends = np.where((ends > starts) & (ends < n) & (arr[last] == 13), ends - 1, ends)
    keep = ends > starts
    return starts[keep], ends[keep]


def field_counts(buf: bytes, starts: np.ndarray, ends: np.ndarray, delimiter: str) -> np.ndarray:
    """Fields per line: delimiters outside quotes, plus one."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    delims = np.flatnonzero(arr == ord(delimiter))
    if b'"' in buf:
        quotes = np.flatnonzero(arr == ord('"'))
        delims = delims[np.searchsorted(quotes, delims) % 2 == 0]
    return np.searchsorted(delims, ends) - np.searchsorted(delims, starts) + 1


def _line_reader(buf: bytes, starts: np.ndarray | None = None, ends: np.ndarray | None = None,
                 skip: int = 0, quote: int | None = QUOTE) -> Callable[[Sequence[int]], list[str]]:
    """Raw lines by data-row number; line offsets are found on first use when not given (most files need none)."""
    spans: dict[str, np.ndarray] = {}
    if starts is not None:
        spans.update(starts=starts, ends=ends)

    def raw(rows: Sequence[int]) -> list[str]:
        if len(rows) == 0:
            return []
        if not spans:
            s, e = split_lines(buf, quote)
            spans.update(starts=s[skip:], ends=e[skip:])
        picked = zip(spans["starts"][rows].tolist(), spans["ends"][rows].tolist(), strict=True)
        return [buf[s:e].decode("utf-8", "replace") for s, e in picked]

    return raw


def _joined(buf: bytes, starts: np.ndarray, ends: np.ndarray) -> bytes:
    return b"\n".join(buf[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)) + b"\n"


def _header(buf: bytes, delimiter: str) -> tuple[str, list[str]]:
    first = buf.lstrip(b"\r\n").split(b"\n", 1)[0].split(b"\r", 1)[0]
    if not first.strip():
        raise FileProblem("no header line (the file is blank)")
    text = first.decode("utf-8")
    header = [h.strip() for h in next(csv.reader([text], delimiter=delimiter))]
    repeated = {h for h in header if header.count(h) > 1}
    if repeated:
        raise FileProblem(f"header names {', '.join(sorted(repeated))} more than once")
    return text, header


def _read_csv(body: bytes, dialect: Dialect) -> pl.DataFrame:
    return pl.read_csv(body, has_header=True, separator=dialect.delimiter, quote_char='"', infer_schema=False,
                       empty_string_is_null=False, raise_if_empty=False)


def _csv_fast(buf: bytes, header: list[str], dialect: Dialect) -> Decoded | None:
    """Plain files (LF endings, no blank line, no quotes): Polars alone finds the rows.

    Polars refuses a row with too many fields; a file without quotes has no short row
    exactly when its delimiter count is (fields - 1) per line. Anything else takes the
    careful path."""
    if not _plain(buf) or b'"' in buf:
        return None
    lines = buf.count(b"\n") + (0 if buf.endswith(b"\n") else 1)
    if buf.count(dialect.delimiter.encode()) != lines * (len(header) - 1):
        return None
    try:
        frame = _read_csv(buf, dialect)
    except pl.exceptions.PolarsError:
        return None
    if frame.height != lines - 1 or frame.width != len(header):
        return None
    frame.columns = header
    return Decoded("csv", frame, np.arange(frame.height, dtype=np.int64), frame.height, {},
                   _line_reader(buf, skip=1))


def _whitespace(buf: bytes) -> bytes:
    """Runs of spaces and tabs as one :data:`SEPARATOR`, those at a line's start or end removed (a line of
    spaces is blank). Fields of a whitespace-delimited file cannot hold spaces, so there is no quoting."""
    return _EDGES.sub(b"", _RUNS.sub(SEPARATOR.encode(), buf))


def _positions(buf: bytes, delimiter: str) -> bytes:
    """A header line naming a headerless file's columns by position (1 = the first), as many as most lines
    have fields (a line with another count is ``malformed``)."""
    starts, ends = split_lines(buf)
    if not starts.size:
        raise FileProblem("no data line (the file is blank)")
    counts = field_counts(buf, starts, ends, delimiter)
    width = int(np.bincount(counts).argmax())
    return delimiter.join(str(i) for i in range(1, width + 1)).encode() + b"\n"


def data_lines(buf: bytes, dialect: Dialect) -> tuple[np.ndarray, np.ndarray, tuple[int, int] | None]:
    """Offsets of a CSV file's data lines as delivered, and its header line's (None: a headerless file).

    Blank lines are not rows, nor, in a whitespace-delimited file, lines of spaces: the rows the
    decoder finds, in the same order (the importer copies exactly these lines)."""
    starts, ends = split_lines(buf)
    if dialect.delimiter == WHITESPACE and starts.size:
        spaces = np.array([not buf[a:b].strip(b" \t") for a, b in zip(starts.tolist(), ends.tolist(), strict=True)])
        starts, ends = starts[~spaces], ends[~spaces]
    if dialect.header and starts.size:
        return starts[1:], ends[1:], (int(starts[0]), int(ends[0]))
    return starts, ends, None


def _csv(data: bytes, dialect: Dialect) -> Decoded:
    buf = transcode(data, dialect.encoding)
    if dialect.delimiter == WHITESPACE or not dialect.header:
        return _reshaped(buf, dialect)
    return _delimited(buf, dialect)


def _reshaped(delivered: bytes, dialect: Dialect) -> Decoded:
    """A whitespace-delimited or headerless file: read as a plain one (a single separator, a header of
    positions), its rows' lines kept as delivered for quarantine reasons."""
    buf, plain = delivered, dialect
    if dialect.delimiter == WHITESPACE:
        buf = _whitespace(buf)
        plain = plain.model_copy(update={"delimiter": SEPARATOR})
    if not dialect.header:
        buf = _positions(buf, plain.delimiter) + buf
    decoded = _delimited(buf, plain.model_copy(update={"header": True}))
    starts, ends, _ = data_lines(delivered, dialect)
    decoded.raw = _line_reader(delivered, starts, ends)
    if not dialect.header:
        decoded.malformed = {row: why.replace("the header has", "most lines have")
                             for row, why in decoded.malformed.items()}
    return decoded


def _delimited(buf: bytes, dialect: Dialect) -> Decoded:
    header_text, header = _header(buf, dialect.delimiter)
    fast = _csv_fast(buf, header, dialect)
    if fast is not None:
        return fast
    starts, ends = split_lines(buf)
    starts, ends = starts[1:], ends[1:]
    counts = field_counts(buf, starts, ends, dialect.delimiter)
    good = np.flatnonzero(counts == len(header))
    malformed = {int(i): f"row has {counts[i]} fields, the header has {len(header)}" for i in
                 np.flatnonzero(counts != len(header))}
    if good.size == 0:
        frame = pl.DataFrame({h: pl.Series([], dtype=pl.String) for h in header})
    else:
        body = header_text.encode("utf-8") + b"\n" + _joined(buf, starts[good], ends[good])
        try:
            frame = _read_csv(body, dialect)
        except pl.exceptions.PolarsError as exc:
            raise FileProblem(f"cannot be parsed as CSV with delimiter {dialect.delimiter!r}: {exc}") from None
        if frame.width != len(header) or frame.height != good.size:
            raise FileProblem(f"cannot be split into rows consistently: {frame.height} rows parsed, "
                              f"{good.size} lines with {len(header)} fields")
        frame.columns = header
    return Decoded("csv", frame, good, int(starts.size), malformed, _line_reader(buf, starts, ends))


def _json_text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def _plain(buf: bytes) -> bool:
    """LF line endings and no blank line: every line is a row, Polars can read the bytes as they are."""
    return b"\r" not in buf and b"\n\n" not in buf and not buf.startswith(b"\n")


def _as_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """JSON values as text: numbers and booleans as Polars prints them, objects and arrays as JSON."""
    columns = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String:
            columns.append(pl.col(name))
        elif isinstance(dtype, pl.Struct):
            columns.append(pl.col(name).struct.json_encode())
        elif isinstance(dtype, pl.List):
            columns.append(pl.col(name).map_elements(lambda v: json.dumps(v.to_list()), return_dtype=pl.String))
        else:
            columns.append(pl.col(name).cast(pl.String))
    return frame.select(columns)


def _jsonl(data: bytes, dialect: Dialect) -> Decoded:
    buf = transcode(data, dialect.encoding)
    if _plain(buf):
        n_rows = buf.count(b"\n") + (0 if buf.endswith(b"\n") else 1)
        body, raw = buf, _line_reader(buf, quote=None)
    else:
        starts, ends = split_lines(buf, quote=None)  # JSON strings cannot hold a raw newline
        n_rows = int(starts.size)
        body, raw = (_joined(buf, starts, ends) if n_rows else b""), _line_reader(buf, starts, ends)
    try:
        frame = _as_text_columns(pl.read_ndjson(body, infer_schema_length=None)) if n_rows else pl.DataFrame()
        if frame.height != n_rows:
            raise ValueError("row count differs")
        return Decoded("jsonl", frame, np.arange(n_rows), n_rows, {}, raw)
    except (pl.exceptions.PolarsError, ValueError):
        pass  # mixed types in a key, an invalid line, or a line that is not an object: go line by line
    records: list[dict] = []
    good: list[int] = []
    malformed: dict[int, str] = {}
    for i, line in enumerate(raw(np.arange(n_rows))):
        try:
            value = json.loads(line)
        except ValueError as exc:
            malformed[i] = f"not valid JSON: {exc}"
            continue
        if not isinstance(value, dict):
            malformed[i] = f"not a JSON object but {type(value).__name__}"
            continue
        records.append(value)
        good.append(i)
    keys = list(dict.fromkeys(k for r in records for k in r))
    frame = pl.DataFrame({k: pl.Series([_json_text(r.get(k)) for r in records], dtype=pl.String) for k in keys})
    return Decoded("jsonl", frame, np.asarray(good, dtype=np.int64), n_rows, malformed, raw)


def _parquet(data: bytes, _dialect: Dialect) -> Decoded:
    """Parquet carries its own types: its columns are taken as they are, typed later by the contract."""
    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise FileProblem(f"not a readable Parquet file: {exc}") from None

    def raw(rows: Sequence[int]) -> list[str]:
        picked = table.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()
        return [json.dumps(r, default=str, ensure_ascii=False) for r in picked]

    try:
        frame = pl.from_arrow(table, rechunk=False)
    except (pl.exceptions.PolarsError, pa.ArrowException, TypeError) as exc:
        raise FileProblem(f"Parquet columns of unsupported types: {exc}") from None
    return Decoded("parquet", frame, np.arange(table.num_rows), table.num_rows, {}, raw)


_DECODERS = {"csv": _csv, "jsonl": _jsonl, "parquet": _parquet}


def decode(name: str, data: bytes, dialect: Dialect) -> Decoded:
    """Decode one file (its name tells ``.gz`` and, without ``dialect.format``, the format)."""
    if not data:
        raise FileProblem("empty file (0 bytes)")
    fmt = file_format(name, dialect)
    content = decompress(name, data)
    if not content:
        raise FileProblem("empty file (0 bytes after gunzip)")
    return _DECODERS[fmt](content, dialect)
