"""The simulator's files: deterministic, true to their contracts and mappings, complete manifests,
chunking that bounds memory without changing a byte, landing on S3, and the CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import tracemalloc
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakehouse import storage
from lakehouse.settings import Settings
from orchestration.cli import app
from sources import mapping
from sources.contracts import PLANT_FEEDS, SUPPLIER_FEEDS, contract
from sources.landing import MANIFEST, DropRef, list_complete
from sources.simulator import Simulation, SimulationConfig, formats, resend_drop, simulate, telemetry
from tests.conftest import TEST_BUCKET
from tests.simfiles import raw_bytes, read_typed


def contract_field(sensor):
    """A sensor as the contract field its column is checked as (its unit and range; never required)."""
    return dataclasses.replace(sensor.field(), name=sensor.sensor)

START = dt.date(2026, 1, 1)


def config(landing, **overrides) -> SimulationConfig:
    base = dict(landing=str(landing), start=START, days=3, plants=2, machines_per_plant=5, suppliers=6,
                locations=12, seed=7)
    return SimulationConfig(**{**base, **overrides})


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def manifests(root: Path) -> list[tuple[Path, dict]]:
    return [(p.parent, json.loads(p.read_text())) for p in sorted(root.rglob(MANIFEST))]


@pytest.mark.parametrize("fmt,gz", [("csv", True), ("parquet", False), ("jsonl", False)])
def test_same_arguments_give_identical_bytes(tmp_path, fmt, gz):
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(config(a, format=fmt, gzip=gz))
    simulate(config(b, format=fmt, gzip=gz))
    first, second = files(a), files(b)
    assert first == second
    assert any(name.endswith(MANIFEST) for name in first)
    other = tmp_path / "c"
    simulate(config(other, format=fmt, gzip=gz, seed=8))
    assert files(other) != first


def test_manifests_announce_exactly_what_is_on_disk(tmp_path):
    simulate(config(tmp_path, gzip=True))
    found = manifests(tmp_path)
    assert len(found) == 3 * 2 + 3  # every plant-night and supplier-night
    for folder, body in found:
        on_disk = {p.name for p in folder.iterdir()} - {MANIFEST}
        assert {f["path"] for f in body["files"]} == on_disk
        assert body["created_at"].startswith((DropRef.parse(body["drop"]).date + dt.timedelta(days=1)).isoformat())
        for f in body["files"]:
            data = (folder / f["path"]).read_bytes()
            assert f["bytes"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
            lines = raw_bytes(folder / f["path"]).count(b"\n")
            assert f["rows"] == lines - 1  # a header line, then one line per row


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_every_file_matches_its_contract(tmp_path, fmt):
    cfg = config(tmp_path, format=fmt, plants=3, gzip=fmt == "jsonl")
    sim = Simulation(cfg)
    simulate(cfg)
    seen = set()
    for folder, body in manifests(tmp_path):
        ref = DropRef.parse(body["drop"])
        tz = "UTC" if ref.source == "suppliers" else sim.network.by_id[ref.source].timezone
        m = mapping.get(body["format"])
        for f in body["files"]:
            table = read_typed(folder / f["path"], m, f["feed"], tz)
            spec = contract(f["feed"])
            # the contract's columns, then (telemetry) a column per sensor the mapping declares, with its range
            sensors = {s.sensor: contract_field(s) for s in m.sensor_maps(f["feed"]).values()}
            assert table.schema.names[: len(spec.names)] == spec.names
            assert set(table.schema.names[len(spec.names):]) <= set(sensors), f["path"]
            fields = [*spec.fields, *(sensors[n] for n in table.schema.names[len(spec.names):])]
            assert [t.type for t in table.schema] == [x.type for x in fields], f["path"]
            assert table.num_rows == f["rows"]
            for field in fields:
                column = table[field.name]
                if field.required:
                    assert column.null_count == 0, (f["path"], field.name)
                if field.allowed:
                    assert set(column.drop_null().to_pylist()) <= set(field.allowed)
                values = [v for v in column.drop_null().to_pylist() if isinstance(v, int | float)]
                if field.min is not None and values:
                    assert min(values) >= field.min and max(values) <= field.max, (f["path"], field.name)
            seen.add(f["feed"])
            if fmt == "parquet":  # exactly the contract's types, timestamps in microseconds UTC
                assert table.schema.field(spec.names[0]).type == spec.fields[0].type
    expected = set(PLANT_FEEDS) | set(SUPPLIER_FEEDS)
    expected -= {"sensors", "components"}  # the registries: the mappings declare them, no file carries them
    if fmt == "jsonl":  # feeds without rows have no file in JSON lines
        assert seen >= expected - {"failures", "maintenance", "inspections"}
    else:
        assert seen == expected


def test_parquet_types_are_exactly_the_contract(tmp_path):
    simulate(config(tmp_path, format="parquet", gzip=True))
    import pyarrow.parquet as pq

    schema = pq.read_schema(next(tmp_path.rglob("telemetry.parquet")))
    assert schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert schema.field("machine_id").type == pa.string()
    schema = pq.read_schema(next(tmp_path.rglob("machines.parquet")))
    assert schema.field("install_date").type == pa.date32()
    assert pq.ParquetFile(next(tmp_path.rglob("telemetry.parquet"))).metadata.row_group(0).column(0).compression \
        == "GZIP"


def test_german_plants_write_the_german_export(tmp_path):
    german, plain = tmp_path / "de", tmp_path / "plain"
    simulate(config(german, plants=1, days=2))
    simulate(config(plain, plants=1, days=2, german_csv=False))
    folder = german / "plant=DE01" / "date=2026-01-02"
    body = json.loads((folder / MANIFEST).read_text())
    assert body["format"] == "german_csv"
    assert json.loads((plain / "plant=DE01" / "date=2026-01-02" / MANIFEST).read_text())["format"] == "plantlake"
    m = mapping.get("german_csv")
    raw = (folder / "maschinendaten.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # latin-1: the degree sign is one byte
    text = raw.decode("latin-1")
    header, first = text.split("\n")[:2]
    assert header.split(";")[:4] == ["Maschine", "Zeitstempel", "Intervall_s", "Temperatur_°C"]
    assert first.split(";")[1] == "02.01.2026 00:00"  # local midnight (23:00 UTC the day before)
    assert any("," in v for v in first.split(";")[3:]), "decimal comma"
    for f in body["files"]:
        feed = f["feed"]
        ours = read_typed(folder / f["path"], m, feed, "Europe/Berlin")
        name = formats.file_name(mapping.get("plantlake"), feed, "csv", False)
        theirs = read_typed(plain / "plant=DE01" / "date=2026-01-02" / name, mapping.get("plantlake"), feed, "UTC")
        assert ours.equals(theirs), feed


def test_events_lie_inside_the_plants_local_date(tmp_path):
    """Across the spring daylight-saving change in Europe; India is UTC+05:30."""
    cfg = config(tmp_path, start=dt.date(2026, 3, 28), days=3, plants=8, machines_per_plant=3, format="parquet")
    sim = Simulation(cfg)
    simulate(cfg)
    rows_per_machine = {}
    for folder, body in manifests(tmp_path):
        ref = DropRef.parse(body["drop"])
        tz = "UTC" if ref.source == "suppliers" else sim.network.by_id[ref.source].timezone
        for f in body["files"]:
            spec = contract(f["feed"])
            if not spec.event_time:
                continue
            table = read_typed(folder / f["path"], mapping.get(body["format"]), f["feed"], tz)
            local = table[spec.event_time].cast(pa.timestamp("us", tz=tz)).to_pandas()
            assert (local.dt.date == ref.date).all(), (ref.drop_id, f["feed"])
            minutes = table[spec.event_time].cast(pa.int64()).to_numpy() % 60_000_000
            assert (minutes == 0).all(), "whole minutes"
            if f["feed"] == "telemetry":
                rows_per_machine[(ref.source, ref.date)] = f["rows"] // cfg.machines_per_plant
    assert rows_per_machine[("DE01", dt.date(2026, 3, 29))] == 23 * 60
    assert rows_per_machine[("DE01", dt.date(2026, 3, 28))] == 24 * 60
    assert rows_per_machine[("IN01", dt.date(2026, 3, 29))] == 24 * 60


def test_chunking_bounds_memory_without_changing_the_output(tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "ROW_GROUP_ROWS", 1000)  # several row groups in a small file
    outputs = {}
    for fmt in ("csv", "parquet"):
        for chunk in (1, 3, 100):
            root = tmp_path / f"{fmt}-{chunk}"
            simulate(config(root, days=1, format=fmt, gzip=fmt == "csv", chunk_machines=chunk))
            outputs[(fmt, chunk)] = files(root)
        assert outputs[(fmt, 1)] == outputs[(fmt, 3)] == outputs[(fmt, 100)]

    cfg = config(tmp_path / "mem", plants=1, machines_per_plant=120, days=1)
    day = Simulation(cfg).plant_day("DE01", START)
    peaks = {}
    for chunk in (5, 120):
        tracemalloc.start()
        sizes = [t.num_rows for t in telemetry.chunks(day, chunk)]
        peaks[chunk] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert max(sizes) == chunk * day.minutes and sum(sizes) == day.telemetry_rows
    assert peaks[5] * 5 < peaks[120], peaks  # memory follows the chunk, not the day


def test_a_longer_telemetry_interval_averages_the_same_minutes(tmp_path):
    ten = dict(plants=1, machines_per_plant=2, days=1, format="parquet", telemetry_interval_s=600)
    simulate(config(tmp_path / "a", **ten))
    simulate(config(tmp_path / "b", **ten))
    assert files(tmp_path / "a") == files(tmp_path / "b")  # still deterministic
    day = Simulation(config(tmp_path / "a", **ten)).plant_day("DE01", START)
    minutes = pa.concat_tables(telemetry.chunks(day, 100)).to_pandas()
    tens = pa.concat_tables(telemetry.chunks(day, 100, 600)).to_pandas()
    assert len(tens) == telemetry.rows(day, 600) == 2 * day.minutes // 10 == len(minutes) // 10
    assert set(tens["interval_s"]) == {600} and (tens["ts"].dt.minute % 10 == 0).all()
    groups = [minutes["machine_id"].astype(str), minutes.index // 10]
    expected = minutes.groupby(groups, sort=False)[["temperature_c", "cycle_time_s"]].mean()
    assert tens["temperature_c"].to_numpy() == pytest.approx(expected["temperature_c"].to_numpy(), abs=0.051)
    assert tens["cycle_time_s"].isna().tolist() == expected["cycle_time_s"].isna().tolist()  # null: never ran
    written = read_typed(next((tmp_path / "a").rglob("telemetry.parquet")), mapping.get("plantlake"), "telemetry",
                         day.assets.plant.timezone)
    assert written.num_rows == len(tens)
    with pytest.raises(ValueError, match="telemetry-interval-s"):
        config(tmp_path, telemetry_interval_s=700)


def test_a_plant_joining_during_the_window_starts_at_its_join_date(tmp_path):
    cfg = config(tmp_path, plants=4, days=10, machines_per_plant=2)
    sim = Simulation(cfg)
    newcomer = sim.network.plants[-1]
    assert cfg.start < newcomer.joined_on <= cfg.end
    simulate(cfg)
    dates = sorted(p.name for p in (tmp_path / f"plant={newcomer.plant_id}").iterdir())
    assert dates[0] == f"date={newcomer.joined_on.isoformat()}"
    assert len(dates) == (cfg.end - newcomer.joined_on).days + 1
    assert len(list((tmp_path / "plant=DE01").iterdir())) == 10


def test_resend_same_content_is_byte_identical_changed_content_is_not(tmp_path):
    cfg = config(tmp_path)
    simulate(cfg)
    before = files(tmp_path)
    manifest = tmp_path / "plant=US01" / "date=2026-01-02" / MANIFEST
    resend_drop(cfg, "plant=US01/date=2026-01-02")
    assert files(tmp_path) == before
    resend_drop(cfg, "plant=US01/date=2026-01-02", revision=1)
    changed = files(tmp_path)
    assert changed[str(manifest.relative_to(tmp_path))] != before[str(manifest.relative_to(tmp_path))]
    assert {k for k in changed if changed[k] != before[k]} <= {k for k in changed if "US01/date=2026-01-02" in k}
    resend_drop(cfg, "suppliers/date=2026-01-03", revision=2)
    assert files(tmp_path) != changed
    with pytest.raises(ValueError, match="not a drop"):
        resend_drop(cfg, "plant=US01/date=2027-01-02")


def test_lands_on_s3(s3, tmp_path):
    settings = Settings.from_env({**os.environ, **s3.env})
    landing = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/landing"
    cfg = config(landing, days=2, gzip=True, messy=True, settings=settings)
    simulate(cfg)
    local = tmp_path / "local"
    simulate(config(local, days=2, gzip=True, messy=True))
    remote = storage.list_files(landing, settings)
    names = sorted(u[len(landing) + 1:] for u in remote)
    assert names == sorted(files(local))
    for name, data in files(local).items():
        assert storage.read_bytes(storage.join(landing, name), settings) == data, name
    before = {d.drop_id: d.manifest.sha256 for d in list_complete(landing, settings=settings)}
    assert len(before) == len(manifests(local))
    drop = next(d for d in sorted(before) if d.startswith("plant="))
    resend_drop(cfg, drop, revision=1)
    after = {d.drop_id: d.manifest.sha256 for d in list_complete(landing, settings=settings)}
    assert after[drop] != before[drop] and {d: after[d] for d in before if d != drop} == {
        d: before[d] for d in before if d != drop}


runner = CliRunner()


def test_cli_simulate(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    args = ["simulate", "--landing", str(landing), "--start", "2026-01-01", "--days", "2", "--plants", "2",
            "--machines-per-plant", "3", "--suppliers", "4", "--locations", "8", "--format", "jsonl", "--gzip"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "plant drops" in result.output and "telemetry" in result.output
    assert len(manifests(landing)) == 2 * 2 + 2
    assert next(landing.rglob("telemetry.jsonl.gz"))

    monkeypatch.setenv("PLANTLAKE_LANDING_URI", str(tmp_path / "default"))
    result = runner.invoke(app, ["simulate", "--start", "2026-01-01", "--days", "1", "--plants", "1",
                                 "--machines-per-plant", "2", "--suppliers", "2", "--locations", "2", "--messy"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "default" / "plant=DE01" / "date=2026-01-01").is_dir()

    result = runner.invoke(app, ["simulate", "--start", "2026-01-01", "--suppliers", "5", "--locations", "2"])
    assert result.exit_code == 2 and "--locations" in result.output
    result = runner.invoke(app, ["simulate", "--start", "01.01.2026"])
    assert result.exit_code == 2
