"""The landing zone: drops, their manifests, and which drops are complete and not yet landed.

Layout (a folder or an S3 prefix)::

    plant=<id>/date=<YYYY-MM-DD>/<feed files>  _manifest.json
    suppliers/date=<YYYY-MM-DD>/<feed files>   _manifest.json

A drop is complete when its ``_manifest.json`` (files, row counts, sha256, the mapping
that reads them) is present; nothing reads a drop before that. Writers put the manifest
last (temporary name then rename on disk; one PUT on S3, which is atomic), and a resent
drop first loses its old manifest, so a half-rewritten drop is never complete.

Which manifests were landed or rejected is kept in ``ops.landed_drops``; a drop is
pending while its current version (the sha256 of its manifest's content: files, their
checksums and format, not the time it was written) has no outcome there. A resend with the
same content is the same version and is not landed twice; changed content is a new
version and replaces that drop's slice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs

from lakehouse import storage
from lakehouse.catalog import DATE, INT64, STRING, TIMESTAMP, TableSpec, col
from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings
from sources.contracts import PLANT, SUPPLIER

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
FAULTS = "_faults.json"
SUPPLIERS = "suppliers"
_DROP_RE = re.compile(
    r"^(?:plant=(?P<plant>[A-Za-z0-9_-]+)|(?P<suppliers>suppliers))/date=(?P<date>\d{4}-\d{2}-\d{2})$"
)

LANDED_DROPS = TableSpec(
    name="ops.landed_drops",
    description="Every complete drop the pipeline took in or refused: one row per drop and manifest version.",
    columns=(
        col("date", DATE, "Date of the drop", nullable=False),
        col("drop_id", STRING, "Drop folder, e.g. plant=DE01/date=2026-01-05", nullable=False),
        col("plant_id", STRING, "Plant of the drop, or 'suppliers' for the supplier drop", nullable=False),
        col(
            "manifest_sha256",
            STRING,
            "sha256 of the manifest's content (files, checksums, format): this version of the drop",
            nullable=False,
        ),
        col("format", STRING, "Mapping that reads the drop", nullable=False),
        col("status", STRING, "landed or rejected", nullable=False, allowed=("landed", "rejected")),
        col("reason", STRING, "Why the drop was rejected (null when landed)"),
        col("files", INT64, "Files in the manifest"),
        col("manifest_rows", INT64, "Rows the manifest announces"),
        col("bronze_rows", INT64, "Rows landed in bronze"),
        col("quarantined_rows", INT64, "Rows quarantined"),
        col("landed_at", TIMESTAMP, "When the outcome was recorded", nullable=False),
        col("run_id", STRING, "Run that recorded it", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("drop_id", "manifest_sha256"),
)

TABLES = [LANDED_DROPS]


class DropRejected(Exception):
    """A complete drop that cannot be landed as a whole; the reason names the file and the problem."""

    def __init__(self, drop_id: str, reason: str):
        super().__init__(f"{drop_id}: {reason}")
        self.drop_id = drop_id
        self.reason = reason


@dataclass(frozen=True, order=True)
class DropRef:
    """Where a drop lives: a plant's (or the suppliers') folder for one date."""

    date: dt.date
    source: str  # plant id, or "suppliers"

    @property
    def scope(self) -> str:
        return SUPPLIER if self.source == SUPPLIERS else PLANT

    @property
    def drop_id(self) -> str:
        prefix = SUPPLIERS if self.scope == SUPPLIER else f"plant={self.source}"
        return f"{prefix}/date={self.date.isoformat()}"

    @classmethod
    def parse(cls, drop_id: str) -> DropRef:
        match = _DROP_RE.match(drop_id.strip("/"))
        if not match:
            raise ValueError(f"{drop_id!r} is not a drop folder (plant=<id>/date=<D> or suppliers/date=<D>)")
        return cls(dt.date.fromisoformat(match["date"]), match["plant"] or SUPPLIERS)


@dataclass(frozen=True)
class ManifestFile:
    path: str  # relative to the drop folder
    feed: str
    rows: int
    sha256: str
    bytes: int


def check_relative(drop_id: str, path: str) -> str:
    """A file named by a manifest must lie inside its drop: no '..', no absolute path, no scheme."""
    if (
        not path
        or path.startswith(("/", "\\"))
        or "://" in path
        or "\\" in path
        or any(part in ("", ".", "..") for part in path.split("/"))
    ):
        raise DropRejected(drop_id, f"manifest names a path outside its drop: {path!r}")
    return path


@dataclass(frozen=True)
class Manifest:
    drop_id: str
    format: str
    created_at: str
    files: tuple[ManifestFile, ...]
    sha256: str = ""  # identity of this version of the drop: see content_sha256

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)

    @staticmethod
    def content_sha256(drop_id: str, format: str, files: tuple[ManifestFile, ...]) -> str:
        """sha256 of what the drop delivers (its files with their checksums, and its format), not of
        when it was written: a resend of the same content is the same version and is not landed twice."""
        canonical = json.dumps(
            {"drop": drop_id, "format": format, "files": sorted((f.__dict__ for f in files), key=lambda f: f["path"])},
            sort_keys=True,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_bytes(self) -> bytes:
        body = {
            "drop": self.drop_id,
            "format": self.format,
            "created_at": self.created_at,
            "files": [f.__dict__ for f in self.files],
        }
        return (json.dumps(body, indent=2, sort_keys=False) + "\n").encode()

    @classmethod
    def from_bytes(cls, drop_id: str, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            files = tuple(
                ManifestFile(
                    path=check_relative(drop_id, str(f["path"])),
                    feed=str(f["feed"]),
                    rows=int(f["rows"]),
                    sha256=str(f["sha256"]),
                    bytes=int(f["bytes"]),
                )
                for f in body["files"]
            )
            if body.get("drop", drop_id) != drop_id:
                raise DropRejected(drop_id, f"manifest belongs to drop {body['drop']!r}, not to {drop_id!r}")
            fmt = str(body.get("format") or "")
            return cls(drop_id, fmt, str(body.get("created_at", "")), files, cls.content_sha256(drop_id, fmt, files))
        except DropRejected:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise DropRejected(
                drop_id, f"manifest is not valid JSON with files/path/feed/rows/sha256/bytes: {exc}"
            ) from exc


@dataclass(frozen=True)
class Drop:
    """A complete drop: where it is and what its manifest announces."""

    landing_uri: str
    ref: DropRef
    manifest: Manifest

    @property
    def drop_id(self) -> str:
        return self.ref.drop_id

    @property
    def uri(self) -> str:
        return storage.join(self.landing_uri, self.drop_id)

    def file_uri(self, path: str) -> str:
        return storage.join(self.uri, check_relative(self.drop_id, path))

    def read_file(self, entry: ManifestFile, settings: Settings | None = None) -> bytes:
        """The file's bytes, verified against the manifest (size and sha256) or the drop is rejected."""
        try:
            data = storage.read_bytes(self.file_uri(entry.path), settings)
        except FileNotFoundError:
            raise DropRejected(self.drop_id, f"{entry.path} is in the manifest but not in the drop") from None
        if len(data) != entry.bytes or hashlib.sha256(data).hexdigest() != entry.sha256:
            detail = (
                f"{len(data)} bytes, manifest says {entry.bytes}"
                if len(data) != entry.bytes
                else "same size, different sha256"
            )
            raise DropRejected(self.drop_id, f"{entry.path} does not match its manifest checksum ({detail})")
        return data


