"""The GX suites and runner: what passes, what fails, and how a failure is reported."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pytest

import expectations
from bench.expectations_bench import telemetry
from expectations import Outcome, suite_for, validate
from expectations.suites import gx_suite
from lakehouse import catalog
from lakehouse.gold_tables import MACHINE_SENSOR_DAILY
from sources import mapping as mappings

if TYPE_CHECKING:
    import great_expectations as gx

DAY = dt.date(2026, 1, 5)
UTC = dt.UTC


def table(name: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=catalog.get(name).schema)


def oee_rows(lines: int = 4) -> list[dict]:
    return [
        {
            "date": DAY, "plant_id": "DE01", "line_id": f"DE01-L{i}", "ideal_cycle_time_s": 30.0,
            "planned_minutes": 960.0, "run_minutes": 840.0, "total_count": 1600, "good_count": 1568,
            "availability": 0.875, "performance": 0.952, "quality": 0.98, "oee": 0.816,
        }
        for i in range(lines)
    ]


def production_rows(shifts: int = 3) -> list[dict]:
    rows = []
    for shift in range(1, shifts + 1):
        start = dt.datetime(2026, 1, 5, 6 + 8 * (shift - 1), tzinfo=UTC)
        rows.append({
            "date": DAY, "plant_id": "DE01", "line_id": "DE01-L1", "shift": shift, "shift_start": start,
            "shift_end": start + dt.timedelta(hours=8), "planned_minutes": 450.0, "run_minutes": 400.0,
            "total_count": 780, "good_count": 770, "_source_file": "plant=DE01/date=2026-01-05/production.csv",
            "_source_row": shift, "_ingested_at": dt.datetime(2026, 1, 6, 1, tzinfo=UTC), "_run_id": "test",
        })
    return rows


#: What the orchestration passes for bronze.production (the contract's ranges).
PRODUCTION_RANGES = {"shift": (1, 3), "planned_minutes": (0, 1440), "run_minutes": (0, 1440),
                     "total_count": (0, 1e12), "good_count": (0, 1e12)}


def only_failure(outcome: Outcome, expectation: str):
    assert not outcome.success
    found = [f for f in outcome.failures if f.expectation == expectation]
    assert len(found) == 1, outcome.failures
    return found[0]


def test_a_good_table_passes():
    spec = catalog.get("gold.oee_daily")
    outcome = validate(spec, table(spec.name, oee_rows()))
    assert outcome.success, outcome.failures
    assert (outcome.rows, outcome.failures, outcome.skipped) == (4, [], [])
    assert outcome.evaluated == len(suite_for(spec).expectations)
    assert outcome.summary() == f"gold.oee_daily: 4 rows, all {outcome.evaluated} expectations met"


def test_a_good_table_with_contract_ranges_passes():
    spec = catalog.get("bronze.production")
    outcome = validate(spec, table(spec.name, production_rows()), suite_for(spec, ranges=PRODUCTION_RANGES))
    assert outcome.success, outcome.failures


def test_null_in_a_not_null_column():
    rows = oee_rows()
    rows[2]["plant_id"] = None
    failure = only_failure(validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows)),
                           "expect_column_values_to_not_be_null")
    assert failure.column == "plant_id"
    assert (failure.unexpected_count, failure.unexpected_percent) == (1, 25.0)
    assert failure.examples == [{"date": "2026-01-05", "line_id": "DE01-L2", "plant_id": None}]
    assert failure.description == "1 of 4 rows have no plant_id, which the catalog declares not null"


def test_duplicate_natural_key():
    rows = oee_rows()
    rows[3]["line_id"] = rows[1]["line_id"]
    failure = only_failure(validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows)),
                           "expect_compound_columns_to_be_unique")
    assert failure.column == ["date", "line_id"]
    assert failure.unexpected_count == 2
    assert failure.examples == [{"date": "2026-01-05", "line_id": "DE01-L1"}] * 2
    assert "natural key (date, line_id)" in failure.description


def test_single_column_natural_key_duplicate():
    dim = catalog.get("silver.dim_supplier")
    rows = [{"supplier_id": "S1", "name": n, "country": "DE", "tier": 1, "first_seen": DAY, "as_of": DAY}
            for n in ("a", "b")]
    failure = only_failure(validate(dim, table(dim.name, rows)), "expect_column_values_to_be_unique")
    assert (failure.column, failure.unexpected_count) == ("supplier_id", 2)


def test_value_out_of_a_passed_range():
    spec = catalog.get("bronze.production")
    rows = production_rows()
    rows[1]["planned_minutes"] = 2000.0
    outcome = validate(spec, table(spec.name, rows), suite_for(spec, ranges=PRODUCTION_RANGES))
    failure = only_failure(outcome, "expect_column_values_to_be_between")
    assert (failure.column, failure.unexpected_count) == ("planned_minutes", 1)
    assert failure.examples == [{"date": "2026-01-05", "plant_id": "DE01", "line_id": "DE01-L1",
                                 "shift_start": "2026-01-05T14:00:00+00:00", "planned_minutes": 2000.0}]
    assert failure.description == "1 of 3 rows have planned_minutes outside [0, 1440]"


def test_value_not_allowed_by_the_caller():
    spec = catalog.get("bronze.supplier_locations")
    row = {"date": DAY, "location_id": "L1", "supplier_id": "S1", "city": "Graz", "country": "AT", "latitude": 47.1,
           "longitude": 15.4, "_source_file": "f", "_source_row": 1, "_run_id": "r",
           "_ingested_at": dt.datetime(2026, 1, 6, tzinfo=UTC)}
    # North America is a region the contract allows, this caller does not
    rows = [dict(row, region="Europe"), dict(row, location_id="L2", region="North America")]
    suite = suite_for(spec, allowed={"region": ("Europe", "China")}, ranges={"latitude": (-90, 90)})
    failure = only_failure(validate(spec, table(spec.name, rows), suite), "expect_column_values_to_be_in_set")
    assert (failure.column, failure.unexpected_count, failure.unexpected_percent) == ("region", 1, 50.0)
    assert failure.examples == [{"date": "2026-01-05", "location_id": "L2", "region": "North America"}]
    assert failure.description == "1 of 2 rows have region not in (Europe, China)"


def test_table_rule_good_count_above_total_count():
    rows = oee_rows()
    rows[0]["good_count"] = 1700
    failure = only_failure(validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows)),
                           "expect_column_pair_values_a_to_be_greater_than_b")
    assert failure.column == ["good_count", "total_count"]
    assert failure.unexpected_count == 1
    assert failure.examples == [{"date": "2026-01-05", "line_id": "DE01-L0", "good_count": 1700, "total_count": 1600}]
    assert failure.description == "1 of 4 rows break good_count <= total_count"


def test_table_rules_on_ratios_and_domains():
    rows = oee_rows()
    rows[1]["availability"], rows[2]["performance"], rows[3]["performance"] = 1.01, 1.15, 1.3
    outcome = validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows))
    assert sorted((f.column, f.unexpected_count) for f in outcome.failures) == [("availability", 1), ("performance", 1)]

    spec = catalog.get("gold.plant_supply_risk")
    risk = {"date": DAY, "plant_id": "DE01", "supplier_id": "S1", "open_shipments": 3, "at_risk_shipments": 4,
            "at_risk_qty": 10, "at_risk_value_eur": 99.0, "max_expected_delay_h": 5.0, "supplier_otif_90d": 0.8,
            "risk_level": "extreme", "window_days_covered": 90, "window_complete": True}
    outcome = validate(spec, table(spec.name, [risk]))
    assert sorted(f.description for f in outcome.failures) == [
        "1 of 1 rows break at_risk_shipments <= open_shipments",
        "1 of 1 rows have risk_level not in (high, medium, low)",
    ]


def test_timestamp_rule_in_silver():
    spec = catalog.get("silver.production")
    rows = [{k: v for k, v in r.items() if k not in ("_source_row", "_run_id")} for r in production_rows()]
    rows[0]["shift_end"] = rows[0]["shift_start"] - dt.timedelta(minutes=1)
    failure = only_failure(validate(spec, table(spec.name, rows)), "expect_column_pair_values_a_to_be_greater_than_b")
    assert failure.column == ["shift_start", "shift_end"]
    assert failure.examples[0]["shift_end"] == "2026-01-05T05:59:00+00:00"


def test_wrong_type_is_reported_and_its_expectations_skipped():
    spec = catalog.get("gold.oee_daily")
    data = table(spec.name, oee_rows())
    data = data.set_column(1, "plant_id", pa.array([1, 2, 3, 4]))
    data = data.set_column(7, "good_count", pa.array(["1", "2", "3", "4"]))
    outcome = validate(spec, data)
    assert not outcome.success
    assert {(f.column, f.expectation) for f in outcome.failures} == {
        ("plant_id", "expect_column_values_to_be_of_type"), ("good_count", "expect_column_values_to_be_of_type")}
    plant = next(f for f in outcome.failures if f.column == "plant_id")
    assert plant.description == "column plant_id is int64, the catalog declares string"
    assert (plant.unexpected_count, plant.examples) == (4, [1, 2, 3, 4])
    assert any(s.startswith("expect_column_values_to_not_be_null on plant_id") for s in outcome.skipped)
    assert any("good_count, total_count" in s for s in outcome.skipped)


def test_missing_and_extra_columns():
    spec = catalog.get("gold.oee_daily")
    data = table(spec.name, oee_rows()).drop(["oee"]).append_column("shift", pa.array([1, 2, 3, 4]))
    outcome = validate(spec, data)
    columns = only_failure(outcome, "expect_table_columns_to_match_ordered_list")
    assert columns.description == "columns differ from the catalog: missing oee; unexpected shift"
    assert columns.column == ["oee", "shift"]
    assert columns.examples == [{"position": 11, "expected": "oee", "found": "shift"}]
    assert outcome.failing_columns == ["oee", "shift"]  # oee's type expectation fails too: it is missing


def test_lossless_encodings_count_as_the_declared_type():
    spec = catalog.get("gold.oee_daily")
    data = table(spec.name, oee_rows())
    data = data.set_column(1, "plant_id", data["plant_id"].dictionary_encode())
    data = data.set_column(2, "line_id", data["line_id"].cast(pa.large_string()))
    assert validate(spec, data).success


def test_every_catalog_table_has_a_suite_and_its_empty_table_passes():
    for spec in catalog.tables():
        suite = suite_for(spec)
        assert suite.name == spec.name
        types = {e.column: e.type_ for e in suite.expectations if e.type.endswith("_be_of_type")}
        assert types == {c.name: str(c.type) for c in spec.columns}
        outcome = validate(spec, spec.schema.empty_table(), suite)
        assert outcome.success, (spec.name, outcome.failures, outcome.skipped)
        assert (outcome.rows, outcome.evaluated) == (0, len(suite.expectations))
        assert len(gx_suite(suite.name, suite.expectations).expectations) == len(suite.expectations)  # GX takes all


def test_a_clean_slice_is_validated_without_importing_gx():
    """The suites are plain data and the Arrow proofs answer a clean slice alone: a process whose slices are clean
    (a night's checks) never pays GX's import; a broken slice brings GX in, which reports the failure."""
    program = f"""
import datetime, sys
import pyarrow as pa
from expectations import validate
from lakehouse import catalog
spec = catalog.get("gold.oee_daily")
rows = {oee_rows()!r}
assert validate(spec, pa.Table.from_pylist(rows, schema=spec.schema)).success
print(any(name.split(".")[0] == "great_expectations" for name in sys.modules))
rows[0]["good_count"] = 1700
print(validate(spec, pa.Table.from_pylist(rows, schema=spec.schema)).failures[0].expectation)
print(any(name.split(".")[0] == "great_expectations" for name in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=Path(__file__).parents[1], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["False", "expect_column_pair_values_a_to_be_greater_than_b", "True"]


def test_an_empty_table_fails_only_a_suite_that_requires_rows():
    import great_expectations as gx  # here, not at collection: a worker without a GX test never imports it

    spec = catalog.get("gold.oee_daily")
    expectations = [e.configuration for e in suite_for(spec).expectations]
    suite = gx.ExpectationSuite(name=spec.name, expectations=[
        *expectations, gx.expectations.ExpectTableRowCountToBeBetween(min_value=1)])
    failure = only_failure(validate(spec, spec.schema.empty_table(), suite), "expect_table_row_count_to_be_between")
    assert (failure.column, failure.unexpected_count, failure.examples) == (None, 0, [0])
    assert failure.description == "expect_table_row_count_to_be_between on the table failed: observed 0 (min_value=1)"


def test_metadata_is_plain_json():
    rows = oee_rows()
    rows[0]["good_count"], rows[1]["plant_id"], rows[2]["availability"] = 1700, None, float("inf")
    outcome = validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows))
    meta = outcome.to_metadata()
    assert json.loads(json.dumps(meta, allow_nan=False)) == meta
    assert meta["success"] is False and meta["failed"] == 3 and meta["rows"] == 4
    assert set(meta["failing_columns"]) == {"plant_id", "good_count", "total_count", "availability"}
    assert meta["summary"] == outcome.summary() and "3 of" in meta["summary"]


def test_suites_are_cached_and_wiring_mistakes_raise():
    spec = catalog.get("bronze.production")
    assert suite_for(spec, ranges=PRODUCTION_RANGES) is suite_for(spec, ranges=dict(PRODUCTION_RANGES))
    assert suite_for(spec, ranges={"shift": [1, 3]}) is suite_for(spec, ranges={"shift": (1, 3)})
    assert suite_for(spec) is not suite_for(spec, ranges=PRODUCTION_RANGES)
    with pytest.raises(ValueError, match="does not have: nope"):
        suite_for(spec, ranges={"nope": (0, 1)})
    with pytest.raises(ValueError, match="line_id, which is string, not a number"):
        suite_for(spec, ranges={"line_id": (0, 1)})
    with pytest.raises(ValueError, match="not the string"):
        suite_for(spec, allowed={"line_id": "L1"})
    with pytest.raises(ValueError, match="empty"):
        suite_for(spec, ranges={"shift": (3, 1)})


def test_expectations_imports_only_lakehouse():
    """Layering: orchestration -> {expectations, sources, ...} -> lakehouse; contracts come in as arguments."""
    package = Path(expectations.__file__).parent
    imported = set()
    for module in package.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
    assert not imported & {"sources", "transforms", "ml", "orchestration", "bench"}


def test_every_gold_sensor_has_sanity_bounds():
    """Every sensor a shipped mapping registers has an expected range, and the gold sensor table's check holds
    each day's mean and maximum inside its sensor's (which every row carries)."""
    for name in mappings.builtin_names():
        for row in mappings.get(name).master.get("sensors", []):
            assert row["expected_min"] is not None and row["expected_max"] is not None, (name, row["sensor_id"])
    pairs = set(MACHINE_SENSOR_DAILY.at_most)
    assert {("expected_min", "mean"), ("mean", "expected_max"), ("max", "expected_max")} <= pairs
    rows = [{"date": DAY, "plant_id": "DE01", "machine_id": "M1", "sensor": "temperature_c", "unit": "degC",
             "readings": 10, "mean": 45.0, "std": 1.0, "max": 600.0, "drift_7d": None, "drift_30d": None,
             "expected_min": -50.0, "expected_max": 500.0}]
    outcome = validate(MACHINE_SENSOR_DAILY, table(MACHINE_SENSOR_DAILY.name, rows))
    assert not outcome.success and [f.column for f in outcome.failures] == [["max", "expected_max"]]


def test_gx_runs_ephemeral_offline_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def refuse(*args, **kwargs):
        raise AssertionError(f"GX tried to open a network connection: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    rows = oee_rows()
    rows[0]["good_count"] = 1700
    assert not validate(catalog.get("gold.oee_daily"), table("gold.oee_daily", rows)).success
    assert list(tmp_path.iterdir()) == []
    from expectations.context import context

    ctx = context()
    assert type(ctx).__name__ == "EphemeralDataContext"
    assert ctx.config.analytics_enabled is False and os.environ["GX_ANALYTICS_ENABLED"] == "False"
    assert not ctx.variables.data_docs_sites


def test_two_hundred_thousand_telemetry_rows_validate_and_are_not_kept():
    """How long it takes is make bench's to measure (docs/performance.md); here: it passes, records its duration
    and keeps no frame."""
    spec = catalog.get("bronze.telemetry")
    outcome = validate(spec, telemetry(200_000))
    assert outcome.success, outcome.failures
    assert outcome.rows == 200_000 and outcome.duration_s > 0
    from expectations.context import _batch_definition

    engine = _batch_definition().data_asset.datasource.get_execution_engine()
    assert engine.batch_manager.batch_data_cache == {}  # the frame is not held until the next check


def test_plants_are_grouped_up_to_the_part_size():
    from orchestration.checks import plant_groups

    rows = {"US01": 5, "DE01": 4, "DE02": 3, "CN01": 9, "BR01": 1}
    assert plant_groups(rows, 8) == [["BR01"], ["CN01"], ["DE01", "DE02"], ["US01"]]
    assert plant_groups(rows, 100) == [sorted(rows)]
    assert plant_groups({}, 8) == []


def test_a_large_slice_validated_in_parts_reports_what_one_pass_reports(tmp_path):
    """The checks validate a night too large for one pandas frame plant group by plant group."""
    from expectations.runner import validate_parts
    from lakehouse.delta import Lake
    from orchestration.checks import slice_parts

    spec = catalog.get("bronze.telemetry")
    data = telemetry(9_000)  # three plants of 3,000 rows
    interval = data.column("interval_s").to_numpy().copy()
    plants = data.column("plant_id").to_numpy(zero_copy_only=False)
    bad = [i for i in range(len(plants)) if plants[i] in ("DE01", "US01")][:: 700]  # out of range in two plants
    interval[bad] = 0
    data = data.set_column(data.schema.get_field_index("interval_s"), "interval_s", pa.array(interval))
    data = pa.concat_tables([data, data.slice(4, 2)])  # two keys of one plant twice
    lake = Lake(str(tmp_path / "lake"))
    lake.append(spec, data)
    suite = suite_for(spec)  # the contract's ranges: interval_s 1..86400
    night = [("date", "=", dt.date(2026, 1, 5))]

    parts = list(slice_parts(lake, spec, night, max_rows=4_000))
    assert [sorted(set(p.column("plant_id").to_pylist())) for p in parts] == [["DE01"], ["DE02"], ["US01"]]
    assert sum(p.num_rows for p in parts) == data.num_rows
    assert len(list(slice_parts(lake, spec, night, max_rows=10_000))) == 1  # small enough: one pass

    whole = validate(spec, data, suite)
    combined = validate_parts(spec, slice_parts(lake, spec, night, max_rows=4_000), suite)
    assert (combined.success, combined.rows, combined.evaluated) == (False, whole.rows, whole.evaluated)

    def found(outcome):
        return {(f.expectation, str(f.column)): (f.unexpected_count, f.unexpected_percent, f.description)
                for f in outcome.failures}

    assert found(combined) == found(whole)
    assert found(combined)[("expect_column_values_to_be_between", "interval_s")][0] == len(bad)
    assert found(combined)[("expect_compound_columns_to_be_unique", str(list(spec.natural_key)))][0] == 4
    assert all(len(f.examples) <= 5 for f in combined.failures)


def _recording_validations(monkeypatch) -> list[tuple[str, list[tuple[str, dict]]]]:
    """Each GX validation as (result format, [(expectation, kwargs)]), GX still doing the work."""
    from great_expectations.datasource.fluent.interfaces import Batch

    calls = []
    original = Batch.validate

    def recording(self, expect, *args, result_format, **kwargs):
        calls.append((result_format["result_format"], [(e.expectation_type, dict(e.configuration.kwargs))
                                                       for e in expect.expectations]))
        return original(self, expect, *args, result_format=result_format, **kwargs)

    monkeypatch.setattr(Batch, "validate", recording)
    return calls


def with_mean_rule(spec) -> gx.ExpectationSuite:
    """The table's suite and one rule no Arrow proof covers (GX always computes it)."""
    import great_expectations as gx

    return gx.ExpectationSuite(name=spec.name, expectations=[
        *(e.configuration for e in suite_for(spec).expectations),
        gx.expectations.ExpectColumnMeanToBeBetween(column="availability", min_value=0, max_value=1)])


def test_a_passing_slice_is_validated_once_without_details(monkeypatch):
    """Pass or fail first; only what failed is validated again for its counts and examples. A slice whose every
    rule the Arrow table proves met is not sent to GX at all."""
    calls = _recording_validations(monkeypatch)
    spec = catalog.get("gold.oee_daily")
    assert validate(spec, table(spec.name, oee_rows())).success
    assert calls == []
    assert validate(spec, table(spec.name, oee_rows()), with_mean_rule(spec)).success
    assert calls == [("BOOLEAN_ONLY", [("expect_column_mean_to_be_between",
                                        {"column": "availability", "min_value": 0.0, "max_value": 1.0})])]

    calls.clear()
    rows = oee_rows()
    rows[0]["good_count"] = 1700
    failure = only_failure(validate(spec, table(spec.name, rows)), "expect_column_pair_values_a_to_be_greater_than_b")
    assert (failure.unexpected_count, failure.examples[0]["line_id"]) == (1, "DE01-L0")
    assert [fmt for fmt, _ in calls] == ["BOOLEAN_ONLY", "SUMMARY"]
    assert [kind for kind, _ in calls[1][1]] == ["expect_column_pair_values_a_to_be_greater_than_b"]


def test_rows_are_screened_for_missing_key_parts_only_when_the_slice_has_some(monkeypatch):
    """Without nulls the screen is dropped (same verdict, no frame copy); with them it still applies."""
    calls = _recording_validations(monkeypatch)
    spec = catalog.get("gold.oee_daily")

    def screens(outcome_rows):
        calls.clear()
        outcome = validate(spec, table(spec.name, outcome_rows))
        return outcome, {kind: kwargs["ignore_row_if"] for kind, kwargs in calls[0][1] if "ignore_row_if" in kwargs}

    rows = oee_rows()
    rows[0]["good_count"] = 1700  # above total_count: the pair rule goes to GX
    outcome, screened = screens(rows)
    assert [f.expectation for f in outcome.failures] == ["expect_column_pair_values_a_to_be_greater_than_b"]
    assert screened == {"expect_column_pair_values_a_to_be_greater_than_b": "neither"}  # no value is missing

    rows = oee_rows()
    rows[1]["line_id"] = rows[2]["line_id"] = None  # two rows share (date, null): not a duplicate key
    outcome, screened = screens(rows)
    assert screened["expect_compound_columns_to_be_unique"] == "any_value_is_missing"
    assert [(f.expectation, f.unexpected_count) for f in outcome.failures] == [
        ("expect_column_values_to_not_be_null", 2)]


def test_what_the_arrow_table_proves_met_gx_does_not_compute_again(monkeypatch):
    """No missing value, no repeated key, values within bounds and sets, A above B, the columns in order: GX's
    verdict could only be "met"; the count still says so. What is not proven goes to GX, which decides."""
    calls = _recording_validations(monkeypatch)
    spec = catalog.get("gold.oee_daily")
    suite = suite_for(spec)

    outcome = validate(spec, table(spec.name, oee_rows()))
    assert outcome.success and outcome.evaluated == len(suite.expectations)
    assert calls == []

    def sent_to_gx(rows) -> set[str]:
        calls.clear()
        validate(spec, table(spec.name, rows))
        return {kind for kind, _ in calls[0][1]}

    repeated = oee_rows()
    repeated[3]["line_id"] = repeated[1]["line_id"]
    assert sent_to_gx(repeated) == {"expect_compound_columns_to_be_unique"}
    missing = oee_rows()
    missing[0]["planned_minutes"] = float("nan")  # not null to Arrow, missing to pandas: GX decides, and fails it
    assert sent_to_gx(missing) == {"expect_column_values_to_not_be_null"}  # the pair rule skips the row, as GX
    outcome = validate(spec, table(spec.name, missing))
    assert ("expect_column_values_to_not_be_null", "planned_minutes") in {(f.expectation, f.column)
                                                                          for f in outcome.failures}
    beyond = oee_rows()
    beyond[2]["availability"] = 1.01
    assert sent_to_gx(beyond) == {"expect_column_values_to_be_between"}


def _findings(outcome: Outcome) -> tuple:
    return (outcome.success, outcome.evaluated, sorted(
        (f.expectation, str(f.column), f.unexpected_count, json.dumps(f.examples, default=str))
        for f in outcome.failures))


def test_the_arrow_proofs_find_what_gx_alone_finds(monkeypatch):
    """Slices clean and broken in every way a proof covers (bounds, sets, A above B, missing values, repeated
    keys, columns out of order): the same verdicts, counts and examples with the proofs as with GX alone."""
    from expectations import runner

    oee, risk_spec = catalog.get("gold.oee_daily"), catalog.get("gold.plant_supply_risk")
    risk = {"date": DAY, "plant_id": "DE01", "supplier_id": "S1", "open_shipments": 3, "at_risk_shipments": 2,
            "at_risk_qty": 10, "at_risk_value_eur": 99.0, "max_expected_delay_h": 5.0, "supplier_otif_90d": 0.8,
            "risk_level": "high", "window_days_covered": 90, "window_complete": True}

    def broken(change) -> list[dict]:
        rows = oee_rows()
        change(rows)
        return rows

    cases = [
        (oee, table(oee.name, oee_rows())),
        (oee, table(oee.name, broken(lambda r: r[1].update(availability=1.01, performance=None)))),
        (oee, table(oee.name, broken(lambda r: r[0].update(good_count=1700, planned_minutes=float("nan"))))),
        (oee, table(oee.name, broken(lambda r: r[3].update(line_id=r[1]["line_id"], total_count=-1)))),
        (oee, table(oee.name, broken(lambda r: r[2].update(good_count=1600))).select(  # A = B: or_equal
            list(reversed(oee.column_names)))),
        (risk_spec, table(risk_spec.name, [risk, dict(risk, supplier_id="S2", risk_level="extreme",
                                                      at_risk_shipments=4, supplier_otif_90d=None)])),
        (risk_spec, table(risk_spec.name, [risk, dict(risk, supplier_id="S2", risk_level=None)])),
        (risk_spec, risk_spec.schema.empty_table()),  # no rows: bounds, sets and pairs met
        (risk_spec, table(risk_spec.name, [dict(risk, supplier_otif_90d=None)])),  # a bounded column all missing
        (oee, table(oee.name, broken(lambda r: r[2].update(run_minutes=None)))),  # a pair with a missing side
        (oee, table(oee.name, broken(lambda r: (r[2].update(run_minutes=None), r[1].update(run_minutes=999.0))))),
    ]
    with_proofs = [_findings(validate(spec, data)) for spec, data in cases]
    monkeypatch.setattr(runner, "_proven", lambda *args: False)
    assert with_proofs == [_findings(validate(spec, data)) for spec, data in cases]
    assert with_proofs[0][0] and not all(found[0] for found in with_proofs[1:5])



def test_gx_does_not_fingerprint_the_frame(monkeypatch):
    """GX would hash every row to label the batch: a second full pass over the data for nothing."""
    from great_expectations.execution_engine import pandas_execution_engine

    def refuse(frame):
        raise AssertionError(f"GX hashed a frame of {len(frame)} rows")

    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", refuse)
    assert validate(catalog.get("bronze.telemetry"), telemetry(1_000)).success
