"""transforms.oee on hand-computed shifts: ISO 22400 ratios per line, plant roll-up from sums."""

from __future__ import annotations

from datetime import date

import pytest

from lakehouse import catalog
from transforms.oee import oee_by_line, oee_by_plant

D = date(2026, 1, 5)
PRODUCTION = "date date, plant_id string, line_id string, shift long, planned_minutes double, " \
    "run_minutes double, total_count long, good_count long"


def rows(df, *key):
    return [r.asDict() for r in df.orderBy(*key).collect()]


@pytest.fixture(scope="module")
def lines(spark):
    production = spark.createDataFrame(
        [
            # P1/L1: two shifts, ideal cycle time 30 s = 0.5 min
            (D, "P1", "L1", 1, 480.0, 420.0, 800, 780),
            (D, "P1", "L1", 2, 480.0, 400.0, 700, 690),
            # P1/L2: one shift, ideal cycle time 60 s = 1 min
            (D, "P1", "L2", 1, 480.0, 480.0, 400, 400),
            # P2/L3: planned nothing, made nothing: every ratio has a zero denominator
            (D, "P2", "L3", 1, 0.0, 0.0, 0, 0),
            # P2/L4: no ideal cycle time in dim_line: performance unknown
            (D, "P2", "L4", 1, 480.0, 240.0, 100, 90),
        ],
        PRODUCTION,
    )
    dim_line = spark.createDataFrame(
        [("P1", "L1", 30.0), ("P1", "L2", 60.0), ("P2", "L3", 45.0)],
        "plant_id string, line_id string, ideal_cycle_time_s double",
    )
    return oee_by_line(production, dim_line)


def test_oee_by_line(lines):
    assert lines.columns == [c.name for c in catalog.get("gold.oee_daily").columns]
    got = rows(lines, "line_id")
    common = {"date": D}
    assert got[0] == pytest.approx({
        **common, "plant_id": "P1", "line_id": "L1", "ideal_cycle_time_s": 30.0,
        # PBT = 480 + 480 = 960, APT = 420 + 400 = 820, PQ = 800 + 700 = 1500, GQ = 780 + 690 = 1470
        "planned_minutes": 960.0, "run_minutes": 820.0, "total_count": 1500, "good_count": 1470,
        "availability": 820 / 960,       # 0.854167
        "performance": 1500 * 0.5 / 820,  # 750 / 820 = 0.914634
        "quality": 0.98,                  # 1470 / 1500
        "oee": 0.765625,                  # (750 / 960) x 0.98 = 0.78125 x 0.98
    })
    assert got[1] == pytest.approx({
        **common, "plant_id": "P1", "line_id": "L2", "ideal_cycle_time_s": 60.0,
        "planned_minutes": 480.0, "run_minutes": 480.0, "total_count": 400, "good_count": 400,
        # A = 480/480 = 1, P = 400 x 1 / 480 = 0.833333, Q = 400/400 = 1
        "availability": 1.0, "performance": 400 / 480, "quality": 1.0, "oee": 400 / 480,
    })
    assert got[2] == {
        **common, "plant_id": "P2", "line_id": "L3", "ideal_cycle_time_s": 45.0,
        "planned_minutes": 0.0, "run_minutes": 0.0, "total_count": 0, "good_count": 0,
        "availability": None, "performance": None, "quality": None, "oee": None,
    }
    assert got[3] == pytest.approx({
        **common, "plant_id": "P2", "line_id": "L4", "ideal_cycle_time_s": None,
        "planned_minutes": 480.0, "run_minutes": 240.0, "total_count": 100, "good_count": 90,
        "availability": 0.5, "performance": None, "quality": 0.9, "oee": None,
    })


def test_oee_by_plant_rolls_up_from_sums(lines):
    plants = oee_by_plant(lines)
    assert plants.columns == [c.name for c in catalog.get("gold.oee_plant_daily").columns]
    got = rows(plants, "plant_id")
    assert got[0] == pytest.approx({
        "date": D, "plant_id": "P1", "lines": 2,
        # PBT = 960 + 480 = 1440, APT = 820 + 480 = 1300, PQ = 1500 + 400 = 1900, GQ = 1470 + 400 = 1870
        "planned_minutes": 1440.0, "run_minutes": 1300.0, "total_count": 1900, "good_count": 1870,
        "availability": 1300 / 1440,   # 0.902778
        # sum(PQ x ideal min) = 1500 x 0.5 + 400 x 1 = 1150; / APT 1300 = 0.884615
        "performance": 1150 / 1300,
        "quality": 1870 / 1900,        # 0.984211
        # 1150 / 1440 x 1870 / 1900 = 0.786001 (not the mean of line OEEs, (0.765625 + 0.833333) / 2 = 0.799479)
        "oee": 0.7860014619883041,
    })
    assert got[1] == pytest.approx({
        "date": D, "plant_id": "P2", "lines": 2,
        "planned_minutes": 480.0, "run_minutes": 240.0, "total_count": 100, "good_count": 90,
        # A = 240 / 480, Q = 90 / 100; L4 produced without an ideal cycle time -> performance and OEE unknown
        "availability": 0.5, "performance": None, "quality": 0.9, "oee": None,
    })


def test_a_line_planned_but_stopped_all_day_has_oee_zero(spark):
    """A = 0 / 480 = 0; P = 0 / 0 is undefined; Q = 0 / 0 is undefined; OEE = GQ x PRI / PBT = 0 / 480 = 0."""
    production = spark.createDataFrame([(D, "P3", "L5", 1, 480.0, 0.0, 0, 0)], PRODUCTION)
    dim_line = spark.createDataFrame([("P3", "L5", 30.0)], "plant_id string, line_id string, ideal_cycle_time_s double")
    (line,) = rows(oee_by_line(production, dim_line), "line_id")
    assert (line["availability"], line["performance"], line["quality"], line["oee"]) == (0.0, None, None, 0.0)
    (plant,) = rows(oee_by_plant(oee_by_line(production, dim_line)), "plant_id")
    assert plant["oee"] == 0.0
