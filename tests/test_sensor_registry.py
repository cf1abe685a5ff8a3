"""Any machine, any sensors: the mapping language's sensor and component registries, headerless and
whitespace-separated files, counters for times, feeds derived from records, and the features of whatever
sensors a plant has. Hand-made drops and frames, no Spark: the module takes a few seconds."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from lakehouse import named
from lakehouse.catalog import NAMED_VALUES
from ml import features as F
from ml.tables import FAILURE_TRAINING_SET
from sources import mapping as mappings
from sources import series
from sources.columns import convert
from sources.importer import import_source
from sources.landing import list_complete
from sources.mapping import Mapping
from sources.simulator import sensors as simulated
from tests.dropkit import GOOD, KNOWN, feed_drop, read

RIG = {
    "name": "rig", "description": "a test rig's run-to-failure export", "scope": "plant",
    "dialect": {"format": "csv", "delimiter": "whitespace", "header": False, "timezone": "UTC"},
    "master": {"plants": [dict(GOOD["plants"], timezone="UTC")], "lines": [GOOD["lines"]]},
    "feeds": {
        "telemetry": {
            "file": "rig*.txt",
            "columns": {1: {"to": "machine_id", "template": "R-{value}"},
                        2: {"to": "ts", "counter": {"period": "6h", "start": "2026-01-05T00:00:00Z", "stagger": "1d"}}},
            "constants": {"interval_s": 21600},
            "sensors": {3: {"sensor": "exhaust_temp", "unit": "degC", "source_unit": "degR", "min": 0, "max": 1000},
                        4: {"sensor": "oil_pressure", "unit": "bar", "source_unit": "psi", "min": 0, "max": 20}},
            "ignore": [5],
        },
        "machines": {"from": "telemetry", "when": "first",  # model, install date, criticality: unknown
                     "constants": {"line_id": "DE01-L01", "machine_type": "rig"}},
        "failures": {"from": "telemetry", "when": {"column": 5, "equals": ["FAIL"]},
                     "constants": {"component": "pump"}},
    },
    "components": {"rig": ["pump"]},
}
#: unit, cycle, exhaust temperature (degR), oil pressure (psi), status; the rig's lines end in spaces
LINES = ["1  1  1000.0  30.0  OK  ", "1  2  1010.0  29.0  OK  ", "1  3  1100.0  25.0  FAIL  ",
         "2  1  990.0  31.0  OK  ", "2  2  3000.0  30.0  OK  "]


@pytest.fixture
def rig(installed_mappings):
    installed_mappings(RIG)
    return mappings.get("rig")


def test_a_headerless_whitespace_export_with_counted_cycles_imports_and_reads(rig, tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "rig1.txt").write_text("\n".join(LINES) + "\n\n")  # and a blank line at the end
    report = import_source(rig, export, str(tmp_path / "landing"))
    assert report.accounted and report.source_rows == 5
    # unit 1 starts 2026-01-05, unit 2 a day later; 6-hour cycles: unit 1's cycles 1-3 on the 5th, unit 2's on the 6th
    assert {d.split("date=")[1]: f for d, f in report.drops.items()} == {
        "2026-01-05": {"rig1.txt": 3, "machines.derived.rig1.txt": 1, "failures.derived.rig1.txt": 1},
        "2026-01-06": {"rig1.txt": 2, "machines.derived.rig1.txt": 1}}
    assert report.derived["failures.derived.rig1.txt"] == (1, "failures: the records whose 5 is FAIL of rig1.txt")
    drops = sorted(list_complete(str(tmp_path / "landing")), key=lambda d: d.ref.date)
    first = read(drops[0])
    assert first.reconciles and first.quarantined_rows == 0
    telemetry = first.feeds["telemetry"].bronze.to_pylist()
    assert [r["ts"].hour for r in telemetry] == [0, 6, 12]  # cycle n at start + (n - 1) x 6 h
    assert dict(telemetry[0]["readings"]) == pytest.approx({"exhaust_temp": 1000 * 5 / 9 - 273.15,
                                                            "oil_pressure": 30 * 0.0689475729})
    [failure] = first.feeds["failures"].bronze.to_pylist()
    assert (failure["machine_id"], failure["failed_at"].hour, failure["component"]) == ("R-1", 12, "pump")
    [machine] = first.feeds["machines"].bronze.to_pylist()  # what the export does not say stays unknown
    assert (machine["machine_id"], machine["model"], machine["install_date"], machine["criticality"]) == (
        "R-1", None, None, None)
    assert {r["sensor_id"]: r["unit"] for r in first.feeds["sensors"].bronze.to_pylist()} == {
        "exhaust_temp": "degC", "oil_pressure": "bar"}
    second = read(drops[1], KNOWN.learn(first))
    assert second.reconciles and second.quarantined_rows == 1  # 3000 degR = 1393.5 degC: outside 0..1000
    [bad] = second.feeds["telemetry"].quarantine.to_pylist()
    assert bad["rule"] == "range" and "exhaust_temp (from '3')" in bad["reason"] and "degC" in bad["reason"]
    assert bad["raw_line"] == LINES[4]  # the line as delivered, spaces and all


def test_a_sensor_value_breaks_type_and_nan_rules_like_any_column(tmp_path):
    rows = [dict(GOOD["telemetry"]), dict(GOOD["telemetry"], ts="2026-01-05T08:01:00Z", voltage_v="x"),
            dict(GOOD["telemetry"], ts="2026-01-05T08:02:00Z", current_a="NaN")]
    result = read(feed_drop(str(tmp_path), "telemetry", rows), KNOWN)
    quarantined = {q["_source_row"]: (q["rule"], q["reason"]) for q in result.feeds["telemetry"].quarantine.to_pylist()}
    assert quarantined == {2: ("type", "type: voltage_v = 'x' is not a valid number"),
                           3: ("nan", "nan: current_a = 'NaN' is NaN or infinite")}
    assert result.reconciles and result.feeds["telemetry"].bronze.num_rows == 1


def test_a_header_no_mapping_names_is_still_unknown_a_sensor_is_not(tmp_path):
    rows = [dict(GOOD["telemetry"], humidity_pct="40")]
    result = read(feed_drop(str(tmp_path), "telemetry", rows), KNOWN)
    assert [q["rule"] for q in result.feeds["telemetry"].quarantine.to_pylist()] == ["unknown_column"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dialect": {"format": "csv", "timezone": "UTC"}}, "positions need header: false"),
        ({"feeds": {"telemetry": {"file": "t*", "columns": {"Unit": "machine_id"}}}, "dialect": {"header": False}},
         "names its columns by position"),
        ({"feeds": {"machines": {"file": "m*", "sensors": {"x": None}}}}, "only a sensor feed"),
        ({"feeds": {"telemetry": {"file": "t*", "sensors": {"a": "temp", "b": "temp"}}}}, "temp fed by more than one"),
        ({"feeds": {"telemetry": {"file": "t*", "sensors": {"a": {"unit": "degC", "source_unit": "furlong"}}}}},
         "no conversion from furlong to degC"),
        ({"feeds": {"telemetry": {"file": "t*", "sensors": {"Temp (C)": None}}}}, "needs a sensor id"),
        ({"feeds": {"telemetry": {"file": "t*", "sensors": {"a": {"min": 5, "max": 1}}}}}, "min 5 is above max 1"),
        ({"feeds": {"failures": {"from": "production", "when": "last"}}}, "must be another feed of this mapping"),
        ({"feeds": {"telemetry": {"file": "t*"}, "failures": {"from": "telemetry", "when": {"column": "st",
                                                                                            "equals": "x"}}}},
         "status column 'st' must be listed"),
        ({"feeds": {"telemetry": {"file": "t*", "columns": {"n": {"to": "interval_s", "counter": {"period": "1h",
                                                                                                   "start": 0}}}}}},
         "not a timestamp column"),
        ({"feeds": {"telemetry": {"file": "t*", "columns": {"n": {"to": "ts", "counter": {"period": "1h"}}}}}},
         "start"),
        ({"feeds": {"telemetry": {"file": "t*", "columns": {"1": "machine_id"}},
                    "machines": {"from": "telemetry", "when": "first", "constants": {"machine_type": "rig"}}}},
         r"machines: line_id must come from a column of telemetry or from constants: \(the machines contract does "
         r"not allow them to be unknown"),
        ({"master": {"sensors": [{"sensor_id": "x", "machine_type": "*"}]},
          "feeds": {"telemetry": {"file": "t*", "sensors": {"x": None}}}}, "not from master rows as well"),
    ],
)
def test_invalid_declarations_are_refused_at_load(change, message):
    base = {"name": "x", "description": "x", "scope": "plant",
            "feeds": {"telemetry": {"file": "t*", "columns": {"1": "machine_id"}}}, **change}
    if "dialect" not in change and "1" in str(base["feeds"].get("telemetry", {}).get("columns", {})):
        base["dialect"] = {"format": "csv"}
    with pytest.raises(ValueError, match=message):
        Mapping(**base)


def test_the_simulators_own_formats_register_its_sensors_and_components():
    """plantlake and german_csv declare, per machine type, exactly the sensors and components the simulator has."""
    for name in ("plantlake", "german_csv"):
        found = mappings.get(name)
        sensors = {(r["sensor_id"], r["machine_type"]) for r in found.master["sensors"]}
        expected = {(s, t) for t in simulated.MACHINE_TYPES for s, has in zip(simulated.SENSORS,
                                                                              simulated.has_sensor(t), strict=True)
                    if has}
        assert sensors == expected, name
        components = {(r["machine_type"], r["component"]) for r in found.master["components"]}
        assert components == {(t, c) for t, weights in simulated.COMPONENT_WEIGHTS.items() for c in weights}, name


def test_counters_and_events_of_a_unit_series():
    frame = pl.DataFrame({"u": ["1", "1", "2", "2", "2"], "c": ["1", "2", "1", "3", "x"],
                          "s": ["2026-01-01T00:00Z"] * 5})
    dialect = mappings.Dialect()
    staggered = series.Counter(period="2h", start=dt.date(2026, 1, 1), stagger="12h")
    times, texts = series.timestamps(frame, "c", staggered, "u", dialect, "UTC")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert times.to_list()[:4] == [base, base + dt.timedelta(hours=2), base + dt.timedelta(hours=12),
                                   base + dt.timedelta(hours=16)]
    assert times[4] is None and texts[4] == "x"  # not a count: the row breaks ``type``
    from_column = series.Counter(period="1d", start_column="s", first=0)
    assert series.timestamps(frame, "c", from_column, None, dialect, "UTC")[0][3] == base + dt.timedelta(days=3)
    units = pl.Series(["a", "a", "b", "b", "a"])
    order = pl.Series([3, 1, 5, 2, 2])
    assert series.event_rows(units, order, None, "last").tolist() == [0, 2]
    assert series.event_rows(units, order, None, "first").tolist() == [1, 3]
    status = pl.Series(["ok", " FAIL", "ok", "fail", None])
    assert series.event_rows(None, None, status, series.Occurs(column="s", equals=["FAIL", "fail"])).tolist() == [1, 3]


def test_named_values_pack_and_unpack_over_any_names():
    packed = named.pack({"b": np.array([1.0, np.nan, 3.0]), "a": np.array([np.nan, np.nan, 5.0])}, 3)
    assert packed.type == NAMED_VALUES and packed.to_pylist() == [[("b", 1.0)], [], [("b", 3.0), ("a", 5.0)]]
    spread = named.unpack(pa.chunked_array([packed.slice(1)]))  # a slice: offsets into the whole
    assert list(spread) == ["a", "b"]
    np.testing.assert_array_equal(spread["b"], [np.nan, 3.0])
    assert named.unpack(named.pack({}, 2)) == {}


def _machine_days(days: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two machines of two types with different sensors: a press (temp, force) and a rig (temp, flow)."""
    rows, sensors = [], []
    for i in range(days):
        date = dt.date(2026, 1, 1) + dt.timedelta(days=i)
        for machine, kind, own in (("P1", "press", "force"), ("R1", "rig", "flow")):
            rows.append({"date": date, "plant_id": "X", "line_id": "L", "machine_id": machine, "machine_type": kind,
                         "criticality": "B", "downtime_cost_eur_h": 10.0, "cycle_time_slowdown": None,
                         "covered_minutes": 1440.0, "alarm_count": i % 3, "downtime_events": 0,
                         "downtime_minutes": 0.0, "failure_count": 0, "maintenance_count": 0,
                         "days_since_maintenance": None, "max_component_days_since_maintenance": None,
                         "days_since_failure": None, "age_years": 3.0})
            for sensor in ("temp", own):
                sensors.append({"date": date, "machine_id": machine, "sensor": sensor, "mean": 10.0 + i,
                                "std": 1.0, "max": 12.0 + i, "drift_7d": 0.5, "drift_30d": 0.1})
    return pd.DataFrame(rows), pd.DataFrame(sensors)