@dataclass(frozen=True)
class InvalidDrop(Drop):
    """A complete drop whose manifest itself is unusable: it can only be rejected."""

    problem: str = ""


class _HashingStream:
    """A write stream that counts and hashes what passes through it."""

    def __init__(self, stream):
        self._stream = stream
        self.sha = hashlib.sha256()
        self.bytes = 0
        self.rows = 0  # set by the writer: data rows in the file

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.bytes += len(data)
        self._stream.write(data)
        return len(data)


@dataclass
class DropWriter:
    """Writes one drop file by file, then its manifest last.

    Use as a context manager; the manifest is written only if the block succeeds::

        with DropWriter(landing, DropRef(date, "DE01"), "plantlake") as drop:
            drop.write("lines.csv", "lines", data, rows=12)
            with drop.open("telemetry.csv.gz", "telemetry") as out:
                out.write(chunk) ...
                out.rows = 1_152_000
    """

    landing_uri: str
    ref: DropRef
    format: str
    settings: Settings | None = None
    created_at: str | None = None  # fixed by deterministic writers (the simulator)
    files: list[ManifestFile] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return storage.join(self.landing_uri, self.ref.drop_id)

    def __enter__(self) -> DropWriter:
        fs, path = storage.filesystem(storage.join(self.uri, MANIFEST), self.settings)
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_file(path)  # a resend: incomplete until its new manifest is written
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.write_manifest()

    def write(self, name: str, feed: str, data: bytes, rows: int) -> ManifestFile:
        with self.open(name, feed) as out:
            out.write(data)
            out.rows = rows
        return self.files[-1]

    @contextmanager
    def open(self, name: str, feed: str) -> Iterator[_HashingStream]:
        check_relative(self.ref.drop_id, name)
        fs, path = storage.filesystem(storage.join(self.uri, name), self.settings)
        if isinstance(fs, pafs.LocalFileSystem):
            fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with fs.open_output_stream(path, compression=None) as raw:  # bytes as given: a .gz is gzipped by the caller
            out = _HashingStream(raw)
            yield out
        self.files = [f for f in self.files if f.path != name]
        self.files.append(ManifestFile(name, feed, int(out.rows), out.sha.hexdigest(), out.bytes))

    def manifest(self) -> Manifest:
        created = self.created_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return Manifest(self.ref.drop_id, self.format, created, tuple(self.files))

    def write_manifest(self, manifest: Manifest | None = None) -> Manifest:
        manifest = manifest or self.manifest()
        storage.write_bytes(storage.join(self.uri, MANIFEST), manifest.to_bytes(), self.settings, atomic=True)
        return manifest


