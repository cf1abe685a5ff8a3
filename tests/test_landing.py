"""The landing zone on local disk and on a real S3 server: complete drops, pending drops, resends."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import os
import uuid

import pytest

from lakehouse import storage
from lakehouse.delta import Lake
from lakehouse.settings import Settings
from sources.landing import MANIFEST, SUPPLIERS, DropRef, DropWriter, list_complete, outcomes, pending, record
from tests.conftest import TEST_BUCKET
from tests.dropkit import DAY, csv_bytes, row

OTHER_DAY = DAY + dt.timedelta(days=1)


@pytest.fixture(params=["local", "s3"])
def zone(request, tmp_path) -> tuple[str, Lake]:
    """(landing URI, lake) on local disk and, as a second run, on the real S3 server."""
    if request.param == "local":
        return str(tmp_path / "landing"), Lake(str(tmp_path / "lake"), Settings.from_env())
    server = request.getfixturevalue("s3")
    settings = Settings.from_env({**os.environ, **server.env})
    prefix = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}"
    return f"{prefix}/landing", Lake(f"{prefix}/lake", settings)


def send(landing: str, lake: Lake, ref: DropRef, rows: list[dict], *, manifest: bool = True,
         created_at: str = "2026-01-06T01:00:00+00:00") -> None:
    writer = DropWriter(landing, ref, "plantlake", lake.settings, created_at=created_at)
    writer.__enter__()
    writer.write("telemetry.csv.gz", "telemetry", gzip.compress(csv_bytes(rows), mtime=0), rows=len(rows))
    if manifest:
        writer.write_manifest()


def ids(drops) -> list[str]:
    return [d.drop_id for d in drops]


def test_complete_drops_are_listed_and_a_drop_without_manifest_waits(zone):
    landing, lake = zone
    send(landing, lake, DropRef(DAY, "DE01"), [row("telemetry")])
    send(landing, lake, DropRef(DAY, "FR02"), [row("telemetry")], manifest=False)  # still being written
    send(landing, lake, DropRef(OTHER_DAY, "DE01"), [row("telemetry")])
    send(landing, lake, DropRef(DAY, SUPPLIERS), [row("telemetry")])
    assert ids(list_complete(landing, settings=lake.settings)) == [
        "plant=DE01/date=2026-01-05", "suppliers/date=2026-01-05", "plant=DE01/date=2026-01-06"]
    assert ids(list_complete(landing, [DAY], lake.settings)) == ["plant=DE01/date=2026-01-05",
                                                                  "suppliers/date=2026-01-05"]
    assert ids(pending(landing, lake, [DAY], sources=["DE01", "FR02"])) == ["plant=DE01/date=2026-01-05"]
    send(landing, lake, DropRef(DAY, "FR02"), [row("telemetry")])  # its manifest arrives
    assert "plant=FR02/date=2026-01-05" in ids(pending(landing, lake, [DAY]))


def test_landed_drops_are_not_pending_a_same_resend_neither_a_changed_one_again(zone):
    landing, lake = zone
    ref = DropRef(DAY, "DE01")
    send(landing, lake, ref, [row("telemetry")])
    [drop] = pending(landing, lake, [DAY])
    record(lake, drop, status="landed", run_id="r1", bronze_rows=1, quarantined_rows=0)
    assert pending(landing, lake, [DAY]) == []
    assert outcomes(lake, [DAY]) == {(drop.drop_id, drop.manifest.sha256): "landed"}

    send(landing, lake, ref, [row("telemetry")])  # the same content again: the same manifest
    assert pending(landing, lake, [DAY]) == []
    send(landing, lake, ref, [row("telemetry")], created_at="2026-01-07T09:30:00+00:00")  # later, same content
    assert pending(landing, lake, [DAY]) == []

    send(landing, lake, ref, [row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z")])  # changed content
    [resent] = pending(landing, lake, [DAY])
    assert resent.drop_id == drop.drop_id and resent.manifest.sha256 != drop.manifest.sha256
    assert resent.manifest.rows == 2

    record(lake, resent, status="rejected", run_id="r2", reason="test")
    record(lake, resent, status="rejected", run_id="r3", reason="test")  # idempotent per manifest version
    assert pending(landing, lake, [DAY]) == []
    assert len(outcomes(lake)) == 2


def test_a_resend_is_incomplete_until_its_new_manifest_is_written(zone):
    landing, lake = zone
    ref = DropRef(DAY, "DE01")
    send(landing, lake, ref, [row("telemetry")])
    send(landing, lake, ref, [row("telemetry")] * 2, manifest=False)  # resend under way: old manifest removed
    assert list_complete(landing, [DAY], lake.settings) == []


def test_files_are_stored_as_given_and_match_their_manifest(zone):
    """A .gz file is one gzip layer on storage, and its bytes are what the manifest's sha256 names."""
    landing, lake = zone
    send(landing, lake, DropRef(DAY, "DE01"), [row("telemetry")])
    [drop] = list_complete(landing, [DAY], lake.settings)
    [entry] = drop.manifest.files
    stored = storage.read_bytes(drop.file_uri(entry.path), lake.settings)
    assert hashlib.sha256(stored).hexdigest() == entry.sha256 and len(stored) == entry.bytes
    assert gzip.decompress(stored) == csv_bytes([row("telemetry")])
    assert storage.exists(storage.join(drop.uri, MANIFEST), lake.settings)
