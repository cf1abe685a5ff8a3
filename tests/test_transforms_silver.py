"""transforms.silver on hand-built bronze rows: dedup on the natural key, latest dimension snapshot."""

from __future__ import annotations

from datetime import UTC, date, datetime

from transforms.silver import conform_events, latest_snapshot

D = date(2026, 1, 5)


def at(hour: int, day: int = 5) -> datetime:
    return datetime(2026, 1, day, hour, tzinfo=UTC)


def test_conform_events_keeps_the_latest_landing_per_key(spark):
    schema = (
        "date date, plant_id string, machine_id string, ts timestamp, value double, "
        "_source_file string, _source_row long, _ingested_at timestamp, _run_id string"
    )
    bronze = spark.createDataFrame(
        [
            # key ts=01:00: landed at 10:00 and again at 11:00 -> the 11:00 row (value 2) wins
            (D, "P1", "M1", at(1), 1.0, "a.csv", 1, at(10), "r1"),
            (D, "P1", "M1", at(1), 2.0, "b.csv", 1, at(11), "r2"),
            # key ts=02:00: same landing time -> highest file name b.csv (value 4) wins
            (D, "P1", "M1", at(2), 3.0, "a.csv", 2, at(10), "r1"),
            (D, "P1", "M1", at(2), 4.0, "b.csv", 2, at(10), "r1"),
            # key ts=03:00: same landing time and file -> highest row 4 (value 6) wins
            (D, "P1", "M1", at(3), 5.0, "a.csv", 3, at(10), "r1"),
            (D, "P1", "M1", at(3), 6.0, "a.csv", 4, at(10), "r1"),
            # another plant's machine with the same ts is another key
            (D, "P2", "M1", at(1), 7.0, "c.csv", 1, at(9), "r1"),
        ],
        schema,
    )
    out = conform_events(bronze, ["date", "plant_id", "machine_id", "ts"])
    assert out.columns == ["date", "plant_id", "machine_id", "ts", "value", "_source_file", "_ingested_at"]
    got = {(r.plant_id, r.ts.hour): (r.value, r._source_file) for r in out.collect()}
    assert got == {
        ("P1", 1): (2.0, "b.csv"),
        ("P1", 2): (4.0, "b.csv"),
        ("P1", 3): (6.0, "a.csv"),
        ("P2", 1): (7.0, "c.csv"),
    }


def test_latest_snapshot_takes_the_latest_date_and_remembers_the_first(spark):
    schema = (
        "date date, plant_id string, machine_id string, criticality string, "
        "_source_file string, _source_row long, _ingested_at timestamp, _run_id string"
    )
    bronze = spark.createDataFrame(
        [
            # M1 named on 01-01 (A) and 01-03 (B): attributes of 01-03, first seen 01-01
            (date(2026, 1, 1), "P1", "M1", "A", "m.csv", 1, at(1, 1), "r1"),
            (date(2026, 1, 3), "P1", "M1", "B", "m.csv", 1, at(1, 3), "r3"),
            # M2 landed twice on 01-02: the 12:00 landing (A) wins over 10:00 (C)
            (date(2026, 1, 2), "P1", "M2", "C", "m.csv", 2, at(10, 2), "r2"),
            (date(2026, 1, 2), "P1", "M2", "A", "m.csv", 2, at(12, 2), "r4"),
        ],
        schema,
    )
    out = latest_snapshot(bronze, ["machine_id"])
    assert out.columns == ["plant_id", "machine_id", "criticality", "first_seen", "as_of"]
    got = sorted(tuple(r) for r in out.collect())
    assert got == [
        ("P1", "M1", "B", date(2026, 1, 1), date(2026, 1, 3)),
        ("P1", "M2", "A", date(2026, 1, 2), date(2026, 1, 2)),
    ]
