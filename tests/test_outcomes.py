"""gold.alert_outcomes on hand-built cases: one machine per kind of outcome, the horizon's edges, and the misses."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from lakehouse import catalog
from ml.tables import ALERT_OUTCOMES, OUTCOME_DAYS
from transforms.outcomes import COLUMNS, alert_outcomes

D0 = dt.date(2026, 1, 5)
H = 7


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def at(n: int, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day(n), dt.time(hour), tzinfo=dt.UTC)


def utc(n: int, hour: int = 10) -> dt.datetime:
    """As Spark collects a timestamp: naive, in the session's time zone (UTC)."""
    return at(n, hour).replace(tzinfo=None)


ALERTS = "date date, alert_id string, plant_id string, line_id string, machine_id string, component string, " \
    "failure_probability double, predicted_failure_cost_eur double, action_cost_eur double, " \
    "expected_saving_eur double, model_version string"
RISK = "date date, plant_id string, line_id string, machine_id string, horizon_days long, " \
    "failure_probability double, model_version string"
FAILURES = "date date, plant_id string, machine_id string, failed_at timestamp, component string, " \
    "downtime_minutes double, repair_cost_eur double"
MAINTENANCE = "date date, plant_id string, machine_id string, work_order_id string, component string, " \
    "maintenance_type string, performed_at timestamp, labour_hours double, parts_cost_eur double"


def alert(n: int, machine: str, component: str, plant: str = "P1", p: float = 0.5):
    return (day(n), f"a-{machine}-{n}", plant, f"{plant}-L1", machine, component, p, 4000.0, 250.0,
            p * 3750.0, "3")


def failure(n: int, machine: str, component: str, plant: str = "P1", hour: int = 10):
    return (day(n), plant, machine, at(n, hour), component, 120.0, 1000.0)


def order(n: int, machine: str, component: str, kind: str = "preventive", hour: int = 8):
    return (day(n), "P1", machine, f"WO-{machine}-{n}-{component}", component, kind, at(n, hour), 2.0, 180.0)


def cases():
    """The hand-built alerts, scores, failures, work orders and machines: (alerts, risk, failures, maintenance,
    machines), lists of tuples in the schemas above."""
    alerts = [
        alert(0, "M1", "bearing"),       # acted on 2 days later, no failure
        alert(0, "M2", "motor"),         # failed 3 days later, nothing done
        alert(0, "M3", "hydraulics"),    # acted on the next day, failed anyway 3 days after
        alert(0, "M4", "belt"),          # nothing on the belt (other work does not count): a false alarm
        alert(0, "M5", "bearing"),       # failed on day 2 at 10:00, maintained only on day 3: too late
        alert(0, "M6", "motor", "P2"),   # P2's nights reach only day 3: still open
        alert(-3, "M8", "gearbox"),      # its horizon ends on day 4, the failure comes on day 5
        alert(-2, "M9", "gearbox"),      # its horizon ends on day 5, the failure's day: covered
        alert(0, "M11", "spindle"),      # acted on day 7 (the horizon's last day), failed on day 7 after it
    ]
    risk = [(day(n), "P1", "P1-L1", m, H, 0.1, "3") for m in ("M1", "M2", "M3", "M4", "M5", "M8", "M9", "M11")
            for n in range(-10, 21)]
    risk += [(day(n), "P2", "P2-L1", "M6", H, 0.1, "3") for n in range(-10, 4)]
    risk += [(day(n), "P1", "P1-L1", "M7", H, {1: 0.6, 4: 0.3}.get(n, 0.05), "3") for n in range(-10, 21)]
    failures = [
        failure(3, "M2", "motor"), failure(4, "M3", "hydraulics"), failure(2, "M5", "bearing"),
        failure(5, "M7", "nozzle"), failure(5, "M8", "gearbox"), failure(5, "M9", "gearbox"),
        failure(7, "M11", "spindle", hour=12), failure(6, "M10", "belt"),  # M10 was never scored: no one's miss
    ]
    maintenance = [
        order(2, "M1", "bearing"), order(1, "M3", "hydraulics"), order(2, "M4", "motor"),
        order(3, "M4", "belt", kind="corrective"), order(3, "M5", "bearing"), order(7, "M11", "spindle"),
        order(9, "M1", "bearing"),  # after M1's horizon: the first order in it is the action
    ]
    machines = [(m, 500.0) for m in ("M1", "M2", "M3", "M4", "M5", "M6", "M7", "M8", "M9", "M10", "M11")]
    return alerts, risk, failures, maintenance, machines


