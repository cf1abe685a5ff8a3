"""transforms.machine_daily on hand-computed days: sensor stats, drift, events, recency, the joined row."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse import catalog
from lakehouse.gold_tables import SENSORS
from transforms.machine_daily import event_counts, machine_daily, recency, sensor_stats, with_drift

D = date(2026, 1, 5)
MEANS = "date date, machine_id string, temperature_c_mean double, temperature_c_std double"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)


def rows(df, *key):
    return [r.asDict() for r in df.orderBy(*key).collect()]


def test_sensor_stats(spark):
    telemetry = spark.createDataFrame(
        [
            ("P1", "M1", at(5, 8, 0), 60, 10.0, 1.0),
            ("P1", "M1", at(5, 8, 1), 60, 20.0, None),
            ("P1", "M1", at(5, 8, 2), 60, 30.0, 3.0),
            ("P1", "M2", at(5, 8, 0), 3600, 50.0, None),  # one hourly reading
        ],
        "plant_id string, machine_id string, ts timestamp, interval_s long, temperature_c double, "
        "vibration_mm_s double",
    ).selectExpr("DATE'2026-01-05' AS date", "*")
    got = rows(sensor_stats(telemetry, ["temperature_c", "vibration_mm_s"]), "machine_id")
    assert got == [
        pytest.approx({
            "date": D, "plant_id": "P1", "machine_id": "M1", "readings": 3,
            "covered_minutes": 3.0,  # 3 x 60 s
            # mean (10 + 20 + 30) / 3 = 20; sample std sqrt((100 + 0 + 100) / 2) = 10
            "temperature_c_mean": 20.0, "temperature_c_std": 10.0, "temperature_c_max": 30.0,
            # nulls ignored: mean (1 + 3) / 2 = 2; std sqrt((1 + 1) / 1) = sqrt(2)
            "vibration_mm_s_mean": 2.0, "vibration_mm_s_std": math.sqrt(2), "vibration_mm_s_max": 3.0,
        }),
        {
            "date": D, "plant_id": "P1", "machine_id": "M2", "readings": 1,
            "covered_minutes": 60.0,  # 3600 s
            "temperature_c_mean": 50.0, "temperature_c_std": None, "temperature_c_max": 50.0,  # std needs 2 values
            "vibration_mm_s_mean": None, "vibration_mm_s_std": None, "vibration_mm_s_max": None,
        },
    ]


def test_with_drift_over_a_range_of_days(spark):
    stats = spark.createDataFrame(
        [
            (date(2026, 1, 4), "P1", "M1", 16.0, 2.0),
            (date(2026, 1, 5), "P1", "M1", 21.0, 3.0),
            (D, "P1", "M2", 50.0, 1.0),
            (D, "P1", "M3", 5.0, 1.0),
        ],
        "date date, plant_id string, machine_id string, temperature_c_mean double, temperature_c_std double",
    )
    history = spark.createDataFrame(
        [
            (date(2025, 12, 10), "M1", 20.0, 8.0),
            (date(2026, 1, 1), "M1", 10.0, 2.0),
            (date(2026, 1, 2), "M1", 12.0, 2.0),
            (date(2026, 1, 3), "M1", 14.0, 4.0),
            (date(2026, 1, 4), "M1", 999.0, 999.0),  # overlaps stats: stats' (16, 2) wins
            (date(2026, 1, 3), "M2", 48.0, 1.0),     # M2: only 2 baseline days
            (date(2026, 1, 4), "M2", 49.0, 1.0),
            (date(2026, 1, 2), "M3", 5.0, 0.0),      # M3: 3 days, but their std is 0
            (date(2026, 1, 3), "M3", 5.0, 0.0),
            (date(2026, 1, 4), "M3", 5.0, 0.0),
        ],
        MEANS,
    )
    out = with_drift(stats, history, ["temperature_c"])
    assert out.columns == [*stats.columns, "temperature_c_drift_7d", "temperature_c_drift_30d"]
    got = {(r.machine_id, r.date): (r.temperature_c_drift_7d, r.temperature_c_drift_30d) for r in out.collect()}
    assert got == {
        # 01-04, 7d = [12-28, 01-03]: means 10, 12, 14 -> 12; stds 2, 2, 4 -> 8/3; (16 - 12) / (8/3) = 1.5
        #        30d = [12-05, 01-03]: + 12-10 (20, 8): means -> 14, stds -> 4; (16 - 14) / 4 = 0.5
        ("M1", date(2026, 1, 4)): pytest.approx((1.5, 0.5)),
        # 01-05, 7d = [12-29, 01-04]: means 10, 12, 14, 16 -> 13; stds 2, 2, 4, 2 -> 2.5; (21 - 13) / 2.5 = 3.2
        #        30d = [12-06, 01-04]: means 20, 10, 12, 14, 16 -> 14.4; stds 8, 2, 2, 4, 2 -> 3.6;
        #        (21 - 14.4) / 3.6 = 1.833333
        ("M1", D): pytest.approx((3.2, 6.6 / 3.6)),
        ("M2", D): (None, None),  # 2 baseline days < 3
        ("M3", D): (None, None),  # denominator 0
    }
    # no history: M1's 01-05 has one baseline day (01-04 from stats) -> null
    empty = spark.createDataFrame([], MEANS)
    assert {r.temperature_c_drift_7d for r in with_drift(stats, empty, ["temperature_c"]).collect()} == {None}


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
    stats = spark.createDataFrame(
        [(D, "P1", "M1", 3, 3.0, 33.0, 1.0, 35.0, 0.5), (D, "P1", "M2", 1, 1.0, 20.0, None, 20.0, None)],
        "date date, plant_id string, machine_id string, readings long, covered_minutes double, "
        "cycle_time_s_mean double, cycle_time_s_std double, cycle_time_s_max double, cycle_time_s_drift_7d double",
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
        ],
        "plant_id string, machine_id string, line_id string, machine_type string, model string, "
        "install_date date, criticality string, downtime_cost_eur_h double",
    )
    dim_line = spark.createDataFrame([("P1", "L1", 30.0)], "plant_id string, line_id string, ideal_cycle_time_s double")
    got = rows(machine_daily(stats, events, recent, dim_machine, dim_line), "machine_id")
    assert got == [
        pytest.approx({
            "date": D, "plant_id": "P1", "line_id": "L1", "machine_id": "M1", "machine_type": "press",
            "criticality": "A",
            "age_years": 3653 / 365.25,  # 2016-01-05 -> 2026-01-05: 10 x 365 + 3 leap days = 3653 days
            "downtime_cost_eur_h": 500.0, "readings": 3, "covered_minutes": 3.0,
            "cycle_time_s_mean": 33.0, "cycle_time_s_std": 1.0, "cycle_time_s_max": 35.0, "cycle_time_s_drift_7d": 0.5,
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
            "cycle_time_s_mean": 20.0, "cycle_time_s_std": None, "cycle_time_s_max": 20.0,
            "cycle_time_s_drift_7d": None,
            "cycle_time_slowdown": None,  # no ideal cycle time
            "alarm_count": 0, "downtime_events": 0, "downtime_minutes": 0.0, "failure_count": 0,
            "maintenance_count": 0,
            "days_since_maintenance": None, "max_component_days_since_maintenance": None,
            "days_since_failure": None,
        }),
    ]


def test_the_chain_yields_the_gold_columns(spark):
    """sensor_stats -> with_drift -> machine_daily gives exactly gold.machine_daily's columns (no job runs)."""
    sensors = [s for s, _ in SENSORS]
    silver = {name: catalog.get(f"silver.{name}") for name in ("telemetry", "downtime_events", "failures",
                                                                "maintenance", "dim_machine", "dim_line")}
    empty = {name: spark.createDataFrame([], from_arrow_schema(spec.schema)) for name, spec in silver.items()}
    stats = sensor_stats(empty["telemetry"], sensors)
    history = spark.createDataFrame([], from_arrow_schema(catalog.get("gold.machine_daily").schema))
    stats = with_drift(stats, history, sensors)
    events = event_counts(empty["downtime_events"], empty["failures"], empty["maintenance"])
    machines, _ = recency(stats.select("date", "plant_id", "machine_id"), empty["maintenance"], empty["failures"])
    out = machine_daily(stats, events, machines, empty["dim_machine"], empty["dim_line"])
    assert out.columns == [c.name for c in catalog.get("gold.machine_daily").columns]
