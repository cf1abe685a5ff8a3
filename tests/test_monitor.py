"""The production monitor's parts on hand-made numbers: PSI, the holdout's intervals, the verdict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ml.monitor import feature_drift, holdout_figures, judge, psi, wilson


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference = pd.Series(rng.normal(0, 1, 5000))
    assert psi(reference, pd.Series(rng.normal(0, 1, 2000))) < 0.02
    assert psi(reference, pd.Series(rng.normal(1.5, 1, 2000))) > 1.0
    # values outside the training range fall in the outer bins; missing values in a bin of their own
    assert psi(reference, pd.Series([np.nan] * 500 + list(rng.normal(0, 1, 1500)))) > 0.25
    two = pd.Series(["A"] * 50 + ["B"] * 50, dtype=object)
    assert psi(two, pd.Series(["A"] * 50 + ["B"] * 50, dtype=object)) == 0
    # by hand: shares (0.5, 0.5) -> (0.9, 0.1): 0.4 ln(1.8) + (-0.4) ln(0.2)
    assert psi(two, pd.Series(["A"] * 90 + ["B"] * 10, dtype=object)) == pytest.approx(
        0.4 * math.log(1.8) - 0.4 * math.log(0.2))


def test_feature_drift_compares_the_features_both_sides_have():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"temperature_c_mean": rng.normal(40, 2, 3000), "alarm_count": rng.poisson(1, 3000),
                              "criticality": rng.choice(["A", "B", "C"], 3000), "not_a_feature": 1.0})
    scored = pd.DataFrame({"temperature_c_mean": rng.normal(46, 2, 500), "alarm_count": rng.poisson(1, 500),
                           "criticality": rng.choice(["A", "B", "C"], 500)})
    out = feature_drift(reference, scored, threshold=0.25).set_index("feature")
    assert set(out.index) == {"temperature_c_mean", "alarm_count", "criticality"}
    assert out.loc["temperature_c_mean", "drifted"] and not out.loc["alarm_count", "drifted"]
    assert not out.loc["criticality", "drifted"]
    assert out.loc["temperature_c_mean", "scored_median"] == pytest.approx(46, abs=0.5)
    assert (out["scored_rows"] == 500).all() and (out["reference_rows"] == 3000).all()


def test_the_holdout_interval_is_the_logged_bootstrap_one_or_a_wilson_interval_from_the_counts():
    logged = {"precision_at_budget": "0.6", "precision_at_budget_low": "0.5", "precision_at_budget_high": "0.7",
              "catch_rate": "0.8", "catch_rate_low": "0.7", "catch_rate_high": "0.9"}
    assert holdout_figures(logged) == pytest.approx({
        "holdout_precision_at_budget": 0.6, "holdout_precision_at_budget_low": 0.5,
        "holdout_precision_at_budget_high": 0.7, "holdout_catch_rate": 0.8, "holdout_catch_rate_low": 0.7,
        "holdout_catch_rate_high": 0.9, "holdout_intervals": "bootstrap"})
    # an older version: 40 of 50 positive rows alerted, precision 0.5 -> 80 alerted rows, 40 hits; 8 of 10 caught
    older = {"precision_at_budget": "0.5", "recall_at_budget": "0.8", "holdout_positive_rows": "50",
             "catch_rate": "0.8", "failures": "10", "failures_caught": "8"}
    figures = holdout_figures(older)
    assert figures["holdout_intervals"] == "wilson"
    assert (figures["holdout_precision_at_budget_low"], figures["holdout_precision_at_budget_high"]) == \
        pytest.approx(wilson(40, 80))
    # 0.5 -+ z / (1 + z^2/n) x sqrt(0.25/n + z^2/(4 n^2)) = 0.5 -+ 1.87018 x 0.057228 (z = 1.96, n = 80)
    assert wilson(40, 80) == pytest.approx((0.39297, 0.60703), abs=1e-5)
    assert holdout_figures({})["holdout_intervals"] == "none"
    # training logs catch_rate without bounds: 12 of 13 holdout failures caught
    mixed = holdout_figures({**logged, "catch_rate": "0.923077", "failures": "13", "catch_rate_low": "nan"})
    assert mixed["holdout_intervals"] == "bootstrap" and mixed["holdout_precision_at_budget_low"] == 0.5
    assert (mixed["holdout_catch_rate_low"], mixed["holdout_catch_rate_high"]) == pytest.approx(wilson(12, 13))


def test_the_verdict_judges_precision_only_with_enough_alerts_and_names_drifted_features():
    row = {"precision_at_budget": 0.2, "holdout_precision_at_budget_low": 0.5, "holdout_precision_at_budget_high": 0.7,
           "alerted_machine_days": 100, "features_drifted": 0, "features_compared": 40, "max_psi": 0.05,
           "psi_threshold": 0.25, "drift_nights": 7}
    precision, drift, verdict = judge(row, min_alerts=30)
    assert (precision, drift) == (True, False) and "outside the holdout's [0.500, 0.700]" in verdict
    assert judge(row | {"precision_at_budget": 0.6}, 30)[0] is False
    assert judge(row, min_alerts=200)[0] is False and "not judged" in judge(row, 200)[2]
    drifted = judge(row | {"precision_at_budget": 0.6, "features_drifted": 2, "max_psi": 0.9,
                           "max_psi_feature": "temperature_c_mean"}, 30)
    assert drifted[:2] == (False, True) and "temperature_c_mean" in drifted[2]
    early = judge(row | {"features_drifted": 2, "drift_nights": 3}, 30, drift_days=7)  # one weekday is no week
    assert early[1] is False and "drift not judged: 3 of 7 nights" in early[2]