def test_features_come_from_whatever_sensors_each_machine_type_has():
    daily, sensor_daily = _machine_days()
    frame = F.feature_frame(F.with_sensors(daily, sensor_daily), start=dt.date(2026, 2, 5))
    assert F.sensors_in(F.with_sensors(daily, sensor_daily)) == ["flow", "force", "temp"]
    numeric = F.numeric_in(frame)
    assert numeric[: len(F.NUMERIC)] == list(F.NUMERIC)
    assert [n for n in numeric if n.endswith("_mean")] == ["flow_mean", "force_mean", "temp_mean"]
    press = frame[frame["machine_id"] == "P1"].iloc[-1]
    assert press["force_mean"] == 10.0 + 39 and np.isnan(press["flow_mean"])  # a press has no flow sensor
    assert press["temp_mean_ratio_7d"] == pytest.approx(49 / 45 - 1)  # 49 against the median of 42..48
    assert F.sensor_means_and_spreads(frame) == ["flow_mean", "flow_std", "force_mean", "force_std", "temp_mean",
                                                 "temp_std"]
    model_like = ["temp_mean", "vibration_mean", *F.NUMERIC]  # a model trained where machines had vibration
    scored = F.feature_frame(F.with_sensors(daily, sensor_daily), start=dt.date(2026, 2, 9), numeric=model_like)
    assert list(scored.columns) == [*F.KEYS, *model_like, "criticality"] and scored["vibration_mean"].isna().all()


