"""What a run records per night on each asset (orchestration/metadata.py): the night's own row count and preview,
both read from one snapshot of the table."""

from __future__ import annotations

import datetime as dt

from lakehouse.delta import Lake
from orchestration.metadata import partition_metadata
from tests.lakedata import READINGS, START, readings

D2, EMPTY = START + dt.timedelta(days=1), START + dt.timedelta(days=2)
NIGHTS = [START.isoformat(), D2.isoformat(), EMPTY.isoformat()]


def test_each_night_s_count_and_preview_come_from_one_snapshot(tmp_path, monkeypatch):
    lake = Lake(str(tmp_path / "lake"))
    lake.append(READINGS, readings(START, ["P1", "P2"]))  # 2 plants x 3 machines x 4 readings
    lake.append(READINGS, readings(D2, ["P1"]))
    opened = []
    snapshot = Lake.delta_table
    monkeypatch.setattr(Lake, "delta_table", lambda self, *a, **k: opened.append(a) or snapshot(self, *a, **k))

    recorded = partition_metadata(lake, READINGS, NIGHTS)

    assert len(opened) == 1  # a commit between a count and a preview cannot make them disagree
    counts = {night: m["dagster/row_count"].value for night, m in recorded.items()}
    assert counts == {START.isoformat(): 24, D2.isoformat(): 12, EMPTY.isoformat(): 0}
    assert START.isoformat() in recorded[START.isoformat()]["preview"].value
    assert D2.isoformat() in recorded[D2.isoformat()]["preview"].value
    assert START.isoformat() not in recorded[D2.isoformat()]["preview"].value  # a night's preview is its own
    assert recorded[EMPTY.isoformat()]["preview"].value == "_no rows_"


def test_a_table_not_written_yet_records_no_rows(tmp_path):
    recorded = partition_metadata(Lake(str(tmp_path / "lake")), READINGS, NIGHTS)
    assert {night: m["dagster/row_count"].value for night, m in recorded.items()} == dict.fromkeys(NIGHTS, 0)
    assert {m["preview"].value for m in recorded.values()} == {"_no rows_"}
