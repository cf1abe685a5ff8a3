"""``--messy``: every kind of bad input, in the rows and files ``_faults.json`` names, with honest
manifests everywhere else; resends of messy drops."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import zlib
from pathlib import Path

import pytest

from sources import mapping
from sources.landing import FAULTS, MANIFEST, DropRejected, Manifest, list_complete
from sources.simulator import SimulationConfig, faults, resend_drop, simulate
from tests.simfiles import raw_bytes, text_rows

START = dt.date(2026, 1, 5)


def config(landing: Path, **overrides) -> SimulationConfig:
    base = dict(landing=str(landing), start=START, days=12, plants=2, machines_per_plant=4, suppliers=5,
                locations=10, seed=3, messy=True)
    return SimulationConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same network written clean and messy (CSV with German plants), and messy Parquet and JSON lines."""
    root = tmp_path_factory.mktemp("messy")
    out = {}
    for name, extra in (("clean", {"messy": False}), ("csv", {}), ("parquet", {"format": "parquet"}),
                        ("jsonl", {"format": "jsonl", "gzip": True})):
        simulate(config(root / name, **extra))
        out[name] = root / name
    return out


def fault_list(root: Path) -> list[dict]:
    return json.loads((root / FAULTS).read_text())


@pytest.mark.parametrize("run", ["csv", "parquet", "jsonl"])
def test_every_kind_appears_with_its_expected_outcome(runs, run):
    entries = fault_list(runs[run])
    assert {e["kind"] for e in entries} == set(faults.KINDS)
    assert len({e["drop"] for e in entries}) == len(entries)  # one fault per drop
    drops = 12 * 2 + 12
    assert len(entries) == max(round(0.3 * drops), len(faults.KINDS))
    for e in entries:
        assert e["expect"] == faults.EXPECT[e["kind"]]
        assert set(e) == {"drop", "file", "rows", "kind", "expect"}


def test_the_fraction_is_seeded_and_zero_means_clean(tmp_path):
    small = config(tmp_path / "a", days=2, messy_fraction=0.5)
    simulate(small)
    assert len(fault_list(tmp_path / "a")) == 3  # 6 drops are fewer than the kinds: the fraction alone
    simulate(config(tmp_path / "b", days=2, messy_fraction=0.0))
    assert not (tmp_path / "b" / FAULTS).exists()


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST).read_text())


def test_manifests_stay_honest_except_for_manifest_faults(runs):
    for run in ("csv", "parquet", "jsonl"):
        kinds = {e["drop"]: e["kind"] for e in fault_list(runs[run])}
        for path in runs[run].rglob(MANIFEST):
            body = json.loads(path.read_text())
            if kinds.get(body["drop"]) in ("manifest_row_mismatch", "manifest_checksum_mismatch", "path_traversal"):
                continue
            for f in body["files"]:
                data = (path.parent / f["path"]).read_bytes()
                assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()


def _csv_lines(path: Path) -> list[bytes]:
    return raw_bytes(path).split(b"\n")


def test_row_and_file_faults_break_exactly_the_rows_named(runs):
    """Compared with the clean run of the same seed, a fault changes exactly its rows."""
    clean, messy = runs["clean"], runs["csv"]
    checked = set()
    for e in fault_list(messy):
        if e["expect"] not in ("quarantine", "quarantine_file"):
            continue
        folder = messy / e["drop"]
        m = mapping.get(_manifest(folder)["format"])
        feed = m.feed_for_file(e["file"])
        bad = _csv_lines(folder / e["file"])
        good = _csv_lines(clean / e["drop"] / e["file"])
        kind, rows = e["kind"], e["rows"]
        if kind == "duplicate_rows":
            (r,) = rows
            assert bad[r] == bad[r - 1] and bad[:r] + bad[r + 1:] == good
        elif kind == "unknown_column":
            assert bad[0].endswith(b"extra_note") and len(rows) == len(good) - 2
            assert rows == list(range(1, len(good) - 1))
        elif kind == "missing_column":
            header, _ = text_rows(folder / e["file"], m, feed)
            missing = set(m.column_maps(feed)) - set(header)
            assert len(missing) == 1 and rows == list(range(1, len(good) - 1))
        else:
            differing = [i for i in range(1, len(good)) if bad[i] != good[i]]
            assert differing == rows, (e, differing)
            header, values = text_rows(folder / e["file"], m, feed)
            names = {**{h: c.to for h, c in m.column_maps(feed).items()},
                     **{h: s.sensor for h, s in m.sensor_maps(feed).items()}}  # a sensor feed's sensors too
            row = dict(zip((names[h] for h in header), values[rows[0] - 1], strict=True))
            if kind == "unparsable_number":
                assert faults.UNPARSABLE_NUMBER in values[rows[0] - 1]
            elif kind == "unparsable_date":
                assert faults.UNPARSABLE_DATE in values[rows[0] - 1]
            elif kind == "nan_inf":
                assert {"nan", "inf"} & set(values[rows[0] - 1])
            elif kind == "unknown_plant":
                assert row["plant_id"] == faults.UNKNOWN_PLANT
            elif kind == "unknown_machine":
                assert "-U" in row["machine_id"]
            elif kind == "missing_required":
                assert None in values[rows[0] - 1]
        checked.add(kind)
    assert checked == {k for k, v in faults.EXPECT.items() if v in ("quarantine", "quarantine_file")}