def test_the_training_set_stores_its_sensors_features_in_one_column_and_reads_them_back():
    daily, sensor_daily = _machine_days(10)
    frame = F.feature_frame(F.with_sensors(daily, sensor_daily))
    frame = frame.assign(horizon_days=7, failure_within_h=0, failing_component=None, days_to_failure=None,
                         alert_action_in_horizon=False, label_complete=True)
    table = F.to_arrow(frame, FAILURE_TRAINING_SET.schema)
    assert table.schema == FAILURE_TRAINING_SET.schema and "temp_mean" not in table.column_names
    back = F.from_arrow(table)
    dynamic = [c for c in frame.columns if F.is_dynamic(c)]
    assert sorted(c for c in back.columns if F.is_dynamic(c)) == sorted(dynamic)
    pd.testing.assert_frame_equal(back[sorted(dynamic)], frame[sorted(dynamic)].astype(float), check_dtype=False)


#: Each conversion's reference points: (source text, value in the registry's unit), from the units' definitions
#: (water freezes at 32 degF = 491.67 degR = 273.15 K = 0 degC and boils at 212 degF; 1 bar = 14.5037738 psi;
#: 1 atm = 14.6959488 psi = 1.01325 bar; 1 kg = 2.20462262 lb; 1 ft = 0.3048 m; 1 knot = 1852 m per hour).
REFERENCE_POINTS: dict[tuple[str, str], list[tuple[str, float]]] = {
    ("degF", "degC"): [("32", 0.0), ("212", 100.0), ("-40", -40.0), ("98.6", 37.0)],
    ("degF", "K"): [("32", 273.15), ("212", 373.15), ("-459.67", 0.0)],
    ("degR", "degC"): [("491.67", 0.0), ("671.67", 100.0), ("518.67", 15.0)],
    ("degR", "K"): [("0", 0.0), ("491.67", 273.15)],
    ("K", "degC"): [("273.15", 0.0), ("373.15", 100.0), ("0", -273.15)],
    ("psi", "bar"): [("14.5037738", 1.0), ("0", 0.0)],
    ("psia", "bar"): [("14.6959488", 1.01325)],
    ("kPa", "bar"): [("101.325", 1.01325), ("100", 1.0)],
    ("in/s", "mm/s"): [("1", 25.4), ("0.5", 12.7)],
    ("kV", "V"): [("0.4", 400.0), ("11", 11_000.0)],
    ("mA", "A"): [("1500", 1.5), ("20", 0.02)],
    ("ms", "s"): [("2500", 2.5)],
    ("min", "s"): [("1.5", 90.0)],
    ("h", "min"): [("2", 120.0), ("0.25", 15.0)],
    ("s", "min"): [("90", 1.5), ("3600", 60.0)],
    ("rps", "rpm"): [("25", 1500.0)],
    ("lbm/s", "kg/s"): [("2.20462262", 1.0), ("10", 4.5359237)],
    ("ft", "m"): [("10", 3.048), ("3.2808399", 1.0)],
    ("kn", "m/s"): [("1", 1852 / 3600), ("3.6", 1.852)],
}


