"""The shipped mappings and the mapping model: German CSV, the simulator's format, extensions, lookup."""

from __future__ import annotations

import datetime as dt
import re
import runpy
import zoneinfo
from pathlib import Path

import pytest
import yaml

from lakehouse.catalog import DATE, FLOAT64, TIMESTAMP
from sources import contracts
from sources import mapping as mappings
from sources.contracts import CONTRACTS
from sources.mapping import Mapping
from tests.dropkit import DAY, GOOD, KNOWN, csv_bytes, read, row, write_drop

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
GERMAN = mappings.get("german_csv")


def german(feed: str, values: dict[str, str]) -> dict[str, str]:
    """A row as the German MES writes it: German headers, local time, decimal comma, '-' for null."""
    spec = CONTRACTS[feed]
    out = {}
    for f in spec.fields:
        value = values.get(f.name, "")
        if value and f.type == TIMESTAMP:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            value = when.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")
        elif value and f.type == DATE:
            value = dt.date.fromisoformat(value).strftime("%d.%m.%Y")
        elif value and f.type == FLOAT64:
            value = value.replace(".", ",")
        out[GERMAN.source_header(feed, f.name)] = value or "-"
    for header, sensor in GERMAN.sensor_maps(feed).items():  # a sensor feed's values, under their headers
        out[header] = values.get(sensor.sensor, "").replace(".", ",") or "-"
    return out


def german_drop(landing: str, telemetry: list[dict[str, str]], day: dt.date = DAY):
    files = {}
    for feed in ("plants", "lines", "machines"):
        name = GERMAN.feeds[feed].file
        files[name] = (feed, csv_bytes([german(feed, GOOD[feed])], delimiter=";", encoding="latin-1"), 1)
    files["maschinendaten.csv"] = ("telemetry", csv_bytes(telemetry, delimiter=";", encoding="latin-1"),
                                   len(telemetry))
    return write_drop(landing, files, mapping="german_csv", day=day)


def test_german_csv_latin1_semicolon_decimal_comma_berlin_time(tmp_path):
    rows = [german("telemetry", row("telemetry", temperature_c="21.75", current_a="")),
            german("telemetry", row("telemetry", ts="2026-01-05T08:01:00Z"))]
    rows[1]["Temperatur_°C"] = "abc"
    drop = german_drop(str(tmp_path), rows)
    assert "Temperatur_°C".encode("latin-1") in (tmp_path / drop.drop_id / "maschinendaten.csv").read_bytes()
    result = read(drop)
    got = result.feeds["telemetry"]
    [good] = got.bronze.to_pylist()
    assert good["ts"] == dt.datetime(2026, 1, 5, 8, tzinfo=dt.UTC)  # 09:00 in Berlin
    readings = dict(good["readings"])
    assert (readings["temperature_c"], "current_a" in readings, good["machine_id"]) == (21.75, False, "DE01-M001")
    assert result.feeds["machines"].bronze.column("install_date").to_pylist() == [dt.date(2015, 3, 1)]
    [bad] = got.quarantine.to_pylist()
    assert bad["rule"] == "type" and "temperature_c (from 'Temperatur_°C') = 'abc'" in bad["reason"]
    assert bad["raw_line"] == "DE01-M001;05.01.2026 09:01;60;abc;2,5;30;100;31;400;1500"
    assert result.reconciles


def test_german_csv_at_the_dst_changes(tmp_path):
    """25.10.2026 02:30 happens twice in Berlin (the earlier is taken); 29.03.2026 02:30 never happens."""
    autumn = dict(german("telemetry", row("telemetry")), Zeitstempel="25.10.2026 02:30")
    got = read(german_drop(str(tmp_path / "autumn"), [autumn], dt.date(2026, 10, 25))).feeds["telemetry"]
    assert got.bronze.column("ts").to_pylist() == [dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC)]
    spring = dict(german("telemetry", row("telemetry")), Zeitstempel="29.03.2026 02:30")
    got = read(german_drop(str(tmp_path / "spring"), [spring], dt.date(2026, 3, 29))).feeds["telemetry"]
    assert got.quarantine.column("rule").to_pylist() == ["type"]
    assert "'29.03.2026 02:30' is not a valid timestamp (%d.%m.%Y %H:%M, local zone Europe/Berlin)" in \
        got.quarantine.column("reason")[0].as_py()