def test_drop_level_faults(runs):
    for run in ("csv", "parquet", "jsonl"):
        root = runs[run]
        pending = {d.drop_id for d in list_complete(str(root))}
        for e in fault_list(root):
            folder = root / e["drop"]
            kind = e["kind"]
            if kind == "missing_manifest":
                assert not (folder / MANIFEST).exists() and any(folder.iterdir())
                assert e["drop"] not in pending
                continue
            body = _manifest(folder)
            entry = {f["path"]: f for f in body["files"]}
            if kind == "path_traversal":
                assert f"../{e['file']}" in entry
                with pytest.raises(DropRejected, match="outside its drop"):
                    Manifest.from_bytes(e["drop"], (folder / MANIFEST).read_bytes())
                continue
            if e["expect"] != "reject_drop":
                continue
            data = (folder / e["file"]).read_bytes()
            f = entry[e["file"]]
            if kind == "manifest_row_mismatch":
                assert f["rows"] == _rows(folder / e["file"]) + 1
            elif kind == "manifest_checksum_mismatch":
                assert f["sha256"] != hashlib.sha256(data).hexdigest() and f["bytes"] == len(data)
            elif kind == "empty_file":
                assert data == b"" and f["rows"] == 0
            elif kind == "truncated_gzip":
                assert e["file"].endswith(".gz") and f["sha256"] == hashlib.sha256(data).hexdigest()
                with pytest.raises((EOFError, zlib.error, OSError)):
                    gzip.decompress(data)


def _rows(path: Path) -> int:
    data = raw_bytes(path)
    if path.name.endswith((".parquet", ".parquet.gz")):
        import io

        import pyarrow.parquet as pq

        return pq.read_metadata(io.BytesIO(data)).num_rows
    return data.count(b"\n") - (0 if ".jsonl" in path.name else 1)


def test_bom_and_cr_line_endings_are_the_clean_content(runs):
    clean, messy = runs["clean"], runs["csv"]
    for e in fault_list(messy):
        if e["expect"] != "read_ok":
            continue
        bad, good = raw_bytes(messy / e["drop"] / e["file"]), raw_bytes(clean / e["drop"] / e["file"])
        if e["kind"] == "bom":
            assert bad == b"\xef\xbb\xbf" + good
        else:
            assert b"\n" not in bad and bad.replace(b"\r", b"\n") == good
    for e in fault_list(runs["parquet"]):  # text-only kinds in a Parquet drop are written as CSV
        if e["kind"] in faults.TEXT_KINDS:
            assert e["file"].endswith(".csv")
    for e in fault_list(runs["jsonl"]):  # JSON lines carry them natively
        if e["expect"] != "read_ok":
            continue
        data = raw_bytes(runs["jsonl"] / e["drop"] / e["file"])
        if e["kind"] == "cr_line_endings":
            assert b"\n" not in data and data.endswith(b"}\r")
        else:
            assert data.startswith(b"\xef\xbb\xbf{")


def test_resending_a_messy_drop(runs, tmp_path):
    cfg = config(tmp_path)
    simulate(cfg)
    entries = {e["drop"]: e for e in fault_list(tmp_path)}
    drop = next(d for d, e in entries.items() if e["kind"] == "truncated_gzip")
    folder = tmp_path / drop
    before = (folder / MANIFEST).read_bytes()
    resend_drop(cfg, drop)  # the same content again, fault included
    assert (folder / MANIFEST).read_bytes() == before
    assert {e["drop"]: e for e in fault_list(tmp_path)}[drop] == entries[drop]
    resend_drop(cfg, drop, revision=1)  # corrected: clean, and the broken file is gone
    assert not (folder / entries[drop]["file"]).exists()
    assert drop not in {e["drop"] for e in fault_list(tmp_path)}
    body = _manifest(folder)
    assert {f["path"] for f in body["files"]} == {p.name for p in folder.iterdir()} - {MANIFEST}
    waiting = next(d for d, e in entries.items() if e["kind"] == "missing_manifest")
    resend_drop(cfg, waiting, revision=1)
    assert (tmp_path / waiting / MANIFEST).exists()
