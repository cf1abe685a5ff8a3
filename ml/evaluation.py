"""How good a failure or cost model is on its holdout: metrics a plant can act on, their intervals, and plots.

Besides the ranking metrics (PR-AUC, ROC-AUC) and calibration (Brier), the metrics follow
how the plants use the model: each plant acts on at most B alerts a day (the alert
budget), so precision and recall are measured on the top B machines per plant and day,
per machine-day and per failure: a failure counts as caught when its machine was alerted
on one of the H days before it, the lead time is how many days before the failure the
first of those alerts came, and precision per failure counts alert episodes, not days.
Beside them stand the ceilings: the best any model could do with B alerts.

Every headline figure has a 95 % interval from a bootstrap that resamples machines
(:class:`MachineBootstrap`, pure numpy): one failure makes H positive days of one machine,
so resampling rows would pretend to more evidence than the holdout holds.

Plots are drawn on matplotlib ``Figure`` objects (Agg canvas, no pyplot state), so they
are safe in any thread and need no display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
)

from ml.gate import Evidence, Interval
from ml.labels import LABEL


def alerted(frame: pd.DataFrame, score: np.ndarray, budget: int) -> np.ndarray:
    """True for the ``budget`` highest scores per plant and date (ties broken by machine_id)."""
    ranked = pd.DataFrame({"plant_id": frame["plant_id"].to_numpy(), "date": frame["date"].to_numpy(),
                           "machine_id": frame["machine_id"].to_numpy(), "score": np.asarray(score, dtype=float)})
    ranked = ranked.sort_values(["plant_id", "date", "score", "machine_id"], ascending=[True, True, False, True],
                                kind="stable")
    rank = ranked.groupby(["plant_id", "date"], sort=False).cumcount().to_numpy() + 1
    out = np.zeros(len(frame), dtype=bool)
    out[ranked.index.to_numpy()[rank <= budget]] = True  # the index holds row positions
    return out


def _failure_windows(frame: pd.DataFrame, horizon_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every row of each failure's machine in the H days before it (``event``: the failure), and the failures.

    A failure counts when at least one of its H days is a row of ``frame`` (its window may begin
    before the holdout or the holdout end before the failure).
    """
    frame = frame.reset_index(drop=True)
    dates = pd.to_datetime(frame["date"]).dt.normalize()
    positive = frame[LABEL].to_numpy() == 1
    events = pd.DataFrame({"machine_id": frame["machine_id"].to_numpy()[positive],
                           "plant_id": frame["plant_id"].to_numpy()[positive],
                           "failure_date": (dates[positive] + pd.to_timedelta(
                               frame["days_to_failure"][positive].astype(float), unit="D")).to_numpy()})
    events = events.drop_duplicates(["machine_id", "failure_date"]).reset_index(drop=True)
    rows = pd.DataFrame({"machine_id": frame["machine_id"].to_numpy(), "_day": dates.to_numpy(),
                         "_row": np.arange(len(frame))})
    pairs = events.reset_index(names="event").merge(rows, on="machine_id")
    ahead = (pairs["failure_date"] - pairs["_day"]).dt.days
    return pairs[(ahead >= 1) & (ahead <= horizon_days)].reset_index(drop=True), events


def failure_events(frame: pd.DataFrame, is_alerted: np.ndarray, horizon_days: int) -> pd.DataFrame:
    """One row per failure whose H days before it hold at least one row of ``frame``: caught or not, lead time.

    ``frame`` holds the holdout rows with their labels (``days_to_failure``). A failure on
    date F is caught when its machine was alerted on a day in [F - H, F - 1]; the lead time is
    F minus the first such day. ``days_in_holdout`` says how many of those H days the holdout
    held (a failure early in the holdout had fewer chances to be caught).
    """
    pairs, events = _failure_windows(frame, horizon_days)
    pairs["alerted"] = np.asarray(is_alerted, dtype=bool)[pairs["_row"].to_numpy()]
    hits = pairs[pairs["alerted"]].groupby("event")["_day"].min()
    events["failure_date"] = events["failure_date"].dt.date
    events["days_in_holdout"] = pairs.groupby("event").size().reindex(events.index, fill_value=0).to_numpy()
    first = hits.reindex(events.index)
    events["caught"] = first.notna().to_numpy()
    events["lead_time_days"] = (pd.to_datetime(events["failure_date"]) - first).dt.days.astype(float).to_numpy()
    return events


