"""The evaluation's arithmetic on hand-made cases whose answers are worked out here: average precision with
weights and ties, the bootstrap over machines, paired differences, the budget's ceilings, failures and
alert episodes, the time folds (backtest origins, calibration blocks) and the promotion gate's rule.

Pure functions, no MLflow; one test writes a local Delta table (the gate's record, on a table written before
the intervals existed). The whole module runs in a few seconds."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from sklearn.metrics import average_precision_score

from lakehouse.delta import Lake
from ml import evaluation as E
from ml import registry
from ml.estimators import DAY, BaselineModel, DayBlocks, TooFewDaysError
from ml.gate import Evidence, Interval, judge
from ml.labels import LABEL
from ml.tables import MODEL_PROMOTIONS
from ml.training import rolling_splits

DAY0 = dt.date(2025, 3, 3)


def rows(spec: dict[str, list[int]], failures: dict[str, list[int]] | None = None, plant: str = "P1",
         horizon: int = 3) -> pd.DataFrame:
    """Machine-days ``spec`` (machine -> its day numbers) labelled from ``failures`` (machine -> failure days)."""
    out = []
    for machine, days in spec.items():
        for d in days:
            ahead = [f - d for f in (failures or {}).get(machine, []) if 0 < f - d <= horizon]
            out.append({"plant_id": plant, "machine_id": machine, "date": DAY0 + dt.timedelta(days=d),
                        LABEL: int(bool(ahead)), "days_to_failure": float(ahead[0]) if ahead else np.nan})
    return pd.DataFrame(out)


# -- average precision ----------------------------------------------------------------------------------------
def test_average_precision_is_sklearns_with_ties_and_weights():
    y, score = [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]
    assert E.average_precision(y, score) == pytest.approx(1 / 2 * 1 + 1 / 2 * 2 / 3)  # hits at ranks 1 and 3
    assert E.average_precision(y, [0.5] * 4) == pytest.approx(0.5)  # one threshold: the base rate
    # weight 2 on the 0.8 row = that row twice: precision 1/3 at 0.8, 2/4 at 0.7 -> 1/2 * 1 + 1/2 * 1/2
    assert E.average_precision(y, score, [1, 2, 1, 1]) == pytest.approx(0.75)
    assert np.isnan(E.average_precision([0, 0], [0.3, 0.2]))  # no failure: undefined, not 0
    rng = np.random.default_rng(7)
    for n in (5, 40, 300):
        y, score, w = rng.integers(0, 2, n), np.round(rng.random(n), 1), rng.integers(0, 3, n).astype(float)
        if 0 < (y * w).sum():
            assert E.average_precision(y, score, w) == pytest.approx(average_precision_score(y, score,
                                                                                             sample_weight=w))


# -- the bootstrap over machines -------------------------------------------------------------------------------
def test_the_bootstrap_draws_machines_with_all_their_rows():
    # machine A: two failing days, B: two healthy ones. A replicate draws AA, AB (or BA) or BB:
    # base rate 1, 1/2 or 0 with chances 1/4, 1/2, 1/4; the 95 % interval spans [0, 1].
    codes = np.array([0, 0, 1, 1])
    boot = E.MachineBootstrap(["A", "A", "B", "B"], replicates=2000, seed=1)
    statistic = E.mean_statistic([1, 1, 0, 0], codes)
    draws = boot.draws({"base_rate": statistic})["base_rate"]
    assert set(np.round(draws, 6)) == {0.0, 0.5, 1.0}
    assert np.mean(draws == 0.5) == pytest.approx(0.5, abs=0.04)
    interval = E.percentile_interval(boot.point(statistic), draws)
    assert (interval.value, interval.low, interval.high) == (0.5, 0.0, 1.0)
    again = E.MachineBootstrap(["A", "A", "B", "B"], replicates=2000, seed=1).draws({"base_rate": statistic})
    assert np.array_equal(again["base_rate"], draws)  # the same holdout gives the same interval


def test_differences_are_paired_on_the_same_replicates():
    frame = rows({f"M{i}": list(range(12)) for i in range(8)}, {f"M{i}": [6 + i % 4] for i in range(8)})
    y = frame[LABEL].to_numpy()
    rng = np.random.default_rng(3)
    noise = rng.random(len(frame))
    good, weak = y * 0.5 + noise * 0.5, y * 0.1 + noise * 0.9  # probabilities: the Brier score needs them
    same = E.assess_failures(frame, {"model": good, "champion": good.copy(), "baseline": weak}, budget=1,
                             horizon_days=3, replicates=400)
    assert (same.versus["champion"].low, same.versus["champion"].high) == (0.0, 0.0)  # identical: exactly none
    assert same.versus["baseline"].above(0)  # better on every machine's rows: the whole interval above 0
    assert same.metrics["model"]["pr_auc"].value == pytest.approx(average_precision_score(y, good))
    flat = same.flat("model")
    assert flat["gain_vs_baseline"] == pytest.approx(same.metrics["model"]["pr_auc"].value
                                                     - same.metrics["baseline"]["pr_auc"].value)
    assert flat["pr_auc_low"] <= flat["pr_auc"] <= flat["pr_auc_high"] and "gain_vs_baseline_low" in flat
    evidence = same.evidence()
    assert evidence.champion == same.metrics["champion"]["pr_auc"] and evidence.failures == 8


def test_cost_differences_count_a_lower_error_as_better():
    actual = np.array([1000.0, 2000.0, 3000.0, 4000.0])
    machines = ["A", "B", "C", "D"]
    a = E.assess_costs(actual, {"model": actual + 100, "baseline": actual + 500}, machines, replicates=200)
    assert a.metrics["model"]["mae_eur"].value == 100 and a.metrics["baseline"]["mae_eur"].value == 500
    assert (a.versus["baseline"].value, a.versus["baseline"].low) == (400, 400)  # 400 EUR better, every replicate
    assert a.metrics["model"]["relative_mae"].value == pytest.approx(100 / 2500)


# -- failures, episodes, ceilings ------------------------------------------------------------------------------
def test_a_failure_counts_when_any_of_its_days_is_in_the_holdout():
    # holdout days 0..5, H = 3: M1 fails on day 1 (its days -2..0: only day 0 is in the holdout), M2 on day 5
    frame = rows({"M1": list(range(6)), "M2": list(range(6))}, {"M1": [1], "M2": [5]})
    hit = ((frame["machine_id"] == "M2") & (frame["date"] == DAY0 + dt.timedelta(days=3))).to_numpy()
    events = E.failure_events(frame, hit, 3).set_index("machine_id")
    assert events.loc["M1", "days_in_holdout"] == 1 and not events.loc["M1", "caught"]
    assert events.loc["M2", "days_in_holdout"] == 3 and events.loc["M2", "caught"]
    assert events.loc["M2", "lead_time_days"] == 2  # alerted on day 3 for day 5


def test_alerts_at_most_h_days_apart_are_one_episode():
    frame = rows({"M1": list(range(20))}, {"M1": [4]})
    hit = frame["date"].isin([DAY0 + dt.timedelta(days=d) for d in (1, 2, 3, 12, 15)]).to_numpy()
    episodes = E.alert_episodes(frame, hit, 3)
    assert episodes["alerts"].tolist() == [3, 2]  # 1-3; 12 and 15 (3 days apart)
    assert episodes["followed_by_failure"].tolist() == [True, False]


def test_the_budget_ceilings_are_the_best_b_alerts_a_day_can_do():
    # one day, five machines, two of them fail within H
    day = rows({f"M{i}": [0] for i in range(5)}, {"M0": [2], "M1": [1]})
    three = E.budget_ceilings(day, 3, 3)
    assert three["precision_at_budget_ceiling"] == pytest.approx(2 / 3) and three["recall_at_budget_ceiling"] == 1
    one = E.budget_ceilings(day, 1, 3)
    assert one["precision_at_budget_ceiling"] == 1 and one["recall_at_budget_ceiling"] == pytest.approx(1 / 2)
    # one alert a day; A fails on day 3 (days 1-2 count), B on day 2 (days 0-1, but its day 0 is not held):
    # alerting A on day 1 would miss B, so the best alerts B on day 1 and A on day 2 and catches both
    race = rows({"A": [1, 2], "B": [1]}, {"A": [3], "B": [2]}, horizon=2)
    assert E.budget_ceilings(race, 1, 2)["catch_rate_ceiling"] == 1.0


# -- time folds -------------------------------------------------------------------------------------------------
def test_rolling_origins_test_consecutive_windows_each_after_its_gap():
    dates = pd.Series(pd.date_range("2025-01-01", periods=100, freq="D"))
    splits = rolling_splits(dates, horizon_days=7, folds=3)
    assert len(splits) == 3 and splits[-1].holdout_end == dt.date(2025, 4, 10)
    lengths = {(s.holdout_end - s.holdout_start).days + 1 for s in splits}
    assert lengths == {25}  # the last quarter, and the windows before it of the same length
    for earlier, later in zip(splits, splits[1:], strict=False):
        assert earlier.holdout_end + dt.timedelta(days=1) == later.holdout_start
    for split in splits:
        assert split.train_end + dt.timedelta(days=7) < split.holdout_start
    assert len(rolling_splits(dates.head(50), horizon_days=7, folds=3)) == 2  # a third would train on 4 days


def test_calibration_folds_are_blocks_of_days_apart_from_their_training_days():
    day = np.repeat(np.arange(30.0), 4)
    y = np.zeros(len(day), dtype=int)
    y[np.isin(day, [3, 4, 15, 16, 26, 27])] = 1
    X = pd.DataFrame({DAY: day})
    folds = list(DayBlocks(n_splits=3, gap_days=2).split(X, y))
    assert len(folds) == 3 and DayBlocks(3, 2).get_n_splits(X, y) == 3
    for train, test in folds:
        tested = np.unique(day[test])
        assert np.array_equal(tested, np.arange(tested[0], tested[-1] + 1))  # consecutive days
        nearest = np.min(np.abs(day[train][:, None] - tested[None, :]))
        assert nearest > 2  # no training day within the gap of a tested one
    y_late = np.zeros(len(day), dtype=int)
    y_late[np.isin(day, [1, 25, 26])] = 1  # the middle block holds no failure: merged into the first
    assert DayBlocks(3, 2).get_n_splits(X, y_late) == 2
    with pytest.raises(TooFewDaysError, match="calibration fold"):
        DayBlocks(3, 20).get_n_splits(X, y)  # a 20-day gap leaves no block anything to train on


def test_the_baseline_reads_the_sensor_means_and_spreads_it_is_given():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a_mean": rng.normal(size=200), "a_std": np.nan})
    y = (X["a_mean"] > 1).astype(int)
    model = BaselineModel(features=("a_mean", "a_std")).fit(X, y)
    assert model.features_used_ == ["a_mean"]  # a sensor without values is left out
    assert E.average_precision(y, model.predict_proba(X)[:, 1]) > 0.9
    blind = BaselineModel(features=("a_std",)).fit(X, y)
    assert np.allclose(blind.predict_proba(X)[:, 1], y.mean())  # nothing to read: the failure rate


# -- the gate ---------------------------------------------------------------------------------------------------
def evidence(gain_baseline: tuple[float, float, float], gain_champion: tuple[float, float, float] | None = None):
    champion = Interval(0.6, 0.5, 0.7) if gain_champion else None
    return Evidence("pr_auc", True, Interval(0.7, 0.6, 0.8), Interval(0.5, 0.4, 0.6), Interval(*gain_baseline),
                    champion, Interval(*gain_champion) if gain_champion else None, failures=30)


def test_the_gate_promotes_only_what_beats_the_baseline_and_the_champion_by_its_interval():
    first = judge(evidence((0.2, 0.1, 0.3)))
    assert first.promoted and first.reason.startswith("first champion") and "+0.200 [+0.100, +0.300]" in first.reason
    assert not judge(evidence((0.05, -0.1, 0.2))).promoted  # the baseline within its interval: not even first
    within = judge(evidence((0.2, 0.1, 0.3), (0.03, -0.01, 0.07)), champion_version="4")
    assert not within.promoted and within.reason.startswith("not better than the champion")
    assert "champion v4" in within.reason
    better = judge(evidence((0.2, 0.1, 0.3), (0.05, 0.02, 0.08)), champion_version="4")
    assert better.promoted
    assert not judge(evidence((0.2, 0.1, 0.3), (0.05, 0.02, 0.08)), margin=0.03, champion_version="4").promoted
    no_baseline = judge(evidence((0.0, -0.05, 0.05), (0.05, 0.02, 0.08)), champion_version="4")
    assert not no_baseline.promoted and no_baseline.reason.startswith("does not beat the baseline")
    assert not judge(evidence((0.2, float("nan"), float("nan")))).promoted  # no interval: no evidence
    # the cost model need only not be worse than its baseline (the median cost is an estimate too)
    assert judge(evidence((-0.05, -0.1, 0.02)), must_beat_baseline=False).promoted
    worse = judge(evidence((-0.05, -0.1, -0.01)), must_beat_baseline=False)
    assert not worse.promoted and worse.reason.startswith("worse than the baseline")


def test_the_gate_refuses_a_challenger_scored_within_noise_of_the_champion():
    frame = rows({f"M{i}": list(range(15)) for i in range(12)}, {f"M{i}": [5 + i % 7] for i in range(12)})
    y = frame[LABEL].to_numpy()
    rng = np.random.default_rng(11)
    champion = (y + rng.random(len(frame))) / 2
    challenger = np.clip(champion + rng.normal(scale=0.03, size=len(frame)), 0, 1)  # the same model, other noise
    baseline = rng.random(len(frame))
    assessment = E.assess_failures(frame, {"model": challenger, "baseline": baseline, "champion": champion}, 2, 3,
                                   replicates=300)
    verdict = judge(assessment.evidence(), champion_version="1")
    assert abs(assessment.versus["champion"].value) < 0.02 and not assessment.versus["champion"].above(0)
    assert assessment.versus["baseline"].above(0)
    assert not verdict.promoted and "not better than the champion" in verdict.reason


def test_the_gates_record_adds_its_new_columns_to_a_table_written_before_them(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    before = dataclasses.replace(MODEL_PROMOTIONS, columns=MODEL_PROMOTIONS.columns[:13])  # as first released
    at = dt.datetime(2025, 11, 1, 9, tzinfo=dt.UTC)
    old = {"date": at.date(), "decided_at": at, "model_name": "plantlake-failure", "challenger_version": "1",
           "champion_version": None, "metric": "pr_auc", "challenger_score": 0.7, "champion_score": None,
           "promoted": True, "reason": "first version: no champion yet", "holdout": "h", "mlflow_run_id": "r1",
           "dagster_run_id": None}
    lake.append(before, pa.Table.from_pylist([old], schema=before.schema))
    decision = registry.Decision("plantlake-failure", "2", "1", "pr_auc", 0.72, 0.7, False, "not better", "h", "r2",
                                 None, at + dt.timedelta(days=7), evidence((0.2, 0.1, 0.3), (0.02, -0.01, 0.05)))
    registry.record_decision(lake, decision)
    rows = sorted(lake.read(MODEL_PROMOTIONS).to_pylist(), key=lambda r: r["challenger_version"])
    assert [r["challenger_version"] for r in rows] == ["1", "2"]
    assert rows[0]["gain_vs_baseline_low"] is None and rows[0]["holdout_failures"] is None  # old rows read null
    assert (rows[1]["gain_vs_baseline_low"], rows[1]["gain_vs_champion_high"]) == (0.1, 0.05)
    assert rows[1]["baseline_score"] == 0.5 and rows[1]["holdout_failures"] == 30 and rows[1]["margin"] == 0.0
    registry.record_decision(lake, dataclasses.replace(decision, challenger_version="3"))  # columns there now
    assert lake.count(MODEL_PROMOTIONS) == 3