def compute(spark, alerts, risk, failures, maintenance, machines):
    frame = alert_outcomes(
        spark.createDataFrame(alerts, ALERTS), spark.createDataFrame(risk, RISK),
        spark.createDataFrame(failures, FAILURES), spark.createDataFrame(maintenance, MAINTENANCE),
        spark.createDataFrame(machines, "machine_id string, downtime_cost_eur_h double"))
    return frame, [r.asDict() for r in frame.collect()]


@pytest.fixture(scope="module")
def outcomes(spark):
    frame, rows = compute(spark, *cases())
    return frame, {r["machine_id"]: r for r in rows}, rows


def test_the_columns_are_the_catalogs(outcomes):
    frame, _, rows = outcomes
    assert tuple(frame.columns) == COLUMNS == tuple(catalog.get("gold.alert_outcomes").column_names)
    assert len({(r["date"], r["outcome_id"]) for r in rows}) == len(rows)


def test_each_kind_of_alert_outcome(outcomes):
    _, by, _ = outcomes
    assert {m: by[m]["outcome"] for m in ("M1", "M2", "M3", "M4", "M5", "M6", "M9", "M11")} == {
        "M1": "acted_no_failure", "M2": "failed_despite_alert", "M3": "failed_after_action", "M4": "no_event",
        "M5": "failed_despite_alert", "M6": "open", "M9": "failed_despite_alert", "M11": "failed_after_action"}
    m1 = by["M1"]
    assert (m1["acted"], m1["failed"], m1["resolved"], m1["action_delay_days"]) == (True, False, True, 2)
    assert (m1["work_order_id"], m1["action_labour_hours"], m1["action_parts_cost_eur"]) == ("WO-M1-2-bearing", 2, 180)
    assert m1["horizon_end"] == day(7) and m1["known_until"] == day(20)
    m2 = by["M2"]
    assert (m2["acted"], m2["failed"], m2["failed_component"], m2["failed_at"]) == (False, True, "motor", utc(3))
    assert m2["failure_cost_eur"] == 120 / 60 * 500 + 1000  # 2 h x 500 EUR/h + the repair
    assert by["M3"]["action_delay_days"] == 1 and by["M3"]["failed_at"] == utc(4)
    assert by["M4"]["acted"] is False  # a motor order and a corrective belt repair are not acting on a belt alert
    m5 = by["M5"]
    assert m5["acted"] is False and m5["work_order_id"] is None and m5["action_delay_days"] is None
    m6 = by["M6"]
    assert (m6["resolved"], m6["known_until"], m6["failed"]) == (False, day(3), False)
    assert by["M11"]["action_delay_days"] == 7  # the horizon's last day is inside it


def test_failures_no_alert_covered_are_misses_with_the_risk_of_the_days_before(outcomes):
    _, by, rows = outcomes
    missed = {r["machine_id"]: r for r in rows if r["outcome"] == "missed_failure"}
    assert set(missed) == {"M7", "M8"}  # M9's alert covered its failure; M10 was never scored
    m7 = missed["M7"]
    assert m7["date"] == day(5) and m7["component"] == "nozzle" and m7["failed_at"] == utc(5)
    assert m7["failure_probability"] == 0.3 and m7["max_failure_probability"] == 0.6  # day 4, and the max of days -2..4
    assert (m7["resolved"], m7["failed"], m7["acted"], m7["horizon_days"], m7["model_version"]) == (
        True, True, False, H, "3")
    assert m7["failure_cost_eur"] == 2000.0
    assert sorted(r["outcome"] for r in rows if r["machine_id"] == "M8") == ["missed_failure", "no_event"]
    assert not any(r["machine_id"] == "M10" for r in rows)