def alert_episodes(frame: pd.DataFrame, is_alerted: np.ndarray, horizon_days: int) -> pd.DataFrame:
    """The alerts of each machine grouped into episodes: alerts at most H days apart are one episode.

    A plant acts on an episode once (the later alerts only repeat it), so precision per
    failure counts episodes: ``followed_by_failure`` when one of its alerts had a failure of
    the machine within H days.
    """
    alerts = pd.DataFrame({"machine_id": frame["machine_id"].to_numpy(),
                           "date": pd.to_datetime(frame["date"]).dt.normalize().to_numpy(),
                           "hit": frame[LABEL].to_numpy() == 1})[np.asarray(is_alerted, dtype=bool)]
    alerts = alerts.sort_values(["machine_id", "date"], kind="stable")
    gap = alerts.groupby("machine_id")["date"].diff().dt.days
    alerts["episode"] = (gap.isna() | (gap > horizon_days)).cumsum()
    return alerts.groupby("episode").agg(machine_id=("machine_id", "first"), start=("date", "min"),
                                         end=("date", "max"), alerts=("hit", "size"),
                                         followed_by_failure=("hit", "any")).reset_index(drop=True)


def budget_ceilings(frame: pd.DataFrame, budget: int, horizon_days: int) -> dict[str, float]:
    """The best any model could do with ``budget`` alerts per plant and day on these rows.

    Precision and recall per machine-day: a perfect ranking alerts min(B, failing machines)
    failing machines a day. The catch rate per failure: alerts given greedily, each day, to
    the machines whose uncaught failure comes soonest (earliest deadline first: exact when a
    failure's days in the holdout are consecutive, as they are when every machine has a row
    every day).
    """
    per_day = frame.groupby(["plant_id", "date"])[LABEL].agg(["size", "sum"])
    alerts, best = np.minimum(budget, per_day["size"]).sum(), np.minimum(budget, per_day["sum"]).sum()
    positives = per_day["sum"].sum()
    pairs, events = _failure_windows(frame, horizon_days)
    caught: set[int] = set()
    for (_plant, _day), slots in pairs.sort_values("failure_date").groupby(["plant_id", "_day"], sort=True):
        open_ = slots[~slots["event"].isin(caught)]
        chosen = open_["machine_id"].drop_duplicates().head(budget)  # soonest deadline first
        caught.update(open_.loc[open_["machine_id"].isin(chosen), "event"])
    return {
        "precision_at_budget_ceiling": float(best / alerts) if alerts else float("nan"),
        "recall_at_budget_ceiling": float(best / positives) if positives else float("nan"),
        "catch_rate_ceiling": float(len(caught) / len(events)) if len(events) else float("nan"),
    }


# -- bootstrap intervals by machine ----------------------------------------------------------------------------
#: Bootstrap replicates and interval level of every interval plantlake reports (docs/models.md).
REPLICATES, LEVEL = 1000, 0.95

#: A statistic of weighted rows: (b, m) machine weights in, b values out (NaN: undefined for that replicate).
Statistic = Callable[[np.ndarray], np.ndarray]