def test_german_dates_like_31_02_are_type_errors(tmp_path):
    bad = german("machines", row("machines", machine_id="DE01-M002"))
    bad["Inbetriebnahme"] = "31.02.2026"
    files = {"maschinen.csv": ("machines", csv_bytes([german("machines", GOOD["machines"]), bad], delimiter=";",
                                                     encoding="latin-1"), 2)}
    got = read(write_drop(str(tmp_path), files, mapping="german_csv"), KNOWN).feeds["machines"]
    assert [(q["_source_row"], q["rule"]) for q in got.quarantine.to_pylist()] == [(2, "type")]


def test_shipped_mappings_load_and_are_found_by_name():
    assert {"plantlake", "plantlake_suppliers", "german_csv", "azure_pdm"} <= set(mappings.builtin_names())
    for name in mappings.builtin_names():
        assert mappings.get(name).name == name
    assert mappings.default_for("supplier").name == "plantlake_suppliers"


def test_mappings_dir_adds_and_overrides_mappings(tmp_path, monkeypatch):
    (tmp_path / "acme.yaml").write_text(
        "name: acme\ndescription: d\nscope: plant\nfeeds:\n  telemetry: {file: 't.csv'}\n")
    monkeypatch.setenv("PLANTLAKE_MAPPINGS_DIR", str(tmp_path))
    assert mappings.get("acme").feeds["telemetry"].file == "t.csv"
    assert mappings.get(tmp_path / "acme.yaml").source == tmp_path / "acme.yaml"


def base(**feed) -> dict:
    return {"name": "m", "description": "d", "scope": "plant", "feeds": {"downtime_events": {"file": "e.csv", **feed}}}


def test_same_as_and_age_at_extend_the_model():
    m = Mapping(**base(columns={"when": "start_ts"}, same_as={"end_ts": "start_ts"}))
    assert "end_ts" not in {c.to for c in m.column_maps("downtime_events").values()}
    machines = {"name": "m", "description": "d", "scope": "plant",
                "feeds": {"machines": {"file": "m.csv", "columns": {"age": {"to": "install_date",
                                                                            "age_at": "2015-01-01"}}}}}
    assert Mapping(**machines).column_maps("machines")["age"].age_at == dt.date(2015, 1, 1)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (base(same_as={"end_ts": "nope"}), "'nope' is not a column"),
        (base(same_as={"end_ts": "code"}), "different types"),
        (base(columns={"x": "end_ts"}, same_as={"end_ts": "start_ts"}), "conflicts"),
        (base(columns={"x": {"to": "start_ts", "age_at": "2015-01-01"}}), "age_at needs a date column"),
        (base(columns={"x": {"to": "machine_id", "template": "M-001"}}), "must contain"),
        (base(dialect={"timezone": "Mars/Olympus"}), "IANA zone"),
        ({**base(), "master": {"lines": [{"line_id": "L1", "colour": "red"}]}}, "colour not columns"),
        ({**base(), "master": {"telemetry": [{}]}}, "only be declared for master feeds"),
    ],
)
def test_invalid_mappings_are_refused_at_load(data, message):
    with pytest.raises(ValueError, match=message):
        Mapping(**data)


ROOT = Path(__file__).resolve().parents[1]


def test_docs_example_mapping_is_valid():
    section = (ROOT / "docs" / "feeds.md").read_text().split("## Onboarding a plant with a mapping", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    mapping = Mapping(**yaml.safe_load(example))
    assert mapping.sensor_maps("telemetry")["Teplota_F"].source_unit == "degF"
    assert mapping.feeds["downtime_events"].same_as == {"end_ts": "start_ts"}


def test_docs_contract_reference_is_generated_from_the_contracts(tmp_path):
    """`make docs` writes docs/reference/contracts.md from the contracts on every build."""
    runpy.run_path(str(ROOT / "docs" / "gen_reference.py"))["main"](tmp_path)
    assert contracts.markdown() in (tmp_path / "contracts.md").read_text()
