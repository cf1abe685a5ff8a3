"""transforms.machine_daily on hand-computed days: sensor stats from the readings map, drift, the registry's
units and ranges, events, recency, the joined rows."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest

from lakehouse import bridge, catalog
from transforms.machine_daily import (
    event_counts,
    machine_daily,
    reading_counts,
    recency,
    registered,
    sensor_stats,
    with_drift,
)

D = date(2026, 1, 5)
STATS = "date date, plant_id string, machine_id string, sensor string, mean double, std double"
HISTORY = "date date, machine_id string, sensor string, mean double, std double"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def rows(df, *key):
    return [r.asDict() for r in df.orderBy(*key).collect()]


def _telemetry(spark):
    return spark.createDataFrame(
        [
            ("P1", "M1", at(5, 8, 0), 60, {"temperature_c": 10.0, "vibration_mm_s": 1.0}),
            ("P1", "M1", at(5, 8, 1), 60, {"temperature_c": 20.0}),  # no vibration value in this reading
            ("P1", "M1", at(5, 8, 2), 60, {"temperature_c": 30.0, "vibration_mm_s": 3.0}),
            ("P1", "M2", at(5, 8, 0), 3600, {"temperature_c": 50.0}),  # one hourly reading, no vibration sensor
        ],
        "plant_id string, machine_id string, ts timestamp, interval_s long, readings map<string, double>",
    ).selectExpr("DATE'2026-01-05' AS date", "*")


def test_sensor_stats_over_whatever_sensors_each_reading_holds(spark):
    got = rows(sensor_stats(_telemetry(spark)), "machine_id", "sensor")
    assert got == [
        # mean (10 + 20 + 30) / 3 = 20; sample std sqrt((100 + 0 + 100) / 2) = 10
        pytest.approx({"date": D, "plant_id": "P1", "machine_id": "M1", "sensor": "temperature_c", "readings": 3,
                       "mean": 20.0, "std": 10.0, "max": 30.0}),
        # only the readings that hold it: mean (1 + 3) / 2 = 2; std sqrt((1 + 1) / 1) = sqrt(2)
        pytest.approx({"date": D, "plant_id": "P1", "machine_id": "M1", "sensor": "vibration_mm_s", "readings": 2,
                       "mean": 2.0, "std": math.sqrt(2), "max": 3.0}),
        # std needs 2 values; M2 reports no vibration: no row for it
        {"date": D, "plant_id": "P1", "machine_id": "M2", "sensor": "temperature_c", "readings": 1,
         "mean": 50.0, "std": None, "max": 50.0},
    ]


def test_reading_counts(spark):
    got = rows(reading_counts(_telemetry(spark)), "machine_id")
    assert got == [
        {"date": D, "plant_id": "P1", "machine_id": "M1", "readings": 3, "covered_minutes": 3.0},  # 3 x 60 s
        {"date": D, "plant_id": "P1", "machine_id": "M2", "readings": 1, "covered_minutes": 60.0},  # 3600 s
    ]


def test_with_drift_over_a_range_of_days_per_sensor(spark):
    stats = spark.createDataFrame(
        [
            (date(2026, 1, 4), "P1", "M1", "temperature_c", 16.0, 2.0),
            (date(2026, 1, 5), "P1", "M1", "temperature_c", 21.0, 3.0),
            (D, "P1", "M1", "vibration_mm_s", 4.0, 1.0),
            (D, "P1", "M2", "temperature_c", 50.0, 1.0),
            (D, "P1", "M3", "temperature_c", 5.0, 1.0),
        ],
        STATS,
    )
    history = spark.createDataFrame(
        [
            (date(2025, 12, 10), "M1", "temperature_c", 20.0, 8.0),
            (date(2026, 1, 1), "M1", "temperature_c", 10.0, 2.0),
            (date(2026, 1, 2), "M1", "temperature_c", 12.0, 2.0),
            (date(2026, 1, 3), "M1", "temperature_c", 14.0, 4.0),
            (date(2026, 1, 4), "M1", "temperature_c", 999.0, 999.0),  # overlaps stats: stats' (16, 2) wins
            (date(2026, 1, 2), "M1", "vibration_mm_s", 1.0, 1.0),      # vibration's own baseline: 3 days
            (date(2026, 1, 3), "M1", "vibration_mm_s", 2.0, 1.0),
            (date(2026, 1, 4), "M1", "vibration_mm_s", 3.0, 2.0),
            (date(2026, 1, 3), "M2", "temperature_c", 48.0, 1.0),      # M2: only 2 baseline days
            (date(2026, 1, 4), "M2", "temperature_c", 49.0, 1.0),
            (date(2026, 1, 2), "M3", "temperature_c", 5.0, 0.0),       # M3: 3 days, but their std is 0
            (date(2026, 1, 3), "M3", "temperature_c", 5.0, 0.0),
            (date(2026, 1, 4), "M3", "temperature_c", 5.0, 0.0),
        ],
        HISTORY,
    )
    out = with_drift(stats, history)
    assert out.columns == [*stats.columns, "drift_7d", "drift_30d"]
    got = {(r.machine_id, r.sensor, r.date): (r.drift_7d, r.drift_30d) for r in out.collect()}
    assert got == {
        # 01-04, 7d = [12-28, 01-03]: means 10, 12, 14 -> 12; stds 2, 2, 4 -> 8/3; (16 - 12) / (8/3) = 1.5
        #        30d = [12-05, 01-03]: + 12-10 (20, 8): means -> 14, stds -> 4; (16 - 14) / 4 = 0.5
        ("M1", "temperature_c", date(2026, 1, 4)): pytest.approx((1.5, 0.5)),
        # 01-05, 7d = [12-29, 01-04]: means 10, 12, 14, 16 -> 13; stds 2, 2, 4, 2 -> 2.5; (21 - 13) / 2.5 = 3.2
        #        30d = [12-06, 01-04]: means 20, 10, 12, 14, 16 -> 14.4; stds 8, 2, 2, 4, 2 -> 3.6;
        #        (21 - 14.4) / 3.6 = 1.833333
        ("M1", "temperature_c", D): pytest.approx((3.2, 6.6 / 3.6)),
        # vibration against its own days only: means 1, 2, 3 -> 2; stds 1, 1, 2 -> 4/3; (4 - 2) / (4/3) = 1.5
        ("M1", "vibration_mm_s", D): pytest.approx((1.5, 1.5)),
        ("M2", "temperature_c", D): (None, None),  # 2 baseline days < 3
        ("M3", "temperature_c", D): (None, None),  # denominator 0
    }
    # no history: M1's 01-05 has one baseline day (01-04 from stats) -> null
    empty = spark.createDataFrame([], HISTORY)
    assert {r.drift_7d for r in with_drift(stats, empty).collect()} == {None}


def test_the_registry_gives_unit_and_range_for_the_machine_type_else_any_type(spark):
    stats = spark.createDataFrame(
        [(D, "P1", "M1", "temperature_c", 40.0, 1.0), (D, "P1", "M1", "flow", 3.0, 0.1),
         (D, "P1", "M1", "unregistered", 1.0, 0.0), (D, "P2", "M9", "temperature_c", 40.0, 1.0)],
        STATS,
    )
    machines = spark.createDataFrame([("M1", "press"), ("M9", "cnc")], "machine_id string, machine_type string")
    registry = spark.createDataFrame(
        [
            ("P1", "temperature_c", "press", "degC", -50.0, 500.0),
            ("P1", "temperature_c", "*", "K", 0.0, 800.0),      # the press row wins for a press
            ("P1", "flow", "*", "l/min", 0.0, None),            # any type: the press has it
            ("P2", "temperature_c", "press", "degF", 0.0, 900.0),  # P2's registry: not for a cnc
        ],
        "plant_id string, sensor_id string, machine_type string, unit string, expected_min double, "
        "expected_max double",
    )
    got = {(r.plant_id, r.sensor): (r.unit, r.expected_min, r.expected_max)
           for r in registered(stats, machines, registry).collect()}
    assert got == {
        ("P1", "temperature_c"): ("degC", -50.0, 500.0),
        ("P1", "flow"): ("l/min", 0.0, None),
        ("P1", "unregistered"): (None, None, None),
        ("P2", "temperature_c"): (None, None, None),
    }


def test_event_counts(spark):
    downtime = spark.createDataFrame(
        [
            (D, "P1", "M1", at(5, 8), at(5, 8), "A1", "alarm"),
            (D, "P1", "M1", at(5, 9), at(5, 9, 5), "A2", "alarm"),  # an alarm's duration is not downtime
            (D, "P1", "M1", at(5, 10), at(5, 10, 45), "B1", "breakdown"),  # 45 min
            (D, "P1", "M1", at(5, 12), at(5, 12, 30), "S1", "setup"),  # 30 min
            (date(2026, 1, 6), "P1", "M1", at(6, 8), at(6, 8), "A1", "alarm"),
        ],
        "date date, plant_id string, machine_id string, start_ts timestamp, end_ts timestamp, code string, "
        "category string",
    )
    failures = spark.createDataFrame([(D, "P1", "M2", "bearing")], "date date, plant_id string, "
                                     "machine_id string, component string")
    maintenance = spark.createDataFrame([(D, "P1", "M3", "belt"), (D, "P1", "M3", "motor")],
                                        "date date, plant_id string, machine_id string, component string")
    out = event_counts(downtime, failures, maintenance)
    got = sorted(tuple(r) for r in out.collect())
    # (date, plant, machine, alarm_count, downtime_events, downtime_minutes, failure_count, maintenance_count)
    assert got == [
        (D, "P1", "M1", 2, 2, 75.0, 0, 0),  # 45 + 30 min
        (D, "P1", "M2", 0, 0, 0.0, 1, 0),
        (D, "P1", "M3", 0, 0, 0.0, 0, 2),
        (date(2026, 1, 6), "P1", "M1", 1, 0, 0.0, 0, 0),
    ]


def test_recency_counts_days_within_365(spark):
    days = spark.createDataFrame(
        [(date(2026, 1, 10), "P1", "M1"), (date(2026, 1, 11), "P1", "M1"), (date(2026, 1, 10), "P1", "M2")],
        "date date, plant_id string, machine_id string",
    )
    events = "date date, plant_id string, machine_id string, component string"
    maintenance = spark.createDataFrame(
        [
            (date(2026, 1, 1), "P1", "M1", "bearing"),
            (date(2026, 1, 8), "P1", "M1", "bearing"),
            (date(2025, 3, 1), "P1", "M1", "motor"),
            (date(2025, 1, 11), "P1", "M1", "motor"),    # 364 days before 01-10 (in), 365 before 01-11 (out)
            (date(2025, 1, 10), "P1", "M1", "spindle"),  # 365 days before 01-10: out
            (date(2026, 1, 11), "P1", "M1", "spindle"),  # after 01-10; the day itself for 01-11
        ],
        events,
    )
    failures = spark.createDataFrame(
        [(date(2026, 1, 5), "P1", "M1", "bearing"), (date(2026, 1, 10), "P1", "M1", "gearbox")], events
    )
    machines, components = recency(days, maintenance, failures)
    assert components.columns == [c.name for c in catalog.get("gold.machine_component_daily").columns]
    got = sorted(tuple(r) for r in components.collect())
    # (date, plant, machine, component, days_since_maintenance, days_since_failure, maint_365d, failures_365d)
    jan10, jan11 = date(2026, 1, 10), date(2026, 1, 11)
    assert got == [
        (jan10, "P1", "M1", "bearing", 2, 5, 2, 1),       # 01-10 - 01-08, 01-10 - 01-05
        (jan10, "P1", "M1", "gearbox", None, 0, 0, 1),    # failed on the day itself
        (jan10, "P1", "M1", "motor", 315, None, 2, 0),    # 2025-03-01 -> 2026-01-10: 306 + 9 days
        (jan11, "P1", "M1", "bearing", 3, 6, 2, 1),
        (jan11, "P1", "M1", "gearbox", None, 1, 0, 1),
        (jan11, "P1", "M1", "motor", 316, None, 1, 0),    # 2025-01-11 now 365 days back: out
        (jan11, "P1", "M1", "spindle", 0, None, 1, 0),    # maintained on the day itself
    ]
    got = sorted(tuple(r) for r in machines.collect())
    # (date, machine, days_since_maintenance, max_component_days_since_maintenance, days_since_failure)
    assert got == [
        (jan10, "M1", 2, 315, 0),  # min(2, 315), max(2, 315), min(5, 0)
        (jan10, "M2", None, None, None),
        (jan11, "M1", 0, 316, 1),  # min(3, 316, 0), max(3, 316, 0), min(6, 1)
    ]


def test_machine_daily_joins_master_data(spark):
    counts = spark.createDataFrame(
        [(D, "P1", "M1", 3, 3.0), (D, "P1", "M2", 1, 1.0), (D, "P1", "M4", 2, 2.0)],
        "date date, plant_id string, machine_id string, readings long, covered_minutes double",
    )
    cycle_time = spark.createDataFrame(
        [(D, "M1", 33.0), (D, "M2", 20.0)],  # M4 has no cycle-time sensor
        "date date, machine_id string, mean double",
    )
    events = spark.createDataFrame(
        [(D, "P1", "M1", 2, 1, 45.0, 1, 0), (D, "P1", "M3", 1, 0, 0.0, 0, 0)],  # M3 has no telemetry: no row
        "date date, plant_id string, machine_id string, alarm_count long, downtime_events long, "
        "downtime_minutes double, failure_count long, maintenance_count long",
    )
    recent = spark.createDataFrame(
        [(D, "M1", 4, 40, 12)],
        "date date, machine_id string, days_since_maintenance long, max_component_days_since_maintenance long, "
        "days_since_failure long",
    )
    dim_machine = spark.createDataFrame(
        [
            ("P1", "M1", "L1", "press", "Z-1", date(2016, 1, 5), "A", 500.0),
            ("P1", "M2", "L9", "cnc", "Z-2", date(2025, 1, 5), "C", None),  # L9 not in dim_line
            ("P1", "M4", "L1", "turbofan", "T-1", None, "B", None),  # install date unknown
        ],
        "plant_id string, machine_id string, line_id string, machine_type string, model string, "
        "install_date date, criticality string, downtime_cost_eur_h double",
    )
    dim_line = spark.createDataFrame([("P1", "L1", 30.0)], "plant_id string, line_id string, ideal_cycle_time_s double")
    got = rows(machine_daily(counts, events, recent, dim_machine, dim_line, cycle_time), "machine_id")
    assert got == [
        pytest.approx({
            "date": D, "plant_id": "P1", "line_id": "L1", "machine_id": "M1", "machine_type": "press",
            "criticality": "A",
            "age_years": 3653 / 365.25,  # 2016-01-05 -> 2026-01-05: 10 x 365 + 3 leap days = 3653 days
            "downtime_cost_eur_h": 500.0, "readings": 3, "covered_minutes": 3.0,
            "cycle_time_slowdown": 0.1,  # 33 / 30 - 1
            "alarm_count": 2, "downtime_events": 1, "downtime_minutes": 45.0, "failure_count": 1,
            "maintenance_count": 0,
            "days_since_maintenance": 4, "max_component_days_since_maintenance": 40, "days_since_failure": 12,
        }),
        pytest.approx({
            "date": D, "plant_id": "P1", "line_id": "L9", "machine_id": "M2", "machine_type": "cnc",
            "criticality": "C",
            "age_years": 365 / 365.25,  # 2025-01-05 -> 2026-01-05
            "downtime_cost_eur_h": None, "readings": 1, "covered_minutes": 1.0,
            "cycle_time_slowdown": None,  # no ideal cycle time
            "alarm_count": 0, "downtime_events": 0, "downtime_minutes": 0.0, "failure_count": 0,
            "maintenance_count": 0,
            "days_since_maintenance": None, "max_component_days_since_maintenance": None,
            "days_since_failure": None,
        }),
        {
            "date": D, "plant_id": "P1", "line_id": "L1", "machine_id": "M4", "machine_type": "turbofan",
            "criticality": "B", "age_years": None, "downtime_cost_eur_h": None, "readings": 2,
            "covered_minutes": 2.0,
            "cycle_time_slowdown": None,  # no cycle-time sensor
            "alarm_count": 0, "downtime_events": 0, "downtime_minutes": 0.0, "failure_count": 0,
            "maintenance_count": 0,
            "days_since_maintenance": None, "max_component_days_since_maintenance": None,
            "days_since_failure": None,
        },
    ]


def test_the_chain_yields_the_gold_columns(spark):
    """The transforms give exactly gold.machine_sensor_daily's and gold.machine_daily's columns (no job runs)."""
    from transforms.machine_daily import build_machine_daily, build_machine_sensor_daily

    def empty(name):
        return bridge.empty(spark, catalog.get(name).schema)

    sensor_spec, daily_spec = catalog.get("gold.machine_sensor_daily"), catalog.get("gold.machine_daily")
    sensors = build_machine_sensor_daily(empty("silver.telemetry"), empty(sensor_spec.name),
                                         empty("silver.dim_machine"), empty("silver.dim_sensor"), (7, 30))
    assert sensors.columns == sensor_spec.column_names
    machines = build_machine_daily(
        empty("silver.telemetry"), sensors, empty("silver.downtime_events"), empty("silver.failures"),
        empty("silver.maintenance"), empty("silver.maintenance"), empty("silver.failures"),
        empty("silver.dim_machine"), empty("silver.dim_line"), "cycle_time_s")
    assert machines.columns == daily_spec.column_names
    assert reading_counts(empty("silver.telemetry")).columns == ["date", "plant_id", "machine_id", "readings",
                                                                 "covered_minutes"]
    _, components = recency(machines.select("date", "plant_id", "machine_id"), empty("silver.maintenance"),
                            empty("silver.failures"))
    assert components.columns == catalog.get("gold.machine_component_daily").column_names
    assert event_counts(empty("silver.downtime_events"), empty("silver.failures"),
                        empty("silver.maintenance")).columns[:3] == ["date", "plant_id", "machine_id"]
