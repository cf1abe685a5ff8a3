"""Closing the loop end to end, in Dagster: outcomes, realized savings, the production monitor, feedback.

The lake holds the small synthetic history of ``tests.mldata``, whose ground truth is known (which
machine fails when). A champion is trained on the first 65 days (real MLflow) and scores the last
35 nights in one run with the outcome, savings and monitor assets (gold.alert_outcomes is Spark).
Alerts are then "acted on" by appending preventive work orders after them. Then the champion
is degraded (it scores with its rows' features shuffled) and the temperatures drift: the monitor's check must warn.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from rich.console import Console

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.gold_tables import MACHINE_SENSOR_DAILY
from lakehouse.settings import get_settings, plantlake_home
from ml import registry, scoring
from ml.playbook import Playbook
from ml.tables import (
    ALERT_OUTCOMES,
    FAILURE_RISK,
    FEATURE_DRIFT,
    MAINTENANCE_ALERTS,
    MODEL_MONITOR,
    OUTCOME_DAYS,
    REALIZED_SAVINGS,
    SAVINGS_FORECAST,
)
from ml.train import build_training_set, train_all
from orchestration.assets.monitor import CHECK
from orchestration.demo import summary
from orchestration.metadata import key
from orchestration.runs import run_nights
from tests import mldata

pytestmark = pytest.mark.slow  # a champion trained, 35 nights scored, Spark: a minute or more

TRAIN_END = mldata.START + dt.timedelta(days=64)
FIRST = TRAIN_END + dt.timedelta(days=1)
LAST = mldata.END
H = 7
SCORING = [key(s) for s in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)]
LOOP = [key(s) for s in (ALERT_OUTCOMES, REALIZED_SAVINGS, MODEL_MONITOR, FEATURE_DRIFT)]


def _day(value) -> dt.date:
    return pd.Timestamp(value).date()


def truth(frames, machine: str, after: dt.date, until: dt.date) -> list[dt.date]:
    """The synthetic history's failure dates of a machine in (after, until]."""
    failures = frames["silver.failures"]
    days = [_day(d) for d in failures.loc[failures["machine_id"] == machine, "date"]]
    return sorted(d for d in days if after < d <= until)


def act_on(lake: Lake, frames, alerts: pd.DataFrame) -> list[dict]:
    """Preventive work orders the day after three alerts of three machines: two without a failure to come, one
    with a failure two or more days later. Returns the work orders appended to silver.maintenance."""
    rows: list[dict] = []
    wanted = {"no failure": 2, "failure later": 1}
    for alert in alerts.sort_values(["date", "alert_id"]).itertuples():
        day = _day(alert.date)
        if day + dt.timedelta(days=H) > LAST or alert.machine_id in {r["machine_id"] for r in rows}:
            continue
        coming = truth(frames, alert.machine_id, day, day + dt.timedelta(days=H))
        kind = "no failure" if not coming else "failure later" if coming[0] >= day + dt.timedelta(days=2) else None
        if not wanted.get(kind):
            continue
        wanted[kind] -= 1
        when = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6, 0), tzinfo=dt.UTC)
        rows.append({"date": day + dt.timedelta(days=1), "plant_id": alert.plant_id,
                     "work_order_id": f"PM-{alert.alert_id}", "machine_id": alert.machine_id,
                     "component": alert.component, "maintenance_type": "preventive", "performed_at": when,
                     "labour_hours": 1.0, "parts_cost_eur": 180.0, "_source_file": "test", "_ingested_at": when})
    assert not any(wanted.values()), "the synthetic history has no alert to act on of some kind"
    spec = catalog.get("silver.maintenance")
    lake.append(spec, pa.Table.from_pylist(rows, schema=spec.schema))
    return rows


