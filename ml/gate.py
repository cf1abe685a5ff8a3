"""The promotion gate's rule, as a pure function of the evidence: scores with intervals, no MLflow.

A challenger becomes champion only when the holdout shows it is better, not when its score is
higher by chance. Every score comes with a bootstrap interval over machines
(:mod:`ml.evaluation`), and the comparisons are paired: the challenger, the champion and the
baseline are scored on the same holdout rows, and each bootstrap replicate draws the same
machines for all three, so the interval of a difference is much narrower than the two
scores' intervals side by side would suggest.

The rule (docs/models.md, The promotion gate):

1. The challenger must beat the baseline (a logistic regression on the daily sensor means
   and spreads, trained on the same rows): the interval of the paired difference
   challenger - baseline lies above 0.
2. When a champion exists, the interval of the paired difference challenger - champion must
   lie above the margin (``PLANTLAKE_PROMOTION_MARGIN``, 0 by default): a challenger within its
   interval of the champion is not better, it is the same model with other noise.

The cost model's baseline (each component's median cost) is a usable cost estimate itself,
and without a cost champion no alert has an expected saving: its challenger must only not be
worse than the baseline (the interval of the difference reaches above 0,
``must_beat_baseline=False``); rule 2 is the same.

Differences are oriented so that positive means "the challenger is better" whatever the
metric (PR-AUC: higher is better; MAE: lower is better).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    """A statistic on the holdout and its bootstrap percentile interval (NaN bounds: no interval)."""

    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return self.text()

    def text(self, digits: int = 3, signed: bool = False) -> str:
        form = f"{{:+.{digits}f}}" if signed else f"{{:.{digits}f}}"

        def number(value: float) -> str:
            return form.format(value + 0.0)  # + 0.0: -0.0 reads 0.000

        if not math.isfinite(self.low) or not math.isfinite(self.high):
            return number(self.value) + " (no interval)"
        return f"{number(self.value)} [{number(self.low)}, {number(self.high)}]"

    def above(self, threshold: float) -> bool:
        """The whole interval lies above ``threshold`` (an undefined bound is not above anything)."""
        return math.isfinite(self.low) and self.low > threshold


@dataclass(frozen=True)
class Evidence:
    """What the gate decides on: the three scores on one holdout and the paired differences."""

    metric: str
    higher_is_better: bool
    challenger: Interval
    baseline: Interval
    vs_baseline: Interval  # challenger better than the baseline by (positive: better)
    champion: Interval | None = None
    vs_champion: Interval | None = None  # challenger better than the champion by (positive: better)
    failures: int = 0  # the holdout's failures: how much evidence there is
    level: float = 0.95

    def without_champion(self) -> Evidence:
        return Evidence(self.metric, self.higher_is_better, self.challenger, self.baseline, self.vs_baseline,
                        failures=self.failures, level=self.level)


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    reason: str


def judge(evidence: Evidence, *, margin: float = 0.0, champion_version: str | None = None,
          must_beat_baseline: bool = True) -> Verdict:
    """Apply the gate's rule (module docstring) to ``evidence``; the reason names every number it used."""
    e = evidence
    level = f"{e.level:.0%} interval"
    gain = e.vs_baseline
    if must_beat_baseline:
        passes = gain.above(0.0)
        where = "above 0" if passes else "not above 0"
    else:  # not worse: the interval is not wholly below 0
        passes = math.isfinite(gain.high) and gain.high > 0
        where = "not wholly below 0" if passes else "wholly below 0"
    failing = "does not beat the baseline" if must_beat_baseline else "worse than the baseline"
    baseline = (f"{e.metric} {e.challenger} vs baseline {e.baseline}: better by {gain.text(signed=True)} "
                f"({level} {where})")
    if champion_version is None or e.vs_champion is None or e.champion is None:
        return Verdict(True, f"first champion: {baseline}") if passes else Verdict(False, f"{failing}: {baseline}")
    beats_champion = e.vs_champion.above(margin)
    champion = (f"vs champion v{champion_version} {e.champion}: better by {e.vs_champion.text(signed=True)} "
                f"({level} {'above' if beats_champion else 'not above'} the margin {margin:g})")
    if passes and beats_champion:
        return Verdict(True, f"better than the champion and the baseline: {champion}; {baseline}")
    if not passes:
        return Verdict(False, f"{failing}: {baseline}; {champion}")
    return Verdict(False, f"not better than the champion: {champion}; {baseline}")
