"""Every contract rule of every feed: a good row lands, a row breaking the rule is quarantined.

Cases are derived from the contracts (a contract that gains a rule, a range, an allowed
list or a reference gets a case here, or the coverage test fails), written as real drops
and read with ``read_drop``.
"""

from __future__ import annotations

import datetime as dt

import pytest

from lakehouse.catalog import FLOAT64, STRING, TIMESTAMP
from sources.contracts import CONTRACTS, QUARANTINE
from tests.dropkit import GOOD, KNOWN, csv_bytes, feed_drop, read, row

#: Rows breaking each cross-column rule (feed, rule name) -> changes to the good row.
RULE_CASES = {
    ("production", "good_le_total"): {"total_count": "100", "good_count": "120"},
    ("production", "run_le_planned"): {"planned_minutes": "400", "run_minutes": "420.5"},
    ("production", "end_after_start"): {"shift_end": "2026-01-05T04:00:00Z"},
    ("downtime_events", "end_after_start"): {"end_ts": "2026-01-05T08:59:00Z"},
    ("shipments", "promised_after_shipped"): {"promised_at": "2026-01-02T08:00:00Z"},
    ("shipments", "delivered_after_shipped"): {"delivered_at": "2026-01-02T08:00:00Z",
                                               "updated_at": "2026-01-05T12:00:00Z"},
    ("shipments", "delivered_has_time"): {"delivered_at": ""},
    ("inspections", "defective_le_inspected"): {"inspected_qty": "10", "defective_qty": "11"},
    ("sensors", "range_in_order"): {"expected_min": "10", "expected_max": "5"},
}


def _shift(value: str, days: int) -> str:
    when = dt.datetime.fromisoformat(value.replace("Z", "+00:00")) + dt.timedelta(days=days)
    return when.isoformat().replace("+00:00", "Z")


def cases() -> list[tuple[str, str, str | None, dict[str, str]]]:
    """(feed, rule, column the reason must name, changes to the good row) for every rule a feed has."""
    out = []
    for feed, spec in CONTRACTS.items():
        fields = spec.fields
        for typed in [f for f in fields if f.type != STRING][:1]:  # a registry of names has no typed column
            out.append((feed, "type", typed.name, {typed.name: "abc"}))
        for f in [f for f in fields if f.type == FLOAT64][:1]:
            out.append((feed, "nan", f.name, {f.name: "NaN"}))
            out.append((feed, "nan", f.name, {f.name: "-Inf"}))
        required = next(f for f in fields if f.required)
        out.append((feed, "required", required.name, {required.name: ""}))
        for f in [f for f in fields if f.min is not None][:1]:
            out.append((feed, "range", f.name, {f.name: str(f.min - 1)}))
        for f in [f for f in fields if f.max is not None][:1]:
            out.append((feed, "range", f.name, {f.name: str(f.max * 2 + 1)}))
        for f in [f for f in fields if f.allowed][:1]:
            out.append((feed, "allowed", f.name, {f.name: "nope"}))
        for rule in spec.rules:
            out.append((feed, f"rule:{rule.name}", None, RULE_CASES[(feed, rule.name)]))
        if spec.event_time:
            shifted = {f.name: _shift(GOOD[feed][f.name], 2) for f in fields
                       if f.type == TIMESTAMP and GOOD[feed][f.name]}
            out.append((feed, "in_date", spec.event_time, shifted))
        for column, _master in spec.references:
            out.append((feed, "reference", column, {column: "UNKNOWN-9"}))
        out.append((feed, "duplicate", None, {}))
    return out


CASES = cases()


def test_every_rule_kind_of_every_feed_has_a_case():
    covered = {(feed, rule) for feed, rule, _, _ in CASES}
    for feed, spec in CONTRACTS.items():
        expected = {"required", "duplicate"} | ({"type"} if any(f.type != STRING for f in spec.fields) else set())
        expected |= {"nan"} if any(f.type == FLOAT64 for f in spec.fields) else set()
        expected |= {"range"} if any(f.min is not None or f.max is not None for f in spec.fields) else set()
        expected |= {"allowed"} if any(f.allowed for f in spec.fields) else set()
        expected |= {f"rule:{r.name}" for r in spec.rules}
        expected |= {"in_date"} if spec.event_time else set()
        expected |= {"reference"} if spec.references else set()
        assert expected <= {rule for f, rule in covered if f == feed}, feed


@pytest.mark.parametrize(("feed", "rule", "column", "changes"), CASES,
                         ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_a_row_breaking_a_rule_is_quarantined_and_the_good_row_lands(tmp_path, feed, rule, column, changes):
    bad = row(feed, **changes)
    drop = feed_drop(str(tmp_path), feed, [row(feed), bad])
    result = read(drop, KNOWN)
    got = result.feeds[feed]
    assert got.bronze.num_rows == 1 and got.bronze.column("_source_row").to_pylist() == [1]
    quarantined = got.quarantine.to_pylist()
    assert {q["_source_row"] for q in quarantined} == {2} and got.quarantined_rows == 1, quarantined
    q = next(q for q in quarantined if q["rule"] == rule)  # the row may break more rules: each is recorded
    assert q["reason"].startswith(f"{rule}: ")
    if column:
        assert column in q["reason"]
        if changes.get(column):
            assert changes[column] in q["reason"] or rule in ("in_date", "range")
    assert q["raw_line"] == csv_bytes([bad]).decode().splitlines()[1]
    assert q["feed"] == feed and q["drop_id"] == drop.drop_id and q["_source_file"] == f"{drop.drop_id}/{feed}.csv"
    assert got.quarantine.schema == QUARANTINE.schema
    assert result.reconciles and result.manifest_rows == result.bronze_rows + result.quarantined_rows


def test_rows_that_keep_their_contract_all_land(tmp_path):
    for feed in CONTRACTS:
        result = read(feed_drop(str(tmp_path / feed), feed, [row(feed)]), KNOWN)
        assert result.quarantined_rows == 0, result.feeds[feed].quarantine.to_pylist()
        assert result.feeds[feed].bronze.schema == CONTRACTS[feed].bronze.schema


def test_every_broken_rule_of_a_row_is_recorded_and_the_row_counted_once(tmp_path):
    rows = [
        row("production"),
        row("production", shift_start="abc", total_count="-1"),  # type and range (and no required: it was sent)
        row("production", total_count="-1", good_count="5"),  # range and rule:good_le_total
        row("production", shift_start="2026-01-07T05:00:00Z", good_count="900", line_id="UNKNOWN"),
        row("production", shift_start="2026-01-05T06:00:00Z", line_id="UNKNOWN"),  # in_date passes: reference
        row("production", planned_minutes="abc", run_minutes="xyz"),  # two columns, one rule: one row, both named
    ]
    result = read(feed_drop(str(tmp_path), "production", rows), KNOWN)
    got = result.feeds["production"]
    assert [(q["_source_row"], q["rule"]) for q in got.quarantine.to_pylist()] == [
        (2, "type"), (2, "range"), (2, "rule:good_le_total"), (3, "range"), (3, "rule:good_le_total"),
        (4, "rule:good_le_total"), (4, "rule:end_after_start"), (4, "in_date"), (4, "reference"),
        (5, "reference"), (6, "type")]
    both = got.quarantine.to_pylist()[-1]["reason"]
    assert "planned_minutes = 'abc'" in both and "run_minutes = 'xyz'" in both and "; " in both
    assert got.quarantined_rows == 5 and result.reconciles and got.rules()["reference"] == 2