def _drop_folders(landing_uri: str, settings: Settings | None) -> list[str]:
    """Top-level sources of the landing zone: plant=<id> folders and suppliers."""
    fs, root = storage.filesystem(landing_uri, settings)
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=False, allow_not_found=True))
    names = [i.base_name for i in infos if i.type == pafs.FileType.Directory]
    return sorted(n for n in names if n == SUPPLIERS or n.startswith("plant="))


def plants_sending(landing_uri: str, settings: Settings | None = None) -> set[str]:
    """Plants with a folder in the landing zone: they exist even on a night their own drop is late,
    so the supplier drop's shipments to them are not refused as unknown."""
    return {name.split("=", 1)[1] for name in _drop_folders(landing_uri, settings) if name.startswith("plant=")}


@storage.explain_errors
def list_complete(
    landing_uri: str, dates: Iterable[dt.date] | None = None, settings: Settings | None = None
) -> list[Drop]:
    """Every complete drop (manifest present), optionally only for ``dates``, sorted by date and source.

    A drop whose manifest is unreadable is returned with an empty manifest marked invalid
    so that the caller records the rejection instead of skipping it in silence.
    """
    settings = settings or get_settings()
    fs, root = storage.filesystem(landing_uri, settings)
    manifests: list[str] = []
    if dates is None:
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        manifests = [i.path for i in fs.get_file_info(selector) if i.base_name == MANIFEST]
    else:
        wanted = [
            f"{root}/{folder}/date={d.isoformat()}/{MANIFEST}"
            for folder in _drop_folders(landing_uri, settings)
            for d in sorted(set(dates))
        ]
        manifests = [i.path for i in fs.get_file_info(wanted) if i.type == pafs.FileType.File] if wanted else []
    drops = []
    for path in manifests:
        drop_id = path[len(root) :].strip("/").rsplit("/", 1)[0]
        try:
            ref = DropRef.parse(drop_id)
        except ValueError:
            log.warning("ignoring %s: not in a drop folder", path)
            continue
        with fs.open_input_stream(path, compression=None) as stream:
            data = stream.read()
        try:
            manifest = Manifest.from_bytes(ref.drop_id, data)
        except DropRejected as exc:
            manifest = Manifest(ref.drop_id, "", "", (), hashlib.sha256(data).hexdigest())
            drops.append(InvalidDrop(landing_uri, ref, manifest, exc.reason))
            continue
        drops.append(Drop(landing_uri, ref, manifest))
    return sorted(drops, key=lambda d: d.ref)


