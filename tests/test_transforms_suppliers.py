"""transforms.suppliers on hand-computed shipments: OTIF, lead time, PPM, rolling windows, supply risk."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import pytest
from pyspark.sql import functions as F

from lakehouse import catalog
from transforms.suppliers import (
    deliveries,
    first_loaded,
    open_shipments,
    rolling_window,
    scorecard,
    supply_risk,
    supply_risk_of,
    with_window_cover,
)

SHIPMENTS = (
    "date date, shipment_id string, supplier_id string, plant_id string, part_id string, status string, "
    "updated_at timestamp, ordered_qty long, delivered_qty long, shipped_at timestamp, promised_at timestamp, "
    "eta timestamp, delivered_at timestamp, freight_cost_eur double, premium_freight boolean"
)


def at(day: int, hour: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def delivered(sid, supplier, shipped, promised, arrived, ordered, qty, freight=100.0, premium=False):
    return (arrived.date(), sid, supplier, "P1", "X", "delivered", arrived, ordered, qty, shipped, promised, None,
            arrived, freight, premium)


def in_transit(day, sid, eta=None, supplier="A", promised=None, ordered=10, part="X"):
    return (day, sid, supplier, "P1", part, "in_transit", datetime(day.year, day.month, day.day, tzinfo=UTC),
            ordered, None, at(1), promised or at(20), eta, None, 100.0, False)


@pytest.fixture(scope="module")
def delivered_rows(spark):
    shipments = spark.createDataFrame(
        [
            # on time (exactly at the promise), in full; lead 01-01 08:00 -> 01-03 08:00 = 2 days
            delivered("S1", "A", at(1, 8), at(3, 8), at(3, 8), 100, 100),
            # 12 h late, in full; lead 01-01 00:00 -> 01-02 12:00 = 1.5 days
            delivered("S2", "A", at(1), at(2), at(2, 12), 100, 100),
            # early, short (90 of 100), premium freight 500 EUR; lead 01-02 00:00 -> 01-04 06:00 = 2.25 days
            delivered("S3", "A", at(2), at(5), at(4, 6), 100, 90, freight=500.0, premium=True),
            # supplier B: on time, in full, lead 1 day
            delivered("S5", "B", at(2), at(4), at(3), 50, 50),
            in_transit(date(2026, 1, 3), "S4"),  # not delivered: not a delivery
        ],
        SHIPMENTS,
    )
    return deliveries(shipments)


def test_deliveries(delivered_rows):
    got = {r.shipment_id: (r.on_time, r.in_full, r.otif, r.lead_time_days) for r in delivered_rows.collect()}
    assert got == {
        "S1": (True, True, True, 2.0),
        "S2": (False, True, False, 1.5),
        "S3": (True, False, False, 2.25),
        "S5": (True, True, True, 1.0),
    }


def test_scorecard(spark, delivered_rows):
    inspections = spark.createDataFrame(
        [
            (date(2026, 1, 5), "A", 1000, 2),
            (date(2026, 1, 6), "A", 1000, 1),
            (date(2026, 1, 6), "C", 500, 0),  # C inspected but delivered nothing this month
        ],
        "date date, supplier_id string, inspected_qty long, defective_qty long",
    )
    month = "trunc(date, 'month') AS month"
    out = scorecard(delivered_rows.selectExpr(month, "*"), inspections.selectExpr(month, "*"), "month")
    assert out.columns == [c.name for c in catalog.get("gold.supplier_scorecard").columns]
    got = [r.asDict() for r in out.orderBy("supplier_id").collect()]
    windowed = scorecard(rolling_window(delivered_rows, [date(2026, 1, 31)]),
                         rolling_window(inspections, [date(2026, 1, 31)]), "date")
    assert windowed.columns == [c.name for c in catalog.get("gold.supplier_scorecard_90d").columns][:-2]
    jan = date(2026, 1, 1)
    # lead times 2, 1.5, 2.25: mean 5.75 / 3 = 1.916667; deviations 1/12, -5/12, 4/12;
    # sample variance (1 + 25 + 16) / 144 / 2 = 42 / 288; std = sqrt(0.145833) = 0.381881
    assert got[0] == pytest.approx({
        "month": jan, "supplier_id": "A", "deliveries": 3,
        "on_time_rate": 2 / 3, "in_full_rate": 2 / 3, "otif_rate": 1 / 3,  # S1, S3 on time; S1, S2 in full; S1 both
        "lead_time_days_mean": 5.75 / 3, "lead_time_days_std": math.sqrt(42 / 288),
        "inspected_qty": 2000, "defective_qty": 3, "defect_ppm": 1500.0,  # 3 / 2000 x 1e6
        "premium_freight_shipments": 1, "premium_freight_eur": 500.0,
    })
    assert got[1] == {
        "month": jan, "supplier_id": "B", "deliveries": 1,
        "on_time_rate": 1.0, "in_full_rate": 1.0, "otif_rate": 1.0,
        "lead_time_days_mean": 1.0, "lead_time_days_std": None,  # one delivery: no spread
        "inspected_qty": 0, "defective_qty": 0, "defect_ppm": None,
        "premium_freight_shipments": 0, "premium_freight_eur": 0.0,
    }
    assert got[2] == {
        "month": jan, "supplier_id": "C", "deliveries": 0,
        "on_time_rate": None, "in_full_rate": None, "otif_rate": None,
        "lead_time_days_mean": None, "lead_time_days_std": None,
        "inspected_qty": 500, "defective_qty": 0, "defect_ppm": 0.0,
        "premium_freight_shipments": 0, "premium_freight_eur": 0.0,
    }


def test_rolling_window(spark):
    events = spark.createDataFrame(
        [("e1", date(2026, 1, 1)), ("e2", date(2026, 3, 31)), ("e3", date(2026, 4, 1))],
        "event string, date date",
    )
    # 90 days ending 03-31 = [01-01, 03-31] (31 + 28 + 31 days); ending 04-01 = [01-02, 04-01]
    out = rolling_window(events, [date(2026, 3, 31), date(2026, 4, 1)], days=90)
    assert out.columns == ["event", "event_date", "date"]
    assert sorted((r.event, r.date.isoformat()) for r in out.collect()) == [
        ("e1", "2026-03-31"),
        ("e2", "2026-03-31"),
        ("e2", "2026-04-01"),
        ("e3", "2026-04-01"),
    ]
    # a window on another column: the events' own `date` is renamed, `arrived` decides
    events = events.selectExpr("event", "date", "date_add(date, 1) AS arrived")
    out = rolling_window(events, [date(2026, 3, 31)], days=90, event_date="arrived")
    assert sorted(r.event for r in out.collect()) == ["e1"]  # arrivals 01-02, 04-01, 04-02: only 01-02 in


def test_open_shipments(spark):
    d1, d2, d3, d4 = (date(2026, 1, n) for n in (1, 2, 3, 4))
    shipments = spark.createDataFrame(
        [
            in_transit(d1, "X1"),
            delivered("X1", "A", at(1), at(3), at(3, 9), 10, 10),  # delivered on 01-03
            in_transit(d2, "X2"),                                   # never delivered
            in_transit(d4, "X3"),                                   # ships after every as-of date
            in_transit(d1, "X4", eta=at(10)),
            in_transit(d2, "X4", eta=at(12)),                       # a newer ETA for X4 from 01-02 on
        ],
        SHIPMENTS,
    )
    out = open_shipments(shipments, [d1, d2, d3])
    assert "date" in out.columns
    assert sorted((r.date.day, r.shipment_id, r.eta and r.eta.day) for r in out.collect()) == [
        (1, "X1", None), (1, "X4", 10),
        (2, "X1", None), (2, "X2", None), (2, "X4", 12),
        (3, "X2", None), (3, "X4", 12),  # X1 arrived on 01-03
    ]


def test_supply_risk(spark):
    d = date(2026, 1, 10)  # end of the day 01-11 00:00 UTC; due within 3 days: promised <= 01-14 00:00
    rows = [
        # A: poor OTIF 0.80
        in_transit(d, "a1", supplier="A", promised=at(12, 10), eta=at(12, 8), ordered=100),  # due soon: at risk
        in_transit(d, "a2", supplier="A", promised=at(20), eta=at(19), ordered=100),  # due later: not at risk
        in_transit(d, "a3", supplier="A", promised=at(14), ordered=20),  # due exactly at the limit: at risk
        in_transit(d, "a4", supplier="A", promised=at(14, 1), ordered=20),  # an hour past the limit: not
        # B: good OTIF 0.95; only late ETAs count
        in_transit(d, "b1", supplier="B", promised=at(12), eta=at(12, 6), ordered=10, part="Y"),  # late 6 h
        in_transit(d, "b2", supplier="B", promised=at(11, 12), ordered=10, part="Y"),  # no ETA, good supplier
        in_transit(d, "b3", supplier="B", promised=at(13), eta=at(14, 12), ordered=5, part="Y"),  # late 36 h
        # C: no 90-day scorecard
        in_transit(d, "c1", supplier="C", promised=at(11), ordered=7),
    ]
    open_ = spark.createDataFrame(rows, SHIPMENTS)
    scores = spark.createDataFrame([(d, "A", 0.80), (d, "B", 0.95)], "date date, supplier_id string, otif_rate double")
    parts = spark.createDataFrame([("X", 2.5), ("Y", 40.0)], "part_id string, unit_cost_eur double")
    # the supplier drops were first loaded on 12-01: the OTIF window ending 01-10 covers 41 of its 90 days
    landed = spark.createDataFrame([(date(2025, 12, 1), "suppliers", "landed"), (date(2025, 1, 1), "P1", "landed")],
                                   "date date, plant_id string, status string")
    out = supply_risk_of([d], open_, scores, parts, landed, days=90, source="suppliers")
    assert out.columns == [c.name for c in catalog.get("gold.plant_supply_risk").columns]
    got = sorted(tuple(r) for r in out.collect())
    # (date, plant, supplier, open, at risk, qty, value EUR, max delay h, OTIF 90d, level, days covered, complete)
    assert got == [
        # a1 + a3: 100 + 20 units, 120 x 2.5 EUR; delays a1 -2 h, a2 -24 h (a3, a4 no ETA)
        (d, "P1", "A", 4, 2, 120, 300.0, -2.0, 0.80, "medium", 41, False),
        # b1 + b3: 10 + 5 units x 40 EUR; max delay 36 h
        (d, "P1", "B", 3, 2, 15, 600.0, 36.0, 0.95, "high", 41, False),
        (d, "P1", "C", 1, 0, 0, 0.0, None, None, "low", 41, False),
    ]
    loaded_a_year = landed.where("plant_id = 'P1'").withColumn("plant_id", F.lit("suppliers"))  # from 2025-01-01
    complete = supply_risk_of([d], open_, scores, parts, loaded_a_year, days=90, source="suppliers").collect()
    assert {(r.window_days_covered, r.window_complete) for r in complete} == {(90, True)}


def test_what_the_source_does_not_say_stays_unknown(spark):
    rows = [  # A: no ship date, no delivered quantity, no premium flag (an export that does not say)
        delivered("U1", "A", None, at(3), at(2), 100, None, premium=None),
        delivered("U2", "A", None, at(3), at(4), 100, None, freight=None, premium=None),
        # B: says everything for one delivery, nothing for the other: rates over the deliveries that say
        delivered("K1", "B", at(1), at(3), at(2), 100, 100),
        delivered("K2", "B", None, at(3), at(4), 100, None, premium=None),
    ]
    shipments = spark.createDataFrame(rows, SHIPMENTS)
    card = {r.supplier_id: r for r in scorecard(deliveries(shipments).withColumn("month", F.lit(date(2026, 1, 1))),
                                                 shipments.where("false").withColumn("month", F.lit(None)).select(
                                                     "month", "supplier_id", F.lit(0).alias("inspected_qty"),
                                                     F.lit(0).alias("defective_qty")), "month").collect()}
    a, b = card["A"], card["B"]
    assert a.deliveries == 2 and a.on_time_rate == 0.5
    assert a.in_full_rate is None and a.lead_time_days_mean is None
    assert a.otif_rate == 0.0  # U2 was late: not OTIF whatever its quantity; U1's OTIF is unknown
    assert a.premium_freight_shipments is None and a.premium_freight_eur is None
    assert b.in_full_rate == 1.0 and b.lead_time_days_mean == 1.0 and b.premium_freight_shipments == 0
    open_ = spark.createDataFrame([in_transit(date(2026, 1, 10), "o1", eta=at(20, 1), part="NOCOST")], SHIPMENTS)
    parts = spark.createDataFrame([("X", 2.5), ("NOCOST", None)], "part_id string, unit_cost_eur double")
    scores = spark.createDataFrame([], "date date, supplier_id string, otif_rate double")
    risk = supply_risk(open_, scores, parts).collect()[0]
    assert risk.at_risk_shipments == 1 and risk.at_risk_value_eur is None  # its part's cost is unknown


def test_rolling_windows_before_the_first_loaded_night_say_so(spark):
    card = spark.createDataFrame([(date(2026, 1, 1), "A"), (date(2026, 2, 15), "A"), (date(2026, 4, 1), "A")],
                                 "date date, supplier_id string")
    landed = spark.createDataFrame([(date(2026, 1, 1), "suppliers", "landed"), (date(2025, 6, 1), "DE01", "landed"),
                                    (date(2025, 12, 1), "suppliers", "rejected")],
                                   "date date, plant_id string, status string")
    got = sorted(tuple(r) for r in with_window_cover(card, first_loaded(landed, "suppliers"), 90).collect())
    # the first supplier night that landed is 01-01: 1, 46 and 90 (of 91) days of the windows lie after it
    assert got == [(date(2026, 1, 1), "A", 1, False), (date(2026, 2, 15), "A", 46, False),
                   (date(2026, 4, 1), "A", 90, True)]
