"""Comparing two lakes' contents: floats within summation noise are the same, real changes are not."""

import math

from lakehouse.snapshot import _order, differences


def test_summation_noise_is_the_same_even_across_a_rounding_boundary():
    # Two sums of the same values in another order: one rounding step apart, and on either side
    # of the ninth decimal's boundary, so rounding both to 9 places would call them different.
    low, high = 0.1234567885, math.nextafter(0.1234567885, 1.0)
    assert round(low, 9) != round(high, 9)
    first = {"gold.supplier_scorecard": [("S1", low, None)]}
    second = {"gold.supplier_scorecard": [("S1", high, None)]}
    assert differences(first, second) == []
    assert _order(("S1", low)) == _order(("S1", high))  # and noise cannot reorder rows


def test_a_real_change_a_missing_row_or_table_is_named():
    base = {"gold.oee_daily": [("L1", 0.8)], "gold.machine_daily": [("M1", 3.0)]}
    assert differences(base, {**base, "gold.oee_daily": [("L1", 0.800001)]}) == [
        "gold.oee_daily: row 0 is ('L1', 0.8) against ('L1', 0.800001)"]
    assert differences(base, {**base, "gold.oee_daily": []}) == ["gold.oee_daily: 1 rows against 0"]
    assert differences(base, {"gold.oee_daily": base["gold.oee_daily"]}) == ["gold.machine_daily: only in the first"]
    assert differences(base, {**base, "gold.machine_daily": [("M2", 3.0)]}) == [
        "gold.machine_daily: row 0 is ('M1', 3.0) against ('M2', 3.0)"]
