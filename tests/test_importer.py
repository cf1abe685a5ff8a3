"""`plantlake import`: the real Azure PdM export becomes nightly drops that read back without loss."""

from __future__ import annotations

import datetime as dt
import gzip
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.settings import Settings
from orchestration.cli import app
from sources.importer import ImportFailed, import_source
from sources.landing import list_complete
from sources.reader import KnownIds, read_drop
from tests.dropkit import GOOD, csv_bytes, jsonl_bytes, parquet_bytes, row

AZURE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "azure_pdm"
#: Data rows of the five source files (their README; the test recounts them from the files too).
AZURE_ROWS = {"PdM_telemetry.csv": 43_200, "PdM_errors.csv": 3_919, "PdM_maint.csv": 3_286,
              "PdM_failures.csv": 761, "PdM_machines.csv": 100}

pytestmark = pytest.mark.skipif(not AZURE.is_dir(), reason=f"the Azure PdM export is not at {AZURE}")


@pytest.fixture(scope="module")
def azure_landing(tmp_path_factory) -> str:
    """The Azure export imported once through the command line."""
    landing = str(tmp_path_factory.mktemp("azure") / "landing")
    result = CliRunner().invoke(app, ["import", "--mapping", "azure_pdm", "--source", str(AZURE),
                                      "--landing", landing])
    assert result.exit_code == 0, result.output
    assert "all 51,266 source rows are in them" in result.output
    return landing


@pytest.fixture(scope="module")
def azure_drops(azure_landing):
    return list_complete(azure_landing, settings=Settings.from_env())


def test_the_import_reproduces_the_exact_row_counts_of_the_source_files(azure_drops):
    counted = {name: len((AZURE / name).read_bytes().splitlines()) - 1 for name in AZURE_ROWS}
    assert counted == AZURE_ROWS
    in_drops = Counter()
    for drop in azure_drops:
        for f in drop.manifest.files:
            in_drops[f.path] += f.rows
    assert dict(in_drops) == AZURE_ROWS
    days = sorted(d.ref.date for d in azure_drops)
    assert days[0] == dt.date(2014, 6, 1) and days[-1] == dt.date(2016, 1, 1) and len(set(days)) == len(days)
    assert {d.manifest.format for d in azure_drops} == {"azure_pdm"}
    first = azure_drops[0]
    assert first.ref.date == days[0] and "PdM_machines.csv" in [f.path for f in first.manifest.files]


def test_lines_are_copied_verbatim_with_the_header(azure_landing):
    day = Path(azure_landing) / "plant=US-AZ1" / "date=2015-01-05" / "PdM_telemetry.csv"
    lines = day.read_bytes().splitlines()
    source = (AZURE / "PdM_telemetry.csv").read_bytes().splitlines()
    assert lines[0] == source[0] == b"datetime,machineID,volt,rotate,pressure,vibration"
    assert len(lines) == 1 + 24 * 20 and set(lines[1:]) <= set(source[1:])


def test_every_drop_reads_back_with_nothing_quarantined(azure_drops):
    known = KnownIds()
    totals: Counter = Counter()
    samples = {}
    for drop in azure_drops:
        result = read_drop(drop, known, run_id="azure", ingested_at=dt.datetime.now(dt.UTC))
        assert result.quarantined_rows == 0, [q for f in result.feeds.values() for q in f.quarantine.to_pylist()][:3]
        # the mapping's plant and line, and its registries: four sensors, four components
        assert result.reconciles and result.mapping_rows == 2 + 4 + 4
        known = known.learn(result)
        for feed, got in result.feeds.items():
            totals[feed] += got.bronze_rows
            if got.bronze_rows and feed not in samples:
                samples[feed] = got.bronze.to_pylist()[0]
    assert dict(totals) == {"machines": 100, "telemetry": 43_200, "downtime_events": 3_919, "maintenance": 3_286,
                            "failures": 761, "plants": 0, "lines": 0, "sensors": 0, "components": 0}
    assert samples["machines"]["machine_id"] == "US-AZ1-M001"
    assert samples["machines"]["install_date"] == dt.date(1997, 1, 1)  # age 18 on 2015-01-01
    assert (samples["machines"]["machine_type"], samples["machines"]["line_id"]) == ("generic", "US-AZ1-L01")
    event = samples["downtime_events"]
    assert event["end_ts"] == event["start_ts"] and (event["category"], event["code"]) == ("alarm", "error1")
    assert samples["telemetry"]["interval_s"] == 3600 and samples["telemetry"]["ts"].tzinfo is not None
    assert samples["maintenance"]["maintenance_type"] == "unspecified"
    assert samples["failures"]["component"] in {"comp1", "comp2", "comp3", "comp4"}
    assert known.timezones == {"US-AZ1": "UTC"} and len(known.ids["machines"]) == 100