def test_a_late_event_changes_an_earlier_alerts_outcome_on_a_later_night(spark, outcomes):
    """Day 0's night ran with the events above (M1 acted on, no failure; M4 a false alarm). Then a failure of M1
    on day 5 and a preventive belt order of M4 on day 4 are landed late: the night of day 20 redoes day 0's
    outcomes (it reaches back OUTCOME_DAYS), reads events far enough on to see both, and both rows change."""
    later = day(20)
    redone = ALERT_OUTCOMES.periods([later])
    assert redone[0] == later - dt.timedelta(days=OUTCOME_DAYS) < day(0) and day(0) in redone
    inputs = dict(ALERT_OUTCOMES.derived.inputs)
    for name, event in (("failures", day(5)), ("maintenance", day(4))):  # what a run over `redone` reads
        assert redone[0] - dt.timedelta(days=inputs[name].days_before) <= event <= redone[-1] + dt.timedelta(
            days=inputs[name].days_after)
    _, before, rows_before = outcomes
    assert (before["M1"]["outcome"], before["M4"]["outcome"]) == ("acted_no_failure", "no_event")
    alerts, risk, failures, maintenance, machines = cases()
    failures = [*failures, failure(5, "M1", "motor")]
    maintenance = [*maintenance, order(4, "M4", "belt")]
    _, rows = compute(spark, alerts, risk, failures, maintenance, machines)
    assert {r["outcome_id"] for r in rows if r["date"] in redone} == {r["outcome_id"] for r in rows}
    after = {r["outcome_id"]: r for r in rows}
    m1, m4 = after[before["M1"]["outcome_id"]], after[before["M4"]["outcome_id"]]
    assert (m1["outcome"], m1["failed_at"], m1["failed_component"], m1["work_order_id"]) == (
        "failed_after_action", utc(5), "motor", "WO-M1-2-bearing")  # acted on day 2, failed anyway
    assert (m4["outcome"], m4["acted"], m4["work_order_id"], m4["action_delay_days"]) == (
        "acted_no_failure", True, "WO-M4-4-belt", 4)
    # nothing else moved; M1's failure was covered by its alert, so it is no miss
    unchanged = {r["outcome_id"]: r for r in rows_before if r["machine_id"] not in ("M1", "M4")}
    assert {k: after[k] for k in unchanged} == unchanged
    assert {r["outcome_id"] for r in rows} == {r["outcome_id"] for r in rows_before}


# -- realized savings, by hand ----------------------------------------------------------------------------------
JAN, FEB = dt.date(2026, 1, 1), dt.date(2026, 2, 1)


def outcome(date, machine, kind, *, plant="P1", p=0.5, cost=5000.0, order=None, failed_at=None, failure_cost=None):
    """One gold.alert_outcomes row; ``order`` = (work order, when, labour hours, parts EUR)."""
    acted = order is not None
    wo, when, hours, parts = order or (None, None, None, None)
    return {"date": date, "plant_id": plant, "machine_id": machine, "component": "bearing", "outcome": kind,
            "resolved": kind != "open", "acted": acted, "failed": failed_at is not None or kind == "missed_failure",
            "work_order_id": wo, "action_at": when, "action_labour_hours": hours, "action_parts_cost_eur": parts,
            "action_cost_eur": None if kind == "missed_failure" else 250.0, "failure_probability": p,
            "predicted_failure_cost_eur": None if kind == "missed_failure" else cost,
            "expected_saving_eur": None if kind == "missed_failure" else 100.0, "failed_at": failed_at,
            "failure_cost_eur": failure_cost}


def hand_case():
    import pandas as pd

    jan = lambda d: dt.date(2026, 1, d)  # noqa: E731
    wo1, wo3, wo9 = ("WO-1", at(8), 2.0, 180.0), ("WO-3", at(9), None, None), ("WO-9", at(28), 1.0, 100.0)
    m2_failure, m3_failure = at(10), at(11)
    rows = [
        outcome(jan(1), "M1", "acted_no_failure", p=0.4, order=wo1),  # one action answering two alerts
        outcome(jan(2), "M1", "acted_no_failure", p=0.6, order=wo1),
        outcome(jan(3), "M3", "failed_after_action", cost=8000.0, order=wo3, failed_at=m3_failure,
                failure_cost=4000.0),  # its order has no hours: the playbook's 250 EUR
        outcome(jan(4), "M2", "failed_despite_alert", p=0.3, failed_at=m2_failure, failure_cost=3000.0),
        outcome(jan(5), "M2", "failed_despite_alert", p=0.3, failed_at=m2_failure, failure_cost=3000.0),  # same one
        outcome(jan(6), "M4", "no_event", p=0.2),
        outcome(jan(30), "M5", "open"),
        outcome(jan(31), "M9", "acted_no_failure", cost=4000.0, order=wo9),  # booked in January, its first alert's
        outcome(FEB, "M9", "acted_no_failure", p=0.4, cost=4000.0, order=wo9),
        outcome(jan(10), "M7", "missed_failure", failed_at=at(0), failure_cost=2500.0),
        outcome(jan(12), "M8", "missed_failure", failed_at=at(1)),  # its cost is unknown
        outcome(jan(7), "M6", "acted_no_failure", plant="P2", p=0.7, cost=1000.0, order=("WO-6", at(3), 1.0, 50.0)),
    ]
    return pd.DataFrame(rows)