class MachineBootstrap:
    """Bootstrap replicates that resample machines, not rows.

    A machine's days are not independent (one failure makes H positive days in a row, a
    drifting sensor shows for weeks), so each replicate draws as many machines as the holdout
    has, with replacement, and keeps all the rows of every machine drawn, weighted by how often
    it was drawn. All statistics of one :meth:`draws` call see the same replicates, which makes
    differences between them paired. The seed is fixed: the same holdout gives the same intervals.
    """

    def __init__(self, machines, replicates: int = REPLICATES, seed: int = 0, chunk: int = 200):
        self.machines = np.unique(np.asarray(machines).astype(str))
        self.replicates, self.seed, self.chunk = replicates, seed, chunk

    def codes(self, ids) -> np.ndarray:
        """Each id's column in the weight matrices (ids must be machines of the bootstrap)."""
        return np.searchsorted(self.machines, np.asarray(ids).astype(str))

    def point(self, statistic: Statistic) -> float:
        """The statistic on the rows as they are (every machine once)."""
        return float(statistic(np.ones((1, len(self.machines))))[0])

    def draws(self, statistics: Mapping[str, Statistic]) -> dict[str, np.ndarray]:
        """Every statistic on the same ``replicates`` resamples of the machines."""
        rng = np.random.default_rng(self.seed)
        m = len(self.machines)
        out: dict[str, list[np.ndarray]] = {name: [] for name in statistics}
        for start in range(0, self.replicates, self.chunk):
            counts = rng.multinomial(m, np.full(m, 1.0 / m), size=min(self.chunk, self.replicates - start))
            for name, statistic in statistics.items():
                out[name].append(statistic(counts.astype(float)))
        return {name: np.concatenate(values) if values else np.array([]) for name, values in out.items()}


