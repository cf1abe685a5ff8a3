"""The mapping language for exports nobody here wrote: declared ship-to plants, derived master rows, recoding,
per-column formats and null tokens, free text as null with its reason, currency rates, same_as both ways,
ignore_unmapped and plain validation errors. Each test reads one small drop (no Spark)."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from sources import mapping as mappings
from sources.reader import KnownIds
from tests.dropkit import DAY, csv_bytes, read, write_drop

HEADERS = ["Ref", "Vendor", "Site", "Ship To", "Item", "Qty", "Due", "Arrived", "Mode", "Freight USD", "Note"]
SUPPLIER_MAPPING = {
    "name": "vendor_portal",
    "description": "a vendor portal's delivery export",
    "scope": "supplier",
    "dialect": {"format": "csv", "null_tokens": [""]},
    "master": {"plants": [{"plant_id": "KE01", "name": "Nairobi depot"}]},
    "derive": {
        "suppliers": {"from": "shipments", "columns": {"supplier_id": "supplier_id", "name": "supplier_id"}},
        "supplier_locations": {"from": "shipments", "columns": {"location_id": "location_id",
                                                                "supplier_id": "supplier_id"}},
        "parts": {"from": "shipments", "columns": {"part_id": "part_id"}},
    },
    "feeds": {"shipments": {
        "file": "deliveries*.csv",
        "ignore_unmapped": True,
        "columns": {
            "Ref": "shipment_id", "Vendor": "supplier_id", "Site": "location_id", "Ship To": "plant_id",
            "Item": "part_id", "Qty": "ordered_qty",
            "Due": {"to": "promised_at", "format": ["%d-%b-%y", "%m/%d/%y"]},
            "Arrived": {"to": "delivered_at", "format": ["%d-%b-%y", "%m/%d/%y"], "null_tokens": ["pending"]},
            "Mode": {"to": "transport_mode", "recode": {"Air": "air", "Truck": "road", "Ocean": "sea"},
                     "null_tokens": ["N/A"]},
            "Freight USD": {"to": "freight_cost_eur", "unit": "USD", "unparsable": "null"},
        },
        "same_as": {"updated_at": "delivered_at"},
        "constants": {"status": "delivered"},
    }},
}


def delivery(ref: str, **changes: str) -> dict[str, str]:
    row = {"Ref": ref, "Vendor": "Acme, Ltd.", "Site": "Acme Pune", "Ship To": "KE01", "Item": "Widget",
           "Qty": "10", "Due": "6-Jan-26", "Arrived": "1/5/26", "Mode": "Air", "Freight USD": "100", "Note": "x"}
    return {**row, **changes}


@pytest.fixture()
def portal(tmp_path, monkeypatch, installed_mappings):
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,eur_per_unit\n2025-12-01,USD,0.9\n2026-01-05,USD,0.8\n")
    monkeypatch.setenv("PLANTLAKE_FX_RATES", str(rates))
    installed_mappings(SUPPLIER_MAPPING)
    return tmp_path


def portal_drop(landing, rows: list[dict], day: dt.date = DAY, eol: str = "\r"):
    data = csv_bytes(rows, eol=eol) if rows else ",".join(HEADERS).encode()
    return write_drop(str(landing), {"deliveries.csv": ("shipments", data, len(rows))}, source="suppliers",
                      day=day, mapping="vendor_portal")


def test_a_supplier_export_onboards_with_declared_plants_and_derived_master_rows(portal):
    rows = [delivery("D1"), delivery("D2", Mode="Ocean", Due="1/4/26", **{"Freight USD": "Included in price"}),
            delivery("D3", Mode="N/A", Vendor="Beta", Site="Beta Lyon")]
    result = read(portal_drop(portal / "landing", rows), KnownIds())
    ships = {r["shipment_id"]: r for r in result.feeds["shipments"].bronze.to_pylist()}
    assert set(ships) == {"D1", "D2", "D3"} and result.reconciles
    assert ships["D1"]["transport_mode"] == "air" and ships["D2"]["transport_mode"] == "sea"
    assert ships["D1"]["freight_cost_eur"] == pytest.approx(80.0)  # 100 USD at the 2026-01-05 rate
    assert ships["D2"]["freight_cost_eur"] is None and ships["D2"]["promised_at"].date() == dt.date(2026, 1, 4)
    assert ships["D1"]["updated_at"] == ships["D1"]["delivered_at"]
    nulled = result.feeds["shipments"].nulled.to_pylist()
    assert [(n["_source_row"], n["column"], n["value"]) for n in nulled] == [(2, "freight_cost_eur",
                                                                               "Included in price")]
    assert "is not a number" in nulled[0]["reason"] and "'Freight USD'" in nulled[0]["reason"]
    plants = result.feeds["plants"].bronze.to_pylist()
    assert [(p["plant_id"], p["name"], p["timezone"], p["region"]) for p in plants] == [
        ("KE01", "Nairobi depot", None, None)]  # declared; what the export does not say stays unknown
    suppliers = result.feeds["suppliers"].bronze.to_pylist()
    assert sorted((s["supplier_id"], s["name"], s["country"], s["tier"]) for s in suppliers) == [
        ("Acme, Ltd.", "Acme, Ltd.", None, None), ("Beta", "Beta", None, None)]
    assert {loc["location_id"]: loc["supplier_id"] for loc in result.feeds["supplier_locations"].bronze.to_pylist()
            } == {"Acme Pune": "Acme, Ltd.", "Beta Lyon": "Beta"}
    assert result.mapping_rows == 1 + 2 + 2 + 1 and result.bronze_rows == 3
    # a second night: the keys are known now, so no master row is landed again
    known = KnownIds().learn(result)
    again = read(portal_drop(portal / "landing", [delivery("D4", Arrived="6-Jan-26", Due="6-Jan-26")],
                             day=DAY + dt.timedelta(days=1)), known)
    assert again.mapping_rows == 0 and again.bronze_rows == 1
    assert {feed: r.bronze.num_rows for feed, r in again.feeds.items()} == {"plants": 0, "shipments": 1}


def test_every_broken_rule_of_a_row_and_money_without_a_rate_are_recorded(portal):
    rows = [delivery("E1", Qty="-3", Mode="Rocket"), delivery("E2", Arrived="pending")]
    result = read(portal_drop(portal / "landing", rows), KnownIds())
    got = [(q["_source_row"], q["rule"]) for q in result.feeds["shipments"].quarantine.to_pylist()]
    assert got == [(1, "range"), (1, "allowed"), (2, "required"), (2, "rule:delivered_has_time")]  # no "unit":
    # a row whose day is unknown has no rate to miss
    assert result.quarantined_rows == 2 and result.reconciles
    early = read(portal_drop(portal / "early", [delivery("E3", Arrived="30-Nov-25", Due="30-Nov-25")],
                             day=dt.date(2025, 11, 30)), KnownIds())
    (q,) = early.feeds["shipments"].quarantine.to_pylist()
    assert q["rule"] == "unit" and "'100' USD has no USD rate on or before its day" in q["reason"]


def test_same_as_written_the_wrong_way_round_says_how_to_write_it():
    bad = {**SUPPLIER_MAPPING, "feeds": {"shipments": {**SUPPLIER_MAPPING["feeds"]["shipments"],
                                                       "same_as": {"delivered_at": "updated_at"}}}}
    with pytest.raises(ValueError, match=r"write same_as: \{updated_at: delivered_at\}"):
        mappings.Mapping(**bad)


def test_validation_errors_are_one_plain_sentence_each(tmp_path):
    path = tmp_path / "bad.yaml"
    broken = {**SUPPLIER_MAPPING, "feeds": {"shipments": {**SUPPLIER_MAPPING["feeds"]["shipments"],
                                                          "columns": {"Ref": {"to": "shipment_id", "fromat": "x"}}}}}
    path.write_text(yaml.safe_dump(broken))
    with pytest.raises(ValueError) as error:
        mappings.load(path)
    message = str(error.value)
    assert message.endswith("feeds.shipments.columns.Ref.fromat: is not a field a mapping knows (misspelt?)")
    assert "pydantic" not in message and "\n" not in message and "input_value" not in message
    path.write_text(yaml.safe_dump({**SUPPLIER_MAPPING, "derive": {"suppliers": {"from": "shipments",
                                                                                 "columns": {"name": "supplier_id"}}}}))
    with pytest.raises(ValueError, match="its key supplier_id must come from a column of shipments"):
        mappings.load(path)


PLANT_MAPPING = {
    "name": "cmms_failures",
    "description": "a maintenance system's failure log: machines named, nothing else said about them",
    "scope": "plant",
    "dialect": {"format": "csv"},
    "master": {"plants": [{"plant_id": "DE01", "name": "Werk Eins", "timezone": "UTC"}],
               "lines": [{"line_id": "DE01-L01", "name": "Presse 1", "line_type": "press", "ideal_cycle_time_s": 30,
                          "planned_shifts": 3, "shift_minutes": 480}]},
    "derive": {"machines": {"from": "failures", "columns": {"machine_id": "machine_id"},
                            "constants": {"line_id": "DE01-L01", "machine_type": "press"}}},
    "feeds": {"failures": {"file": "failures*.csv",
                           "columns": {"Asset": "machine_id", "When": "failed_at", "Part": "component"}}},
}


def test_a_plant_export_derives_its_machines_with_what_it_does_not_say_left_unknown(tmp_path, installed_mappings):
    installed_mappings(PLANT_MAPPING)
    rows = [{"Asset": "M7", "When": "2026-01-05T08:00:00Z", "Part": "spindle"},
            {"Asset": "M9", "When": "2026-01-05T09:00:00Z", "Part": "pump"},
            {"Asset": "M7", "When": "2026-01-05T10:00:00Z", "Part": "belt"}]
    drop = write_drop(str(tmp_path / "landing"), {"failures.csv": ("failures", csv_bytes(rows), 3)},
                      source="DE01", mapping="cmms_failures")
    result = read(drop, KnownIds())
    assert result.feeds["failures"].bronze.num_rows == 3 and result.reconciles
    machines = sorted(result.feeds["machines"].bronze.to_pylist(), key=lambda m: m["machine_id"])
    assert [(m["machine_id"], m["line_id"], m["machine_type"]) for m in machines] == [
        ("M7", "DE01-L01", "press"), ("M9", "DE01-L01", "press")]
    for machine in machines:  # what the failure log does not say stays unknown, not invented
        assert (machine["model"], machine["install_date"], machine["criticality"],
                machine["downtime_cost_eur_h"]) == (None, None, None, None)


def test_derive_refuses_a_column_the_contract_does_not_allow_to_be_unknown():
    derive = {"machines": {"from": "failures", "columns": {"machine_id": "machine_id"},
                           "constants": {"machine_type": "press"}}}
    with pytest.raises(ValueError, match=r"derive machines: line_id must come from a column of failures or from "
                                         r"constants: \(the machines contract does not allow them to be unknown; "
                                         r"the columns it allows to be unknown are: model, install_date, "
                                         r"criticality\)"):
        mappings.Mapping(**{**PLANT_MAPPING, "derive": derive})
    with pytest.raises(ValueError, match="derive machines: model is both a constant and a column of failures"):
        mappings.Mapping(**{**PLANT_MAPPING, "derive": {"machines": {
            **PLANT_MAPPING["derive"]["machines"], "columns": {"machine_id": "machine_id", "model": "component"},
            "constants": {"line_id": "L", "machine_type": "press", "model": "X"}}}})


def test_a_column_the_export_does_not_have_is_declared_unknown_not_made_up(tmp_path, installed_mappings):
    """An asset list without install dates: ``unknown: [install_date]`` lands its machines with the date null
    (the contract allows it to be unknown), said so in the reasons; without the declaration the same file is
    quarantined whole as missing_column, and a column the contract requires cannot be declared unknown."""
    machines = {"file": "assets*.csv", "columns": {"Asset": "machine_id", "Line": "line_id", "Type": "machine_type",
                                                    "Model": "model", "Class": "criticality"}}
    told = {**PLANT_MAPPING, "name": "asset_list", "derive": {}, "feeds": {"machines": {**machines,
                                                                                        "unknown": ["install_date"]}}}
    silent = {**told, "name": "asset_list_silent", "feeds": {"machines": machines}}
    installed_mappings(told, silent)
    rows = [{"Asset": "M7", "Line": "DE01-L01", "Type": "press", "Model": "P-200", "Class": "B"},
            {"Asset": "M9", "Line": "DE01-L01", "Type": "press", "Model": "P-200", "Class": "Z"}]
    results = {}
    for name in ("asset_list", "asset_list_silent"):
        drop = write_drop(str(tmp_path / name), {"assets.csv": ("machines", csv_bytes(rows), 2)}, source="DE01",
                          mapping=name)
        results[name] = read(drop, KnownIds())
    told_result, silent_result = results["asset_list"], results["asset_list_silent"]
    assert told_result.reconciles and silent_result.reconciles
    [machine] = told_result.feeds["machines"].bronze.to_pylist()
    assert (machine["machine_id"], machine["model"], machine["criticality"], machine["install_date"]) == (
        "M7", "P-200", "B", None)
    [bad] = told_result.feeds["machines"].quarantine.to_pylist()  # the other rules still hold for its rows
    assert bad["rule"] == "allowed" and "criticality" in bad["reason"]
    quarantined = silent_result.feeds["machines"].quarantine.to_pylist()
    assert silent_result.feeds["machines"].bronze.num_rows == 0 and len(quarantined) == 2
    assert {q["rule"] for q in quarantined} == {"missing_column"} and "install_date" in quarantined[0]["reason"]
    with pytest.raises(ValueError, match=r"machines: unknown: line_id cannot be unknown \(the machines contract "
                                         r"does not allow them to be unknown; the columns it allows to be unknown "
                                         r"are: model, install_date, criticality\)"):
        lineless = {h: c for h, c in machines["columns"].items() if c != "line_id"}
        mappings.Mapping(**{**told, "feeds": {"machines": {**machines, "columns": lineless, "unknown": ["line_id"]}}})
    with pytest.raises(ValueError, match="machines: model both unknown and given a source"):
        mappings.Mapping(**{**told, "feeds": {"machines": {**machines, "unknown": ["model"]}}})
    with pytest.raises(ValueError, match="'install_dat' is not a column of the machines contract"):
        mappings.Mapping(**{**told, "feeds": {"machines": {**machines, "unknown": ["install_dat"]}}})