def expected_outcome(alert, frames, orders: list[dict]) -> tuple[str, str | None]:
    """The outcome an alert must get, from the ground truth (failures at 10:00) and the orders appended; and the
    work order that acted on it."""
    day = _day(alert.date)
    end = day + dt.timedelta(days=H)
    coming = truth(frames, alert.machine_id, day, min(end, LAST))
    failed_at = dt.datetime.combine(coming[0], dt.time(10), tzinfo=dt.UTC) if coming else None
    acted = [o for o in orders if o["machine_id"] == alert.machine_id and o["component"] == alert.component
             and day < o["date"] <= end and (failed_at is None or o["performed_at"] < failed_at)]
    order = acted[0]["work_order_id"] if acted else None
    if coming:
        return ("failed_after_action" if acted else "failed_despite_alert"), order
    if end > LAST:
        return "open", order
    return ("acted_no_failure" if acted else "no_event"), order


class Shuffled:
    """A degraded champion: it scores each row with another row's features."""

    def __init__(self, model):
        self.model = model

    def predict_proba(self, frame):
        order = np.random.default_rng(7).permutation(len(frame))
        return self.model.predict_proba(frame.iloc[order].reset_index(drop=True))

    def __getattr__(self, name):  # the features it takes, its component model: the champion's
        return getattr(self.model, name)


def checks(result) -> list:
    return [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
            and e.event_specific_data.check_name == CHECK]


def production_counts(risk: pd.DataFrame, failures: pd.DataFrame, orders: list[dict], budget: int,
                      known_until: dt.date) -> dict[str, float]:
    """The monitor's figures counted by hand on the window's scored machine-days: each labelled with the first
    failure of its machine in (day, day + H]; days with an alert-triggered order in that span left out; the top
    ``budget`` per plant and day by probability (ties: machine_id) alerted. Per machine-day: the alerted share
    followed by a failure. Per failure: the share whose machine was alerted on one of the H days before it, and
    the share of alert episodes (a machine's alerts at most H days apart) followed by a failure."""
    fails: dict[str, list[dt.date]] = {}
    for f in failures.itertuples():
        if _day(f.date) <= known_until:
            fails.setdefault(f.machine_id, []).append(_day(f.date))
    acted: dict[str, list[dt.date]] = {}
    for o in orders:
        acted.setdefault(o["machine_id"], []).append(o["date"])
    kept = []
    for r in risk.itertuples():
        d = _day(r.date)
        if any(d < a <= d + dt.timedelta(days=H) for a in acted.get(r.machine_id, [])):
            continue
        coming = sorted(f for f in fails.get(r.machine_id, []) if d < f <= d + dt.timedelta(days=H))
        kept.append({"plant_id": r.plant_id, "date": d, "machine_id": r.machine_id, "p": r.failure_probability,
                     "failure": coming[0] if coming else None})
    rows = sorted(kept, key=lambda r: (r["plant_id"], r["date"], -r["p"], r["machine_id"]))
    alerted, seen = [], {}
    for r in rows:
        slot = (r["plant_id"], r["date"])
        seen[slot] = seen.get(slot, 0) + 1
        if seen[slot] <= budget:
            alerted.append(r)
    events = {(r["machine_id"], r["failure"]) for r in kept if r["failure"]}
    caught = {(m, f) for m, f in events if any(
        a["machine_id"] == m and f - dt.timedelta(days=H) <= a["date"] < f for a in alerted)}
    episodes = []  # [machine, its last alert's day, followed by a failure]
    for a in sorted(alerted, key=lambda r: (r["machine_id"], r["date"])):
        if episodes and episodes[-1][0] == a["machine_id"] and (a["date"] - episodes[-1][1]).days <= H:
            episodes[-1][1], episodes[-1][2] = a["date"], episodes[-1][2] or a["failure"] is not None
        else:
            episodes.append([a["machine_id"], a["date"], a["failure"] is not None])
    return {"machine_days": len(kept), "censored": len(risk) - len(kept), "alerted": len(alerted),
            "precision_at_budget": sum(a["failure"] is not None for a in alerted) / len(alerted),
            "failures": len(events), "catch_rate": len(caught) / len(events),
            "precision_per_failure": sum(e[2] for e in episodes) / len(episodes)}


