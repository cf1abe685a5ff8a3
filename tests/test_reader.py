"""read_drop on hand-made drops: every bad-input kind of the issue, drop rejections, formats, lineage."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.conform import conform
from lakehouse.settings import Settings
from sources.contracts import CONTRACTS, QUARANTINE
from sources.landing import MANIFEST, DropRef, DropRejected, InvalidDrop, Manifest, list_complete
from sources.reader import KnownIds
from tests.dropkit import (
    DAY,
    GOOD,
    INGESTED,
    KNOWN,
    PLANT_ID,
    RUN,
    csv_bytes,
    feed_bytes,
    feed_drop,
    find,
    read,
    row,
    write_drop,
)


def quarantined(result, feed: str) -> list[tuple[int, str]]:
    return [(q["_source_row"], q["rule"]) for q in result.feeds[feed].quarantine.to_pylist()]


def rejected(drop, known: KnownIds | None = None) -> str:
    with pytest.raises(DropRejected) as info:
        read(drop, known or KNOWN)
    assert info.value.drop_id == drop.drop_id
    return info.value.reason


# -- rows that break their contract: quarantine ---------------------------------------------------
def test_unknown_header_quarantines_every_row_of_the_file(tmp_path):
    rows = [{**row("telemetry"), "humidity_pct": "40"}, {**row("telemetry", ts="2026-01-05T08:01:00Z"),
                                                         "humidity_pct": "41"}]
    result = read(feed_drop(str(tmp_path), "telemetry", rows), KNOWN)
    assert quarantined(result, "telemetry") == [(1, "unknown_column"), (2, "unknown_column")]
    assert "'humidity_pct'" in result.feeds["telemetry"].quarantine.column("reason")[0].as_py()
    assert result.feeds["machines"].bronze.num_rows == 1 and result.reconciles


def test_missing_required_column_quarantines_every_row_and_a_missing_optional_one_is_null(tmp_path):
    no_interval = [{k: v for k, v in row("telemetry").items() if k != "interval_s"}]
    result = read(feed_drop(str(tmp_path / "a"), "telemetry", no_interval), KNOWN)
    assert quarantined(result, "telemetry") == [(1, "missing_column")]
    assert "interval_s" in result.feeds["telemetry"].quarantine.column("reason")[0].as_py()
    no_current = [{k: v for k, v in row("telemetry").items() if k != "current_a"}]
    result = read(feed_drop(str(tmp_path / "b"), "telemetry", no_current), KNOWN)
    [readings] = result.feeds["telemetry"].bronze.column("readings").to_pylist()
    assert "current_a" not in dict(readings) and dict(readings)["voltage_v"] == 400.0  # a sensor not sent: no value


@pytest.mark.parametrize(
    ("feed", "changes", "rule", "shown"),
    [
        ("telemetry", {"temperature_c": "abc"}, "type", "temperature_c = 'abc' is not a valid number"),
        ("telemetry", {"ts": "05.01.2026 08:00"}, "type", "ts = '05.01.2026 08:00' is not a valid timestamp"),
        ("machines", {"install_date": "2015-02-31"}, "type", "install_date = '2015-02-31' is not a valid date"),
        ("telemetry", {"vibration_mm_s": "NaN"}, "nan", "vibration_mm_s = 'NaN' is NaN or infinite"),
        ("telemetry", {"current_a": "inf"}, "nan", "current_a = 'inf'"),
        ("production", {"total_count": "-3", "good_count": "0"}, "range", "total_count = -3 is below the minimum 0"),
        ("production", {"good_count": "801"}, "rule:good_le_total", "good_count = 801, total_count = 800"),
        ("downtime_events", {"end_ts": "2026-01-05T08:00:00Z"}, "rule:end_after_start", "end_ts >= start_ts"),
        ("failures", {"machine_id": "DE01-M404"}, "reference", "machine_id = 'DE01-M404' names no machines"),
        ("telemetry", {"ts": "2026-01-05T23:15:00Z"}, "in_date", "is on 2026-01-06 in Europe/Berlin"),
        ("telemetry", {"ts": "2026-01-04T22:59:00Z"}, "in_date", "is on 2026-01-04 in Europe/Berlin"),
    ],
)
def test_bad_values_are_quarantined_with_a_reason(tmp_path, feed, changes, rule, shown):
    result = read(feed_drop(str(tmp_path), feed, [row(feed), row(feed, **changes)]), KNOWN)
    q = result.feeds[feed].quarantine.to_pylist()
    assert [r["_source_row"] for r in q][:1] == [2] and q[0]["rule"] == rule  # the first rule it breaks first
    assert shown in q[0]["reason"], q[0]["reason"]


def test_local_midnight_bounds_the_drop_date(tmp_path):
    """2026-01-04T23:00Z is 00:00 in Berlin on the 5th (in), 2026-01-05T23:00Z is the 6th (out)."""
    rows = [row("telemetry", ts="2026-01-04T23:00:00Z"), row("telemetry", ts="2026-01-05T22:59:59Z"),
            row("telemetry", ts="2026-01-05T23:00:00Z")]
    result = read(feed_drop(str(tmp_path), "telemetry", rows), KNOWN)
    assert quarantined(result, "telemetry") == [(3, "in_date")]


def test_duplicates_keep_the_first_row_also_across_files(tmp_path):
    files = {
        "machines.csv": ("machines", csv_bytes([GOOD["machines"]]), 1),
        "telemetry.1.csv": ("telemetry", csv_bytes([row("telemetry")]), 1),
        "telemetry.2.csv": ("telemetry", csv_bytes([row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z")]), 2),
    }
    result = read(write_drop(str(tmp_path), files), KNOWN)
    q = result.feeds["telemetry"].quarantine.to_pylist()
    assert [(r["_source_file"].rsplit("/", 1)[1], r["_source_row"], r["rule"]) for r in q] == [
        ("telemetry.2.csv", 1, "duplicate")]
    assert "as row 1 of plant=DE01/date=2026-01-05/telemetry.1.csv" in q[0]["reason"]
    assert result.feeds["telemetry"].bronze.num_rows == 2 and result.reconciles


def test_malformed_rows_are_quarantined_with_their_line(tmp_path):
    data = csv_bytes([row("telemetry")]) + b"DE01-M001,2026-01-05T08:05:00Z,60\n" + b"x,y,z,1,2,3,4,5,6,7,8\n"
    drop = write_drop(str(tmp_path), {"telemetry.csv": ("telemetry", data, 3)})
    result = read(drop, KNOWN)
    q = result.feeds["telemetry"].quarantine.to_pylist()
    assert [(r["_source_row"], r["rule"], r["raw_line"]) for r in q] == [
        (2, "malformed", "DE01-M001,2026-01-05T08:05:00Z,60"), (3, "malformed", "x,y,z,1,2,3,4,5,6,7,8")]
    assert result.reconciles


@pytest.mark.parametrize(("prefix", "eol"), [(b"\xef\xbb\xbf", "\n"), (b"", "\r"), (b"", "\r\n"),
                                             (b"\xef\xbb\xbf", "\r")], ids=["bom", "cr-only", "crlf", "bom-cr"])
def test_byte_order_mark_and_line_endings_are_read_correctly(tmp_path, prefix, eol):
    rows = [row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z", temperature_c="x")]
    data = prefix + csv_bytes(rows, eol=eol)
    result = read(write_drop(str(tmp_path), {"telemetry.csv": ("telemetry", data, 2)}), KNOWN)
    got = result.feeds["telemetry"]
    assert got.bronze.column("machine_id").to_pylist() == ["DE01-M001"]  # the first header is not "\ufeffmachine_id"
    [bad] = got.quarantine.to_pylist()
    assert (bad["_source_row"], bad["rule"]) == (2, "type")
    assert bad["raw_line"] == "DE01-M001,2026-01-05T08:01:00Z,60,x,2.5,30,100,31,400,1500"


def test_unknown_plant_machine_and_ship_to_plant(tmp_path):
    telemetry = feed_drop(str(tmp_path / "a"), "telemetry", [row("telemetry")], with_masters=False)
    assert "unknown plant DE01" in rejected(telemetry, KnownIds())
    result = read(telemetry, KnownIds(timezones={"DE01": "Europe/Berlin"}))
    assert quarantined(result, "telemetry") == [(1, "reference")]
    shipments = feed_drop(str(tmp_path / "b"), "shipments", [row("shipments", plant_id="XX99")])
    result = read(shipments, KnownIds(ids={"plants": {"DE01"}}))
    assert quarantined(result, "shipments") == [(1, "reference")]
    assert "plant_id = 'XX99' names no plants" in result.feeds["shipments"].quarantine.column("reason")[0].as_py()


def test_a_plants_row_for_another_plant_rejects_the_drop(tmp_path):
    drop = feed_drop(str(tmp_path), "plants", [row("plants"), row("plants", plant_id="FR02")])
    assert "plants row for FR02, not for this drop's plant DE01" in rejected(drop)


def test_the_drops_own_master_rows_extend_what_the_lake_knows(tmp_path):
    files = {}
    for feed, rows in [("plants", [GOOD["plants"]]), ("lines", [GOOD["lines"]]),
                       ("machines", [GOOD["machines"], row("machines", machine_id="DE01-M002")]),
                       ("telemetry", [row("telemetry"), row("telemetry", machine_id="DE01-M002")])]:
        files[f"{feed}.csv"] = (feed, csv_bytes(rows), len(rows))
    result = read(write_drop(str(tmp_path), files), KnownIds())
    assert result.quarantined_rows == 0 and result.timezone == "Europe/Berlin"
    learned = KnownIds().learn(result)
    assert learned.ids["machines"] == {"DE01-M001", "DE01-M002"} and learned.timezones == {"DE01": "Europe/Berlin"}


def test_the_plants_time_zone_dates_the_drop(tmp_path):
    """Same instant, two plants: 23:30Z on the 5th is the 5th in New York, the 6th in Berlin."""
    plants = row("plants", timezone="America/New_York", region="North America", country="US")
    files = {"plants.csv": ("plants", csv_bytes([plants]), 1),
             "telemetry.csv": ("telemetry", csv_bytes([row("telemetry", ts="2026-01-05T23:30:00Z")]), 1)}
    result = read(write_drop(str(tmp_path / "ny"), files), KNOWN)
    assert result.timezone == "America/New_York" and result.quarantined_rows == 0
    berlin = {**files, "plants.csv": ("plants", csv_bytes([GOOD["plants"]]), 1)}
    assert read(write_drop(str(tmp_path / "be"), berlin), KNOWN).quarantined_rows == 1


# -- drops that cannot be landed as a whole: rejected with the reason ------------------------------
def test_manifest_row_count_mismatch_rejects_the_drop(tmp_path):
    name, data = feed_bytes("telemetry", [row("telemetry")])
    drop = write_drop(str(tmp_path), {name: ("telemetry", data, 2)})
    assert "telemetry.csv: manifest row mismatch: the file has 1 data rows, the manifest says 2" in rejected(drop)


def test_checksum_mismatch_rejects_the_drop(tmp_path):
    drop = feed_drop(str(tmp_path), "telemetry", [row("telemetry")])
    target = Path(tmp_path) / drop.drop_id / "telemetry.csv"
    target.write_bytes(target.read_bytes().replace(b"55.5", b"95.5"))
    assert "telemetry.csv does not match its manifest checksum" in rejected(drop)
    target.unlink()
    assert "telemetry.csv is in the manifest but not in the drop" in rejected(drop)


def test_empty_file_and_truncated_gzip_reject_the_drop(tmp_path):
    empty = write_drop(str(tmp_path / "a"), {"telemetry.csv": ("telemetry", b"", 0)})
    assert rejected(empty) == "telemetry.csv: empty file (0 bytes)"
    full = gzip.compress(csv_bytes([row("telemetry", ts=f"2026-01-05T08:{m:02d}:00Z") for m in range(60)]))
    truncated = write_drop(str(tmp_path / "b"), {"telemetry.csv.gz": ("telemetry", full[: len(full) // 2], 60)})
    assert rejected(truncated).startswith("telemetry.csv.gz: truncated or corrupt gzip")


def test_a_manifest_naming_a_path_outside_its_drop_is_refused(tmp_path):
    drop = feed_drop(str(tmp_path), "telemetry", [row("telemetry")])
    manifest = Path(tmp_path) / drop.drop_id / MANIFEST
    body = json.loads(manifest.read_text())
    body["files"][0]["path"] = "../../plant=FR02/date=2026-01-05/telemetry.csv"
    manifest.write_text(json.dumps(body))
    with pytest.raises(DropRejected, match="outside its drop"):
        Manifest.from_bytes(drop.drop_id, manifest.read_bytes())
    listed = find(str(tmp_path), drop.ref)
    assert isinstance(listed, InvalidDrop)
    assert "manifest names a path outside its drop: '../../plant=FR02" in rejected(listed)


def test_files_the_mapping_does_not_know_and_unknown_mappings_reject_the_drop(tmp_path):
    stray = write_drop(str(tmp_path / "a"), {"weather.csv": ("telemetry", b"a\n1\n", 1)})
    assert "weather.csv is not a file mapping plantlake lists" in rejected(stray)
    wrong_feed = write_drop(str(tmp_path / "b"), {"telemetry.csv": ("failures", csv_bytes([row("telemetry")]), 1)})
    assert "the manifest says feed 'failures', mapping plantlake reads it as 'telemetry'" in rejected(wrong_feed)
    unknown = write_drop(str(tmp_path / "c"), {"telemetry.csv": ("telemetry", csv_bytes([row("telemetry")]), 1)},
                         mapping="acme_mes")
    assert "unknown mapping 'acme_mes'" in rejected(unknown)


# -- formats and lineage -----------------------------------------------------------------------------
CONTENT = [c for c in CONTRACTS["telemetry"].bronze.column_names if not c.startswith("_")]


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet", "jsonl"])
def test_plantlake_format_in_every_file_format_reads_the_same(tmp_path, fmt):
    rows = [row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z", current_a=""),
            row("telemetry", ts="2026-01-05T08:02:00Z", vibration_mm_s="-1")]
    result = read(feed_drop(str(tmp_path / fmt), "telemetry", rows, fmt=fmt), KNOWN)
    got = result.feeds["telemetry"]
    assert [{**r, "readings": dict(r["readings"])} for r in got.bronze.select(CONTENT).to_pylist()] == [
        {"date": DAY, "plant_id": PLANT_ID, "machine_id": "DE01-M001",
         "ts": dt.datetime(2026, 1, 5, 8, m, tzinfo=dt.UTC), "interval_s": 60,
         "readings": {"temperature_c": 55.5, "vibration_mm_s": 2.5, **({} if m else {"current_a": 30.0}),
                      "pressure_bar": 100.0, "cycle_time_s": 31.0, "voltage_v": 400.0, "rotation_rpm": 1500.0}}
        for m in (0, 1)]  # a sensor without a value is left out of the reading
    q = got.quarantine.to_pylist()
    assert [(r["_source_row"], r["rule"]) for r in q] == [(3, "range")]
    assert "DE01-M001" in q[0]["raw_line"] and "2026-01-05" in q[0]["raw_line"]
    if fmt == "parquet":
        assert json.loads(q[0]["raw_line"])["vibration_mm_s"] == -1.0
    if fmt == "jsonl":
        assert json.loads(q[0]["raw_line"])["vibration_mm_s"] == "-1"
    assert got.files == [f"{result.drop.drop_id}/telemetry.{fmt}"]


def test_bronze_and_quarantine_conform_to_the_catalog_with_lineage(tmp_path):
    result = read(feed_drop(str(tmp_path), "telemetry", [row("telemetry"), row("telemetry", ts="x")]), KNOWN)
    got = result.feeds["telemetry"]
    conform(CONTRACTS["telemetry"].bronze, got.bronze)
    conform(QUARANTINE, got.quarantine)
    lineage = got.bronze.select(["_source_file", "_source_row", "_ingested_at", "_run_id"]).to_pylist()
    assert lineage == [{"_source_file": "plant=DE01/date=2026-01-05/telemetry.csv", "_source_row": 1,
                        "_ingested_at": INGESTED, "_run_id": RUN}]
    q = got.quarantine.to_pylist()[0]
    assert (q["date"], q["plant_id"], q["drop_id"], q["_run_id"]) == (DAY, "DE01", "plant=DE01/date=2026-01-05", RUN)
    assert (got.manifest_rows, got.bronze_rows, got.quarantined_rows) == (2, 1, 1)
    assert (result.manifest_rows, result.bronze_rows, result.quarantined_rows) == (5, 4, 1)


def test_the_supplier_drop_is_dated_in_utc_and_quarantines_under_suppliers(tmp_path):
    rows = [row("shipments"), row("shipments", shipment_id="SH2", updated_at="2026-01-05T23:30:00Z"),
            row("shipments", shipment_id="SH3", updated_at="2026-01-06T00:30:00Z")]
    result = read(feed_drop(str(tmp_path), "shipments", rows), KNOWN)
    assert result.timezone == "UTC" and quarantined(result, "shipments") == [(3, "in_date")]
    assert result.feeds["shipments"].quarantine.column("plant_id").to_pylist() == ["suppliers"]
    assert result.feeds["shipments"].bronze.column("plant_id").to_pylist() == ["DE01", "DE01"]  # the ship-to plant


def test_a_drop_listed_on_s3_reads_the_same(tmp_path, s3):
    import os
    import uuid

    settings = Settings.from_env({**os.environ, **s3.env})
    landing = f"s3://plantlake-test/{uuid.uuid4().hex}/landing"
    drop = feed_drop(landing, "telemetry", [row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z",
                                                                  temperature_c="abc")],
                     settings=settings)
    result = read(drop, KNOWN, settings=settings)
    assert result.bronze_rows == 4 and quarantined(result, "telemetry") == [(2, "type")]


def test_a_drop_without_files_of_a_mapping_master_feed_gets_the_mapping_rows(tmp_path, monkeypatch):
    mapping_dir = tmp_path / "mappings"
    mapping_dir.mkdir()
    (mapping_dir / "acme.yaml").write_text(
        "name: acme\ndescription: test\nscope: plant\n"
        "master:\n  plants:\n    - {plant_id: DE01, name: Acme, country: DE, region: Europe, timezone: Europe/Berlin,"
        " joined_on: 2020-01-01, baseline_units_per_hour: 10}\n"
        "  lines:\n    - {line_id: DE01-L01, name: L1, line_type: press, ideal_cycle_time_s: 30, planned_shifts: 2,"
        " shift_minutes: 480}\n"
        "feeds:\n  telemetry: {file: 'telemetry.*', sensors: {temperature_c: null, vibration_mm_s: null, current_a: "
        "null, pressure_bar: null, cycle_time_s: null, voltage_v: null, rotation_rpm: null}}\n"
        "  machines: {file: 'machines.*'}\n")
    monkeypatch.setenv("PLANTLAKE_MAPPINGS_DIR", str(mapping_dir))
    files = {"machines.csv": ("machines", csv_bytes([GOOD["machines"]]), 1),
             "telemetry.csv": ("telemetry", csv_bytes([row("telemetry")]), 1)}
    result = read(write_drop(str(tmp_path / "landing"), files, mapping="acme"), KnownIds())
    assert result.timezone == "Europe/Berlin" and result.quarantined_rows == 0
    assert result.feeds["plants"].bronze.column("_source_file").to_pylist() == ["mapping:acme"]
    assert result.feeds["sensors"].bronze.num_rows == 7  # its sensor registry: one row per declared sensor
    assert result.mapping_rows == 2 + 7 and result.bronze_rows == 2 and result.manifest_rows == 2
    assert result.reconciles


def test_mapping_master_rows_that_break_the_contract_reject_the_drop(tmp_path, monkeypatch):
    mapping_dir = tmp_path / "mappings"
    mapping_dir.mkdir()
    (mapping_dir / "broken.yaml").write_text(
        "name: broken\ndescription: test\nscope: plant\n"
        "master:\n  lines:\n    - {line_id: DE01-L01, name: L1, line_type: press, ideal_cycle_time_s: -30,"
        " planned_shifts: 2, shift_minutes: 480}\n"
        "feeds:\n  telemetry: {file: 'telemetry.*'}\n")
    monkeypatch.setenv("PLANTLAKE_MAPPINGS_DIR", str(mapping_dir))
    drop = write_drop(str(tmp_path / "landing"), {"telemetry.csv": ("telemetry", csv_bytes([row("telemetry")]), 1)},
                      mapping="broken")
    assert "mapping broken master lines break the contract: row 1: range: ideal_cycle_time_s" in rejected(drop)


def test_resent_drop_is_listed_with_its_new_manifest(tmp_path):
    first = feed_drop(str(tmp_path), "telemetry", [row("telemetry")])
    second = feed_drop(str(tmp_path), "telemetry", [row("telemetry"), row("telemetry", ts="2026-01-05T08:01:00Z")])
    assert first.manifest.sha256 != second.manifest.sha256
    [listed] = [d for d in list_complete(str(tmp_path), [DAY], Settings.from_env()) if d.ref == DropRef(DAY, "DE01")]
    assert read(listed, KNOWN).feeds["telemetry"].bronze.num_rows == 2


def test_large_file_reads_in_seconds(tmp_path):
    """Ten thousand machines for an hour at a minute: 600,000 rows (half a plant's night)."""
    import time

    lines = [",".join(GOOD["telemetry"])]
    minutes = [f"2026-01-05T08:{m:02d}:00Z" for m in range(60)]
    body = "\n".join(f"DE01-M{i:05d},{ts},60,55.5,2.5,30,100,31,400,1500" for i in range(10_000) for ts in minutes)
    data = ("\n".join(lines) + "\n" + body + "\n").encode()
    drop = write_drop(str(tmp_path), {"telemetry.csv": ("telemetry", data, 600_000)})
    known = KnownIds(ids={"machines": {f"DE01-M{i:05d}" for i in range(10_000)}}, timezones={"DE01": "Europe/Berlin"})
    started = time.perf_counter()
    result = read(drop, known)
    assert result.bronze_rows == 600_000 and result.quarantined_rows == 0
    assert time.perf_counter() - started < 20
    assert isinstance(result.feeds["telemetry"].bronze, pa.Table)