def test_importing_again_writes_identical_drops(azure_landing, azure_drops):
    again = import_source("azure_pdm", AZURE, azure_landing)
    assert again.accounted and again.files == AZURE_ROWS
    relisted = {d.drop_id: d.manifest.sha256 for d in list_complete(azure_landing, settings=Settings.from_env())}
    assert relisted == {d.drop_id: d.manifest.sha256 for d in azure_drops}


def test_a_contradicting_plant_id_is_refused(tmp_path):
    with pytest.raises(ImportFailed, match="--plant-id DE01 contradicts"):
        import_source("azure_pdm", AZURE, str(tmp_path), plant_id="DE01")


# -- small exports in other formats ----------------------------------------------------------------
def export(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def two_days() -> list[dict]:
    return [row("telemetry", ts="2026-01-05T08:00:00Z"), row("telemetry", ts="2026-01-05T23:30:00Z"),
            row("telemetry", ts="2026-01-06T08:00:00Z")]


def test_rows_are_dated_in_the_plants_zone_and_crlf_gzip_survive(tmp_path):
    telemetry = gzip.compress(csv_bytes(two_days(), eol="\r\n"), mtime=0)
    folder = export(tmp_path / "export", {
        "plants.csv": csv_bytes([GOOD["plants"]]), "lines.csv": csv_bytes([GOOD["lines"]]),
        "machines.csv": csv_bytes([GOOD["machines"]]), "telemetry.csv.gz": telemetry, "README.md": b"notes"})
    landing = str(tmp_path / "landing")
    report = import_source("plantlake", folder, landing)
    assert report.source == "DE01" and report.timezone == "Europe/Berlin"
    # 23:30Z on the 5th is the 6th in Berlin
    assert report.drops == {
        "plant=DE01/date=2026-01-05": {"lines.csv": 1, "machines.csv": 1, "plants.csv": 1, "telemetry.csv.gz": 1},
        "plant=DE01/date=2026-01-06": {"telemetry.csv.gz": 2}}
    copied = gzip.decompress((tmp_path / "landing/plant=DE01/date=2026-01-06/telemetry.csv.gz").read_bytes())
    assert copied.count(b"\r\n") == 3 and copied.startswith(b"machine_id,ts,")
    known = KnownIds()
    for drop in list_complete(landing, settings=Settings.from_env()):
        result = read_drop(drop, known, run_id="t", ingested_at=dt.datetime.now(dt.UTC))
        assert result.quarantined_rows == 0 and result.reconciles
        known = known.learn(result)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_json_lines_and_parquet_exports(tmp_path, fmt):
    data = jsonl_bytes(two_days()) if fmt == "jsonl" else parquet_bytes(two_days(), "telemetry")
    folder = export(tmp_path / "export", {"plants.csv": csv_bytes([GOOD["plants"]]), f"telemetry.{fmt}": data})
    report = import_source("plantlake", folder, str(tmp_path / "landing"))
    assert report.rows_by_file() == {"plants.csv": 1, f"telemetry.{fmt}": 3} and report.accounted
    drops = list_complete(str(tmp_path / "landing"), settings=Settings.from_env())
    assert [d.manifest.rows for d in drops] == [2, 2]


def test_rows_without_a_day_stop_the_import_naming_file_and_row(tmp_path):
    rows = [*two_days(), row("telemetry", ts="gestern")]
    folder = export(tmp_path / "export", {"plants.csv": csv_bytes([GOOD["plants"]]),
                                          "telemetry.csv": csv_bytes(rows) + b"DE01-M001,2026-01-05T09:00:00Z\n"})
    landing = tmp_path / "landing"
    with pytest.raises(ImportFailed) as failed:
        import_source("plantlake", folder, str(landing))
    message = str(failed.value)
    assert "2 rows cannot be given a day, nothing was written" in message
    assert "telemetry.csv row 4: ts = 'gestern' is not a timestamp" in message
    assert "telemetry.csv row 5: row has 2 fields, the header has 10" in message
    assert not landing.exists()


def test_the_command_fails_clearly(tmp_path):
    result = CliRunner().invoke(app, ["import", "--mapping", "azure_pdm", "--source", str(tmp_path),
                                      "--landing", str(tmp_path / "landing")])
    assert result.exit_code == 1