def table_rows(text: str, column: str) -> list[dict[str, str]]:
    """The body rows of the rich table (rendered as text) whose header holds ``column``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "┃" in line and f" {column} " in line)
    names = [c.strip() for c in lines[start].strip().strip("┃").split("┃")]
    rows = []
    for line in lines[start + 1:]:
        if line.lstrip().startswith("└"):
            break
        if line.lstrip().startswith("│"):
            rows.append(dict(zip(names, [c.strip() for c in line.strip().strip("│").split("│")], strict=True)))
    return rows


@pytest.fixture(scope="module")
def loop(tmp_path_factory, spark):
    home = tmp_path_factory.mktemp("feedback")
    with plantlake_home(home), pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTLAKE_FIRST_DATE", str(mldata.START))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.setenv("PLANTLAKE_ALERT_BUDGET", "2")
        mp.setenv("PLANTLAKE_BACKTEST_FOLDS", "1")  # the holdout's figures are what the monitor needs
        # 20 machines: a PSI over their days moves with where each machine is in its failure and maintenance
        # cycle, and the synthetic lake starts on day 0, so recency features still fill up (days since the
        # hydraulics last failed: PSI about 1 between its holdout and the last month). A threshold for a
        # network this small; the default (0.25) is for hundreds of machines (tests/test_monitor.py)
        mp.setenv("PLANTLAKE_DRIFT_DAYS", "28")
        mp.setenv("PLANTLAKE_DRIFT_PSI_THRESHOLD", "2")
        lake = Lake()
        frames = mldata.write(lake)
        trained = train_all(lake, end_date=TRAIN_END, horizon_days=H)
        instance = dg.DagsterInstance.ephemeral()
        scored = run_nights(FIRST, LAST, assets=SCORING, dagster_instance=instance, log_level="WARNING")
        alerts = lake.read(MAINTENANCE_ALERTS).to_pandas()
        orders = act_on(lake, frames, alerts)
        closed = run_nights(FIRST, LAST, assets=LOOP, dagster_instance=instance, log_level="WARNING")
        outcomes = lake.read(ALERT_OUTCOMES).to_pandas()
        again = run_nights(LAST - dt.timedelta(days=20), assets=[key(ALERT_OUTCOMES)], dagster_instance=instance,
                           log_level="WARNING")  # an old night re-run: it redoes the 30 days before it
        yield {"lake": lake, "frames": frames, "trained": trained, "scored": scored, "closed": closed,
               "again": again, "alerts": alerts, "orders": orders, "outcomes": outcomes, "instance": instance,
               "settings": get_settings()}


def test_every_alert_gets_the_outcome_the_ground_truth_says(loop):
    assert loop["scored"].success and loop["closed"].success
    alerts, outcomes, frames = loop["alerts"], loop["outcomes"], loop["frames"]
    rows = outcomes[outcomes["outcome"] != "missed_failure"].set_index("outcome_id")
    assert sorted(rows.index) == sorted(alerts["alert_id"])
    for alert in alerts.itertuples():
        row = rows.loc[alert.alert_id]
        outcome, order = expected_outcome(alert, frames, loop["orders"])
        assert (row["outcome"], row["work_order_id"]) == (outcome, order), (alert.alert_id, alert.machine_id)
        assert row["resolved"] == (outcome != "open")
    kinds = set(rows["outcome"])
    assert {"acted_no_failure", "failed_after_action", "failed_despite_alert", "no_event", "open"} <= kinds


def test_every_failure_no_alert_covered_is_a_miss_with_the_risk_before_it(loop):
    outcomes, alerts, frames = loop["outcomes"], loop["alerts"], loop["frames"]
    missed = outcomes[outcomes["outcome"] == "missed_failure"]
    failures = frames["silver.failures"]
    expected = set()
    for failure in failures.itertuples():
        day = _day(failure.date)
        if not FIRST < day <= LAST:  # the first scored day's horizon starts after it
            continue
        mine = alerts[(alerts["machine_id"] == failure.machine_id)]
        covered = [a for a in mine["date"] if _day(a) < day <= _day(a) + dt.timedelta(days=H)]
        if not covered:
            expected.add((failure.machine_id, day))
    assert {(m, _day(d)) for m, d in zip(missed["machine_id"], missed["date"], strict=True)} == expected
    assert len(expected) > 0
    assert missed["max_failure_probability"].notna().all()
    assert (missed["max_failure_probability"] >= missed["failure_probability"]).all()


def test_re_running_an_old_night_gives_the_same_outcomes(loop):
    assert loop["again"].success
    after = loop["lake"].read(ALERT_OUTCOMES).to_pandas()
    order = ["date", "outcome_id"]
    pd.testing.assert_frame_equal(after.sort_values(order).reset_index(drop=True),
                                  loop["outcomes"].sort_values(order).reset_index(drop=True))


def test_realized_savings_sit_beside_the_expected_ones_per_plant_and_month(loop):
    savings = loop["lake"].read(REALIZED_SAVINGS).to_pandas()
    forecast = loop["lake"].read(SAVINGS_FORECAST).to_pandas()
    assert set(savings["method"]) == {"probability"} and (savings["labour_rate_eur_h"] == 75).all()
    merged = savings.merge(forecast, on=["month", "plant_id"], suffixes=("", "_forecast"))
    assert len(merged) == len(forecast)
    assert (merged["alerts"] == merged["alerts_forecast"]).all()
    assert np.allclose(merged["expected_saving_eur"], merged["expected_saving_eur_forecast"])
    assert savings["actions"].sum() == len(loop["orders"]) == 3
    assert savings["actions_failed_after"].sum() == 1
    assert savings["action_cost_eur"].sum() == pytest.approx(3 * (180 + 75))  # the orders' parts + 1 h at 75 EUR/h
    assert np.allclose(savings["no_model_cost_eur"] - savings["with_model_cost_eur"], savings["realized_saving_eur"])
    # the misses are in the with-model cost (and, the same, in the no-model one): they cancel from the saving
    assert np.allclose(savings["with_model_cost_eur"], savings["failures_with_alert_cost_eur"]
                       + savings["missed_failure_cost_eur"] + savings["action_cost_eur"])
    assert savings["missed_failure_cost_eur"].sum() > 0
    assert savings["missed_failures"].sum() == (loop["outcomes"]["outcome"] == "missed_failure").sum()


def test_the_training_set_leaves_out_machine_days_an_alert_triggered_action_censors(loop):
    training = build_training_set(loop["lake"], LAST, horizon_days=H).frame
    marked = training[training["alert_action_in_horizon"]]
    expected = {(o["machine_id"], o["date"] - dt.timedelta(days=k)) for o in loop["orders"] for k in range(1, H + 1)}
    assert {(m, _day(d)) for m, d in zip(marked["machine_id"], marked["date"], strict=True)} == expected
    assert not marked["label_complete"].any()


def test_the_monitor_compares_production_with_the_holdout_and_stays_quiet(loop):
    lake, closed = loop["lake"], loop["closed"]
    monitor = lake.read(MODEL_MONITOR).to_pandas()
    assert sorted(_day(d) for d in monitor["date"]) == [FIRST + dt.timedelta(days=i)
                                                       for i in range((LAST - FIRST).days + 1)]
    last = monitor[monitor["date"] == LAST].iloc[0]
    version = loop["trained"].failure.version
    assert (last["model_version"], last["is_champion"], last["horizon_days"]) == (version, True, H)
    assert _day(last["window_end"]) == LAST - dt.timedelta(days=H)
    assert last["holdout_intervals"] == "bootstrap"
    assert last["holdout_precision_at_budget_low"] <= last["holdout_precision_at_budget"] <= \
        last["holdout_precision_at_budget_high"]
    assert last["alerted_machine_days"] >= 30 and last["machine_days"] > 0 and last["failures"] > 0
    assert last["features_compared"] > 50 and last["reference_rows"] > 0
    assert not last["precision_alarm"] and not last["drift_alarm"], last["verdict"]
    # the production figures, counted by hand from the scored rows, the failures and the orders acted on alerts
    risk = lake.read(FAILURE_RISK).to_pandas()
    window = risk[(risk["model_version"] == version) & risk["date"].map(_day).between(
        _day(last["window_start"]), _day(last["window_end"]))]
    assert last["alert_budget"] == 2
    counts = production_counts(window, loop["frames"]["silver.failures"], loop["orders"], 2, LAST)
    assert (last["machine_days"], last["censored_machine_days"], last["alerted_machine_days"], last["failures"]) == (
        counts["machine_days"], counts["censored"], counts["alerted"], counts["failures"])
    assert last["censored_machine_days"] > 0 and 0 < counts["catch_rate"] < 1
    for name in ("precision_at_budget", "catch_rate", "precision_per_failure"):
        assert last[name] == pytest.approx(counts[name]), name
    # the raised alerts' own figures, from their outcomes over the window's days
    outcomes = loop["outcomes"][loop["outcomes"]["date"].map(_day).between(
        _day(last["window_start"]), _day(last["window_end"])) & (loop["outcomes"]["model_version"] == version)]
    alerts = outcomes[(outcomes["outcome"] != "missed_failure") & outcomes["resolved"]]
    judged = alerts[alerts["outcome"] != "acted_no_failure"]
    covered = len(alerts[alerts["failed"]].drop_duplicates(["machine_id", "failed_at"]))
    missed = int((outcomes["outcome"] == "missed_failure").sum())
    assert last["alerts_resolved"] == len(alerts) and last["alert_precision"] == pytest.approx(judged["failed"].mean())
    assert last["alert_catch_rate"] == pytest.approx(covered / (covered + missed))
    evaluations = checks(closed)
    assert evaluations and all(e.passed for e in evaluations)
    drift = lake.read(FEATURE_DRIFT, filters=[("date", "=", LAST)]).to_pandas()
    assert len(drift) == last["features_compared"] and not drift["drifted"].any()


def test_the_month_is_recorded_in_mlflow_next_to_the_champion(loop):
    client = registry.client(loop["settings"])
    version = loop["trained"].failure.version
    experiment = client.get_experiment_by_name("plantlake-monitoring")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.`plantlake.model_version` = '{version}'")
    months = {r.data.tags["plantlake.month"] for r in runs}
    assert f"{LAST:%Y-%m}" in months and all(r.data.tags["plantlake.model"] == registry.FAILURE_MODEL for r in runs)
    assert all("precision_at_budget" in r.data.metrics for r in runs)
    tags = client.get_model_version(registry.FAILURE_MODEL, version).tags
    assert f"production.{LAST:%Y-%m}.precision_at_budget" in tags and "precision_at_budget" in tags  # and holdout


def test_the_demo_summary_shows_expected_and_realized_savings_side_by_side_with_honest_labels(loop):
    """The demo's summary on this lake: the month's expected saving labelled as not money saved, beside the
    realized one, each equal to its table's sum; the outcomes' counts; the production monitor's last night."""
    lake = loop["lake"]
    console = Console(record=True, width=400)
    summary(lake, console)  # tables this lake lacks (OEE, supply) are said and skipped, not raised
    text = console.export_text()
    flat = " ".join(text.split())  # a title wraps to its table's width
    assert "savings this month: expected = the alerts' own estimates (not money saved); realized = estimated " \
        "from what followed the alerts whose horizon has passed" in flat
    assert "a holdout with few failures gives wide intervals: then the score alone is noise" in flat
    assert "OEE per plant (whole period, from sums): not built yet" in flat
    assert "saved_so_far" not in text
    forecast, savings = lake.read(SAVINGS_FORECAST).to_pandas(), lake.read(REALIZED_SAVINGS).to_pandas()
    month = max(_day(m) for m in forecast["month"])
    alerts = lake.read(MAINTENANCE_ALERTS).to_pandas()
    alerts = alerts[[_day(d).replace(day=1) == month for d in alerts["date"]]]
    shown = table_rows(text, "expected_so_far_eur")
    assert shown and sorted(r["plant_id"] for r in shown) == sorted(set(alerts["plant_id"]))
    for row in shown:
        mine = alerts[alerts["plant_id"] == row["plant_id"]]
        realized = savings[(savings["plant_id"] == row["plant_id"]) & (savings["month"].map(_day) == month)].iloc[0]
        assert int(row["alerts"]) == len(mine)
        assert abs(float(row["expected_so_far_eur"]) - mine["expected_saving_eur"].sum()) <= 0.5
        assert abs(float(row["realized_eur"]) - realized["realized_saving_eur"]) <= 0.5
        assert (int(row["resolved"]), int(row["acted_on"]), int(row["missed"]), row["method"]) == (
            realized["alerts_resolved"], realized["actions"], realized["missed_failures"], "probability")
    outcomes = lake.read(ALERT_OUTCOMES).to_pandas()
    by_outcome = {r["outcome"]: int(r["rows"]) for r in table_rows(text, "mean_p")}
    assert by_outcome == outcomes["outcome"].value_counts().to_dict()
    [production] = table_rows(text, "holdout_interval")
    last = lake.read(MODEL_MONITOR, filters=[("date", "=", LAST)]).to_pandas().iloc[0]
    assert production["version"] == last["model_version"]
    assert float(production["catch_rate"]) == pytest.approx(last["catch_rate"], abs=5e-4)
    assert float(production["precision"]) == pytest.approx(last["precision_at_budget"], abs=5e-4)


