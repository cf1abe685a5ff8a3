"""transforms.productivity: monthly units per planned hour against the baseline and the +1/3 target."""

from __future__ import annotations

from datetime import date

import pytest

from lakehouse import catalog
from transforms.productivity import plant_productivity

OEE_LINE = "date date, plant_id string, line_id string, ideal_cycle_time_s double, planned_minutes double, " \
    "run_minutes double, total_count long, good_count long"


def test_plant_productivity(spark):
    oee_line = spark.createDataFrame(
        [
            (date(2026, 1, 5), "P1", "L1", 30.0, 960.0, 820.0, 1500, 1470),
            (date(2026, 1, 5), "P1", "L2", 60.0, 480.0, 480.0, 400, 400),
            (date(2026, 1, 6), "P1", "L1", 30.0, 960.0, 900.0, 1600, 1560),
            (date(2026, 2, 2), "P1", "L1", 30.0, 480.0, 480.0, 960, 960),
            (date(2026, 1, 7), "P9", "L9", 120.0, 60.0, 60.0, 30, 30),  # P9 has no dim_plant row
        ],
        OEE_LINE,
    )
    dim_plant = spark.createDataFrame([("P1", 60.0)], "plant_id string, baseline_units_per_hour double")
    out = plant_productivity(oee_line, dim_plant)
    assert out.columns == [c.name for c in catalog.get("gold.plant_productivity").columns]
    got = [r.asDict() for r in out.orderBy("plant_id", "month").collect()]
    assert got[0] == pytest.approx({
        "month": date(2026, 1, 1), "plant_id": "P1", "days": 2,
        "planned_hours": 40.0,                 # (960 + 480 + 960) min / 60
        "good_count": 3430,                    # 1470 + 400 + 1560
        "units_per_hour": 85.75,               # 3430 / 40
        "baseline_units_per_hour": 60.0,
        "target_units_per_hour": 80.0,         # 60 x 4/3
        "productivity_index": 85.75 / 60,      # 1.429167
        "target_attainment": 1.071875,         # 85.75 / 80
        # ideal min = 1500 x 0.5 + 400 x 1 + 1600 x 0.5 = 1950; A x P = 1950 / 2400 = 0.8125;
        # Q = 3430 / 3500 = 0.98; OEE = 0.8125 x 0.98
        "oee": 0.79625,
    })
    assert got[1] == pytest.approx({
        "month": date(2026, 2, 1), "plant_id": "P1", "days": 1,
        "planned_hours": 8.0, "good_count": 960, "units_per_hour": 120.0,  # 960 / 8
        "baseline_units_per_hour": 60.0, "target_units_per_hour": 80.0,
        "productivity_index": 2.0, "target_attainment": 1.5,  # 120 / 60, 120 / 80
        "oee": 1.0,  # 960 x 0.5 = 480 ideal min = PBT = APT, all good
    })
    assert got[2] == pytest.approx({
        "month": date(2026, 1, 1), "plant_id": "P9", "days": 1,
        "planned_hours": 1.0, "good_count": 30, "units_per_hour": 30.0,
        "baseline_units_per_hour": None, "target_units_per_hour": None,
        "productivity_index": None, "target_attainment": None,
        "oee": 1.0,  # 30 x 2 min = 60 = PBT = APT
    })