def outcomes(lake: Lake, dates: Iterable[dt.date] | None = None) -> dict[tuple[str, str], str]:
    """(drop_id, manifest sha256) -> status, from ``ops.landed_drops``."""
    filters = [("date", "in", sorted(set(dates)))] if dates is not None else None
    done = lake.read(LANDED_DROPS, filters=filters, columns=["drop_id", "manifest_sha256", "status"], missing_ok=True)
    return {(r["drop_id"], r["manifest_sha256"]): r["status"] for r in done.to_pylist()}


def pending(
    landing_uri: str,
    lake: Lake,
    dates: Iterable[dt.date] | None = None,
    sources: Iterable[str] | None = None,
) -> list[Drop]:
    """Complete drops whose current manifest has not been landed or rejected yet."""
    dates = None if dates is None else sorted(set(dates))
    wanted = None if sources is None else set(sources)
    done = outcomes(lake, dates)
    return [
        d
        for d in list_complete(landing_uri, dates, lake.settings)
        if (d.drop_id, d.manifest.sha256) not in done and (wanted is None or d.ref.source in wanted)
    ]


@dataclass(frozen=True)
class Outcome:
    """What happened to one drop version."""

    drop: Drop
    status: str  # landed or rejected
    reason: str | None = None
    bronze_rows: int | None = None
    quarantined_rows: int | None = None


def record_all(lake: Lake, outcomes: list[Outcome], run_id: str) -> None:
    """Record drops' outcomes in ``ops.landed_drops`` in one commit (idempotent per drop and manifest version)."""
    if not outcomes:
        return
    bad = {o.status for o in outcomes} - {"landed", "rejected"}
    if bad:
        raise ValueError(f"status must be landed or rejected, not {sorted(bad)}")
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "date": o.drop.ref.date,
            "drop_id": o.drop.drop_id,
            "plant_id": o.drop.ref.source,
            "manifest_sha256": o.drop.manifest.sha256,
            "format": o.drop.manifest.format or "(unknown)",
            "status": o.status,
            "reason": o.reason,
            "files": len(o.drop.manifest.files),
            "manifest_rows": o.drop.manifest.rows,
            "bronze_rows": o.bronze_rows,
            "quarantined_rows": o.quarantined_rows,
            "landed_at": now,
            "run_id": run_id,
        }
        for o in {(o.drop.drop_id, o.drop.manifest.sha256): o for o in outcomes}.values()
    ]
    lake.merge(LANDED_DROPS, pa.Table.from_pylist(rows, schema=LANDED_DROPS.schema))


def record(
    lake: Lake,
    drop: Drop,
    *,
    status: str,
    run_id: str,
    reason: str | None = None,
    bronze_rows: int | None = None,
    quarantined_rows: int | None = None,
) -> None:
    """Record one drop's outcome (see :func:`record_all`)."""
    record_all(lake, [Outcome(drop, status, reason, bronze_rows, quarantined_rows)], run_id)