def test_every_unit_conversion_has_reference_points():
    """A conversion added to UNIT_CONVERSIONS without values checked below fails here."""
    assert set(REFERENCE_POINTS) == set(mappings.UNIT_CONVERSIONS)


@pytest.mark.parametrize(("units", "points"), list(REFERENCE_POINTS.items()),
                         ids=[f"{a}->{b}" for a, b in REFERENCE_POINTS])
def test_a_sensor_column_in_another_unit_converts_to_the_registrys_unit(units, points):
    """The reader's column conversion (sources.columns.convert) on the export's text, as a sensor declared
    ``unit: <registry unit>, source_unit: <export unit>`` reads it: each value lands in the registry's unit, a
    null stays null."""
    source_unit, unit = units
    telemetry = {**RIG["feeds"]["telemetry"], "sensors": {3: {"sensor": "reading", "unit": unit,
                                                              "source_unit": source_unit}}}
    [declared] = Mapping(**{**RIG, "feeds": {**RIG["feeds"], "telemetry": telemetry}}).sensor_maps("telemetry").values()
    texts = [text for text, _ in points] + [""]
    cmap = mappings.ColumnMap(to=declared.field().name, unit=declared.source_unit)  # as the reader maps a sensor
    out, text = convert(pl.Series("3", texts), cmap, declared.field(), mappings.Dialect(), None)
    assert out.to_list()[:-1] == pytest.approx([value for _, value in points], rel=1e-7, abs=1e-9)
    assert out.to_list()[-1] is None and text.to_list()[: len(points)] == texts[:-1]