def percentile_interval(value: float, draws: np.ndarray, level: float = LEVEL) -> Interval:
    """``value`` with the percentile interval of its finite bootstrap ``draws`` (NaN bounds: none finite)."""
    finite = np.asarray(draws, dtype=float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return Interval(float(value), float("nan"), float("nan"))
    low, high = np.quantile(finite, [(1 - level) / 2, 1 - (1 - level) / 2])
    return Interval(float(value), float(low), float(high))


def mean_statistic(values, codes: np.ndarray, where=None) -> Statistic:
    """The weighted mean of ``values`` (one per row; rows weighted by their machine's weight), over ``where``."""
    values, codes = np.asarray(values, dtype=float), np.asarray(codes)
    if where is not None:
        values, codes = values[np.asarray(where, dtype=bool)], codes[np.asarray(where, dtype=bool)]

    def statistic(weights: np.ndarray) -> np.ndarray:
        rows = weights[:, codes]
        total = rows.sum(axis=1)
        return np.divide(rows @ values, total, out=np.full(len(total), np.nan), where=total > 0)

    return statistic


def precision_statistic(y, score, codes: np.ndarray) -> Statistic:
    """Average precision (sklearn's ``average_precision_score``, ties included) of weighted rows."""
    y, score, codes = np.asarray(y, dtype=float), np.asarray(score, dtype=float), np.asarray(codes)
    order = np.argsort(-score, kind="mergesort")
    y, codes, score = y[order], codes[order], score[order]
    last = np.r_[score[1:] != score[:-1], True]  # the last row of each run of equal scores: one threshold

    def statistic(weights: np.ndarray) -> np.ndarray:
        rows = weights[:, codes]
        true = np.cumsum(rows * y, axis=1)[:, last]
        seen = np.cumsum(rows, axis=1)[:, last]
        total = true[:, -1:]
        precision = np.divide(true, seen, out=np.zeros_like(true), where=seen > 0)
        recall = np.divide(true, total, out=np.zeros_like(true), where=total > 0)
        ap = (np.diff(recall, axis=1, prepend=0.0) * precision).sum(axis=1)
        return np.where(total[:, 0] > 0, ap, np.nan)

    return statistic


def average_precision(y, score, weights=None) -> float:
    """Average precision of ``score`` for 0/1 labels ``y``, optionally with row weights (NaN: no positive)."""
    n = len(np.asarray(y))
    weights = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    return float(precision_statistic(y, score, np.arange(n))(weights[None, :])[0])


def difference(a: np.ndarray, b: np.ndarray, value: float, level: float = LEVEL) -> Interval:
    """The paired difference a - b (``value`` on the holdout) with the interval of its replicate differences."""
    return percentile_interval(value, np.asarray(a) - np.asarray(b), level)


@dataclass
class Assessment:
    """Scorers (model, baseline, champion...) on one set of holdout rows, each metric with its interval.

    ``metrics[scorer][name]``: an :class:`Interval` (roc_auc and brier have none); ``shared``:
    what depends on the rows only (base rate, counts, the budget's ceilings); ``versus[name]``:
    the paired difference of the key metric between the first scorer and ``name``, oriented
    so that positive means the first scorer is better; ``events[scorer]``: the failures.
    """

    key: str
    higher_is_better: bool
    metrics: dict[str, dict[str, Interval]]
    shared: dict[str, Interval]
    versus: dict[str, Interval]
    events: dict[str, pd.DataFrame] = field(default_factory=dict)
    level: float = LEVEL

    def flat(self, scorer: str, prefix: str = "", shared: bool = True) -> dict[str, float]:
        """One scorer's metrics (and the shared figures) as plain numbers: name, name_low, name_high; and the
        difference to each other scorer as ``gain_vs_<other>``."""
        figures = {**self.metrics[scorer], **(self.shared if shared else {})}
        if scorer == next(iter(self.metrics)):
            figures.update({f"gain_vs_{other}": interval for other, interval in self.versus.items()})
        out: dict[str, float] = {}
        for name, interval in figures.items():
            out[prefix + name] = interval.value
            if math.isfinite(interval.low):
                out[f"{prefix}{name}_low"], out[f"{prefix}{name}_high"] = interval.low, interval.high
        return out

    def evidence(self, scorer: str = "model") -> Evidence:
        """What the promotion gate decides on: ``scorer`` against ``baseline`` (and ``champion``, when scored)."""
        key, champion = self.key, self.metrics.get("champion")
        return Evidence(key, self.higher_is_better, self.metrics[scorer][key], self.metrics["baseline"][key],
                        self.versus["baseline"], champion[key] if champion else None, self.versus.get("champion"),
                        failures=int(self.shared["failures"].value), level=self.level)


def _versus(key_draws: dict[str, np.ndarray], key_values: dict[str, float], higher_is_better: bool,
            level: float) -> dict[str, Interval]:
    first, *others = list(key_draws)
    sign = 1.0 if higher_is_better else -1.0
    return {other: difference(sign * key_draws[first], sign * key_draws[other],
                              sign * (key_values[first] - key_values[other]), level) for other in others}


def assess_failures(frame: pd.DataFrame, scores: Mapping[str, np.ndarray], budget: int, horizon_days: int, *,
                    replicates: int = REPLICATES, level: float = LEVEL, seed: int = 0) -> Assessment:
    """The failure scorers on the labelled holdout ``frame``; PR-AUC differences are the first scorer's.

    Per machine-day: PR-AUC, precision and recall of the B top-scored machines per plant and day.
    Per failure: the catch rate (failures alerted within their H days), the lead time of caught
    ones, and precision per failure (alert episodes followed by a failure). Beside them the
    ceilings the budget allows. Intervals: :class:`MachineBootstrap`.
    """
    frame = frame.reset_index(drop=True)
    y = frame[LABEL].to_numpy().astype(int)
    boot = MachineBootstrap(frame["machine_id"], replicates, seed)
    rows = boot.codes(frame["machine_id"])
    both = 0 < y.sum() < len(y)
    statistics: dict[str, Statistic] = {"base_rate": mean_statistic(y, rows)}
    points: dict[str, dict[str, float]] = {}
    events: dict[str, pd.DataFrame] = {}
    for scorer, score in scores.items():
        p = np.asarray(score, dtype=float)
        hit = alerted(frame, p, budget)
        events[scorer] = failure_events(frame, hit, horizon_days)
        episodes = alert_episodes(frame, hit, horizon_days)
        caught = events[scorer]["caught"].to_numpy()
        failure_codes = boot.codes(events[scorer]["machine_id"])
        statistics.update({
            f"{scorer}.pr_auc": precision_statistic(y, p, rows),
            f"{scorer}.precision_at_budget": mean_statistic(y, rows, where=hit),
            f"{scorer}.recall_at_budget": mean_statistic(hit, rows, where=y == 1),
            f"{scorer}.precision_per_failure": mean_statistic(episodes["followed_by_failure"],
                                                              boot.codes(episodes["machine_id"])),
            f"{scorer}.catch_rate": mean_statistic(caught, failure_codes),
            f"{scorer}.lead_time_days": mean_statistic(events[scorer]["lead_time_days"].fillna(0), failure_codes,
                                                       where=caught),
        })
        points[scorer] = {"roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
                          "brier": float(brier_score_loss(y, p)) if len(y) else float("nan")}
    draws = boot.draws(statistics)
    intervals = {name: percentile_interval(boot.point(statistic), draws[name], level)
                 for name, statistic in statistics.items()}
    metrics = {scorer: {name.split(".", 1)[1]: interval for name, interval in intervals.items()
                        if name.startswith(scorer + ".")}
               | {name: Interval(value, float("nan"), float("nan")) for name, value in points[scorer].items()}
               for scorer in scores}
    counts = {**budget_ceilings(frame, budget, horizon_days), "holdout_rows": len(y),
              "holdout_positive_rows": y.sum(), "machines": len(boot.machines),
              "failures": len(next(iter(events.values()))) if events else 0}
    nan = float("nan")
    shared = {"base_rate": intervals["base_rate"],
              **{name: Interval(float(value), nan, nan) for name, value in counts.items()}}
    versus = _versus({s: draws[f"{s}.pr_auc"] for s in scores}, {s: metrics[s]["pr_auc"].value for s in scores},
                     True, level)
    return Assessment("pr_auc", True, metrics, shared, versus, events, level)


def assess_costs(actual: np.ndarray, predictions: Mapping[str, np.ndarray], machines, *,
                 replicates: int = REPLICATES, level: float = LEVEL, seed: int = 0) -> Assessment:
    """Cost scorers' MAE in EUR on the holdout failures, with intervals by machine; differences to the first."""
    actual = np.asarray(actual, dtype=float)
    boot = MachineBootstrap(machines, replicates, seed)
    rows = boot.codes(machines)
    statistics = {scorer: mean_statistic(np.abs(actual - np.asarray(p, dtype=float)), rows)
                  for scorer, p in predictions.items()}
    statistics["_cost"] = mean_statistic(actual, rows)
    draws = boot.draws(statistics)
    values = {name: boot.point(statistic) for name, statistic in statistics.items()}
    metrics = {scorer: {"mae_eur": percentile_interval(values[scorer], draws[scorer], level)} for scorer in predictions}
    for scorer in predictions:
        mae = metrics[scorer]["mae_eur"]
        metrics[scorer]["relative_mae"] = Interval(*(v / values["_cost"] if values["_cost"] else float("nan")
                                                     for v in (mae.value, mae.low, mae.high)))
    nan = float("nan")
    shared = {"mean_cost_eur": percentile_interval(values["_cost"], draws["_cost"], level),
              "failures": Interval(float(len(actual)), nan, nan)}
    versus = _versus({s: draws[s] for s in predictions}, {s: values[s] for s in predictions}, False, level)
    return Assessment("mae_eur", False, metrics, shared, versus, level=level)


def feature_importance(model, frame: pd.DataFrame, max_rows: int = 1000, random_state: int = 0,
                       batch_features: int = 16) -> pd.Series:
    """Permutation importance on the holdout: the drop in PR-AUC when a feature is shuffled, largest first.

    The rows with one feature shuffled are scored for ``batch_features`` features at a time, in
    one call of the model: a call's fixed cost (column checks, calibration folds) dominates at
    this size, so a call per feature took most of a retrain.
    """
    y = frame[LABEL].to_numpy().astype(int)
    if not 0 < y.sum() < len(y):
        return pd.Series(dtype=float)
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=random_state)
        y = frame[LABEL].to_numpy().astype(int)
        if not 0 < y.sum() < len(y):
            return pd.Series(dtype=float)
    columns = [*model.categorical, *model.numeric]
    X = frame[columns].reset_index(drop=True)
    rng = np.random.default_rng(random_state)
    baseline = average_precision_score(y, model.predict_proba(X)[:, 1])
    drops = []
    for start in range(0, len(columns), batch_features):
        chunk = columns[start:start + batch_features]
        shuffled = []
        for column in chunk:
            copy = X.copy()
            copy[column] = X[column].to_numpy()[rng.permutation(len(X))]
            shuffled.append(copy)
        scores = model.predict_proba(pd.concat(shuffled, ignore_index=True))[:, 1].reshape(len(chunk), len(X))
        drops += [baseline - average_precision_score(y, row) for row in scores]
    return pd.Series(drops, index=columns).sort_values(ascending=False)