def test_realized_savings_computed_by_hand():
    from ml.outcomes import realized_savings
    from ml.tables import REALIZED_SAVINGS

    out = realized_savings(hand_case(), [JAN, FEB], labour_rate_eur_h=75.0)
    assert list(out.columns) == REALIZED_SAVINGS.column_names
    got = {(r["month"], r["plant_id"]): r for r in out.to_dict("records")}
    p1 = got[(JAN, "P1")]
    assert {k: p1[k] for k in ("alerts", "alerts_resolved", "alerts_open", "actions", "actions_failed_after",
                               "actions_costed_from_work_orders", "alerts_no_event", "alerts_failed_despite",
                               "comparable_alerts", "failures_with_alert", "missed_failures",
                               "failures_cost_unknown")} == {
        "alerts": 8, "alerts_resolved": 7, "alerts_open": 1, "actions": 3, "actions_failed_after": 1,
        "actions_costed_from_work_orders": 2, "alerts_no_event": 1, "alerts_failed_despite": 2,
        "comparable_alerts": 3, "failures_with_alert": 2, "missed_failures": 2, "failures_cost_unknown": 1}
    assert p1 == pytest.approx(p1 | {
        "expected_saving_eur": 800.0, "expected_saving_resolved_eur": 700.0,
        "action_cost_eur": (180 + 2 * 75) + 250 + (100 + 75),       # 755
        "failures_avoided_probability": 0.6 + 0.5,                   # M1's best alert, M9's
        "avoided_cost_probability_eur": 0.6 * 5000 + 0.5 * 4000,     # 5000
        "comparable_failure_rate": 2 / 3,                            # M2 twice failed, M4 did not
        "failures_avoided_comparable": 2 / 3 * 2,
        "avoided_cost_comparable_eur": 2 / 3 * (5000 + 4000),        # 6000
        "realized_saving_probability_eur": 5000 - 755, "realized_saving_comparable_eur": 6000 - 755,
        "realized_saving_eur": 5000 - 755, "method": "probability", "labour_rate_eur_h": 75.0,
        "failures_with_alert_cost_eur": 4000 + 3000, "missed_failure_cost_eur": 2500.0,
        "with_model_cost_eur": 7000 + 2500 + 755, "no_model_cost_eur": 7000 + 2500 + 5000,
    })
    assert p1["no_model_cost_eur"] - p1["with_model_cost_eur"] == pytest.approx(p1["realized_saving_eur"])
    # a miss costs the same with and without the model: it is in both costs, so it cancels from the saving
    for row in out.to_dict("records"):
        assert row["with_model_cost_eur"] == pytest.approx(
            row["failures_with_alert_cost_eur"] + row["missed_failure_cost_eur"] + row["action_cost_eur"])
        assert row["no_model_cost_eur"] - row["with_model_cost_eur"] == pytest.approx(row["realized_saving_eur"])
    assert p1["missed_failure_cost_eur"] > 0 and p1["realized_saving_eur"] == pytest.approx(
        p1["avoided_cost_probability_eur"] - p1["action_cost_eur"])  # not reduced by the misses
    feb = got[(FEB, "P1")]
    assert (feb["alerts"], feb["actions"], feb["realized_saving_eur"]) == (1, 0, 0)
    assert math.isnan(feb["comparable_failure_rate"])  # nobody left an alert alone in February
    by_rate = realized_savings(hand_case(), [JAN], labour_rate_eur_h=75.0, method="comparable")
    rows = {r["plant_id"]: r for r in by_rate.to_dict("records")}
    assert rows["P1"]["realized_saving_eur"] == pytest.approx(6000 - 755) and rows["P1"]["method"] == "comparable"
    assert math.isnan(rows["P2"]["realized_saving_eur"])  # P2 acted on every alert: nothing to compare with
    assert rows["P2"]["realized_saving_probability_eur"] == pytest.approx(0.7 * 1000 - 125)


def test_the_training_labels_leave_out_machine_days_an_alert_triggered_action_censors():
    import pandas as pd

    from ml.labels import label_frame

    keys = pd.DataFrame({"date": [day(n) for n in range(10)] * 2, "machine_id": ["M1"] * 10 + ["M2"] * 10})
    actions = pd.DataFrame({"machine_id": ["M1"], "action_date": [day(5)]})
    out = label_frame(keys, pd.DataFrame(columns=["date", "machine_id", "failed_at", "component"]), 3, day(30),
                      actions=actions)
    censored = out[out["alert_action_in_horizon"]]
    assert set(censored["machine_id"]) == {"M1"} and list(censored["date"]) == [day(2), day(3), day(4)]
    assert not out.loc[out["alert_action_in_horizon"], "label_complete"].any()
    assert out.loc[~out["alert_action_in_horizon"], "label_complete"].all()