def test_the_check_warns_when_the_champion_degrades_and_the_features_drift(loop):
    """The champion scores every row with another row's features, and the last month's temperatures run 40 %
    hotter than the holdout's: production precision falls below the holdout interval, temperature drifts."""
    lake = loop["lake"]
    hot = [LAST - dt.timedelta(days=i) for i in range(28)]
    sensors = lake.read(MACHINE_SENSOR_DAILY, filters=[("date", "in", hot)])
    warmer = pc.equal(sensors["sensor"], "temperature_c")
    for name in ("mean", "max"):
        hotter = pc.if_else(warmer, pc.multiply(sensors[name], 1.4), sensors[name])
        sensors = sensors.set_column(sensors.schema.get_field_index(name), name, hotter)
    lake.replace_slices(MACHINE_SENSOR_DAILY, sensors, {d: None for d in hot})
    champions = registry.load_champions(loop["settings"])
    degraded = scoring.Champions(Shuffled(champions.failure), champions.failure_version, champions.cost,
                                 champions.cost_version)
    nights = [FIRST + dt.timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
    rows = scoring.score_night(lake, nights, champions=degraded, playbook=Playbook.load())
    scoring.write_risk(lake, rows, nights)
    result = run_nights(LAST, assets=[key(MODEL_MONITOR), key(FEATURE_DRIFT)], dagster_instance=loop["instance"],
                        log_level="WARNING")
    assert result.success  # a warning, not a failed night
    [evaluation] = checks(result)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    row = lake.read(MODEL_MONITOR, filters=[("date", "=", LAST)]).to_pandas().iloc[0]
    assert row["precision_alarm"] and row["precision_at_budget"] < row["holdout_precision_at_budget_low"]
    assert row["drift_alarm"] and row["max_psi_feature"].startswith("temperature_c")
    assert "outside the holdout" in evaluation.description and "drifted" in evaluation.description
    drift = lake.read(FEATURE_DRIFT, filters=[("date", "=", LAST)]).to_pandas()
    assert set(drift.loc[drift["drifted"], "feature"]) >= {"temperature_c_mean", "temperature_c_max"}


def test_a_late_event_rewrites_an_earlier_alerts_outcome_on_a_later_night(loop):
    """A work order and a failure landed after their nights ran, each in the horizon of an earlier false alarm:
    the next night (which redoes the last OUTCOME_DAYS) turns one alert into acted_no_failure and the other into
    failed_despite_alert, and leaves the other machines' rows as they were. Last in the module: it changes the
    lake."""
    lake = loop["lake"]
    before = lake.read(ALERT_OUTCOMES).to_pandas()
    quiet = before[(before["outcome"] == "no_event") & before["component"].notna()
                   & (before["date"].map(_day) >= LAST - dt.timedelta(days=OUTCOME_DAYS))].sort_values(["date",
                                                                                                          "outcome_id"])
    quiet = quiet.drop_duplicates("machine_id")
    assert len(quiet) >= 2, "no two earlier false alarms within the nights a later night redoes"
    acted, failed = quiet.iloc[0], quiet.iloc[1]
    landed = dt.datetime.combine(LAST, dt.time(23), tzinfo=dt.UTC)
    when = dt.datetime.combine(_day(acted["date"]) + dt.timedelta(days=1), dt.time(6), tzinfo=dt.UTC)
    order = {"date": when.date(), "plant_id": acted["plant_id"], "work_order_id": "PM-late",
             "machine_id": acted["machine_id"], "component": acted["component"], "maintenance_type": "preventive",
             "performed_at": when, "labour_hours": 1.0, "parts_cost_eur": 180.0, "_source_file": "late",
             "_ingested_at": landed}
    broke = dt.datetime.combine(_day(failed["date"]) + dt.timedelta(days=2), dt.time(10), tzinfo=dt.UTC)
    failure = {"date": broke.date(), "plant_id": failed["plant_id"], "machine_id": failed["machine_id"],
               "failed_at": broke, "component": failed["component"], "failure_mode": "wear",
               "downtime_minutes": 90.0, "repair_cost_eur": 1200.0, "_source_file": "late", "_ingested_at": landed}
    for name, row in (("silver.maintenance", order), ("silver.failures", failure)):
        spec = catalog.get(name)
        lake.append(spec, pa.Table.from_pylist([row], schema=spec.schema))
    result = run_nights(LAST, assets=[key(ALERT_OUTCOMES)], dagster_instance=loop["instance"], log_level="WARNING")
    assert result.success
    after = lake.read(ALERT_OUTCOMES).to_pandas().set_index("outcome_id")
    now = after.loc[acted["outcome_id"]]
    assert (now["outcome"], now["acted"], now["work_order_id"], now["action_delay_days"]) == (
        "acted_no_failure", True, "PM-late", 1)
    now = after.loc[failed["outcome_id"]]
    assert (now["outcome"], now["failed"], pd.Timestamp(now["failed_at"])) == (
        "failed_despite_alert", True, pd.Timestamp(broke))
    others = ~before["machine_id"].isin([acted["machine_id"], failed["machine_id"]])
    mine = ~after["machine_id"].isin([acted["machine_id"], failed["machine_id"]])
    # a miss's probabilities are read from gold.failure_risk, which the degraded champion above scored again
    same = [c for c in before.columns if c not in ("failure_probability", "max_failure_probability")]
    order_by = ["date", "outcome_id"]
    pd.testing.assert_frame_equal(
        after[mine].reset_index().sort_values(order_by).reset_index(drop=True)[same],
        before[others].sort_values(order_by).reset_index(drop=True)[same])