# -- plots ---------------------------------------------------------------------------------------------------
def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_pr_curve(y: np.ndarray, p: np.ndarray, path: Path, baseline: np.ndarray | None = None) -> Path:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    if 0 < np.sum(y) < len(y):
        for label, score, style in (("model", p, "-"), ("baseline", baseline, ":")):
            if score is not None:
                precision, recall, _ = precision_recall_curve(y, score)
                ax.plot(recall, precision, style, label=f"{label} (PR-AUC {average_precision_score(y, score):.3f})")
        ax.axhline(np.mean(y), color="grey", linestyle="--", label=f"base rate {np.mean(y):.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall on the holdout", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_calibration(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    if 0 < np.sum(y) < len(y):
        observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    ax.set(xlabel="predicted probability", ylabel="observed failure rate", title="Calibration on the holdout")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_importance(importance: pd.Series, path: Path, top: int = 20) -> Path:
    fig = Figure(figsize=(6, 6))
    ax = fig.subplots()
    shown = importance.head(top)[::-1]
    ax.barh(list(shown.index), shown.to_numpy())
    ax.set(xlabel="drop in PR-AUC when shuffled", title=f"Permutation importance (top {top})")
    ax.tick_params(axis="y", labelsize=7)
    return _save(fig, path)


def plot_lead_times(events: pd.DataFrame, horizon_days: int, path: Path) -> Path:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    lead = events.loc[events["caught"], "lead_time_days"].to_numpy() if len(events) else np.array([])
    ax.hist(lead, bins=np.arange(0.5, horizon_days + 1.5, 1.0), rwidth=0.9)
    caught = int(events["caught"].sum()) if len(events) else 0
    ax.set(xlabel="days between the first alert and the failure", ylabel="failures",
           title=f"Lead time of caught failures ({caught} of {len(events)})")
    return _save(fig, path)


def plot_costs(actual: np.ndarray, predicted: np.ndarray, path: Path) -> Path:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    ax.scatter(actual, predicted, s=8, alpha=0.6)
    top = float(max(np.max(actual, initial=1.0), np.max(predicted, initial=1.0)))
    ax.plot([0, top], [0, top], color="grey", linestyle="--")
    ax.set(xlabel="actual failure cost (EUR)", ylabel="predicted (EUR)", title="Failure cost on the holdout")
    return _save(fig, path)


#: The colour of each kind of scorer in :func:`plot_intervals`.
KIND_COLOURS = {"model": "C0", "baseline": "C1", "champion": "C2"}


def plot_intervals(rows: list[tuple[str, str, Interval]], path: Path, *, title: str, xlabel: str,
                   reference: tuple[str, float] | None = None) -> Path:
    """Scores with their intervals, one line each (label, kind of scorer, interval), first at the top."""
    fig = Figure(figsize=(7, 0.9 + 0.38 * len(rows)))
    ax = fig.subplots()
    for i, (_label, kind, interval) in enumerate(rows):
        y = len(rows) - 1 - i
        low = interval.low if math.isfinite(interval.low) else interval.value
        high = interval.high if math.isfinite(interval.high) else interval.value
        ax.errorbar([interval.value], [y], xerr=[[interval.value - low], [high - interval.value]], fmt="o",
                    capsize=4, color=KIND_COLOURS.get(kind, "C7"))
        ax.annotate(interval.text(), (high, y), xytext=(6, -3), textcoords="offset points", fontsize=7)
    if reference is not None and math.isfinite(reference[1]):
        ax.axvline(reference[1], color="grey", linestyle="--", label=reference[0])
        ax.legend(loc="lower right", fontsize=7)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in rows][::-1], fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    ax.margins(x=0.25)
    return _save(fig, path)
