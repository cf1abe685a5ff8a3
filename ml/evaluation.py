"""How good a failure or cost model is on its holdout: metrics a plant can act on, and plots.

Besides the ranking metrics (PR-AUC, ROC-AUC) and calibration (Brier), the metrics follow
how the plants use the model: each plant acts on at most K alerts a day (the alert
budget), so precision and recall are measured on the top K machines per plant and day,
and a failure counts as caught when its machine was alerted on one of the H days before
it; the lead time is how many days before the failure the first of those alerts came.

Plots are drawn on matplotlib ``Figure`` objects (Agg canvas, no pyplot state), so they
are safe in any thread and need no display.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    precision_recall_curve,
    roc_auc_score,
)

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


def lead_times(frame: pd.DataFrame, is_alerted: np.ndarray, horizon_days: int) -> pd.DataFrame:
    """One row per failure whose H days before it all lie in ``frame``'s dates: caught or not, and the lead time.

    ``frame`` holds the holdout rows with their labels (``days_to_failure``). A failure on
    date F is caught when its machine was alerted on a day in [F - H, F - 1]; the lead
    time is F minus the first such day.
    """
    dates = pd.to_datetime(frame["date"]).dt.date
    first, last = min(dates), max(dates)
    positive = frame[LABEL].to_numpy() == 1
    fail_dates = [d + dt.timedelta(days=int(n)) for d, n in zip(dates[positive], frame["days_to_failure"][positive],
                                                                strict=True)]
    events = pd.DataFrame({"machine_id": frame["machine_id"][positive].to_numpy(), "failure_date": fail_dates})
    events = events.drop_duplicates()
    whole = [first <= f - dt.timedelta(days=horizon_days) and f - dt.timedelta(days=1) <= last
             for f in events["failure_date"]]
    events = events[np.asarray(whole, dtype=bool)].reset_index(drop=True)
    alerts = pd.DataFrame({"machine_id": frame["machine_id"].to_numpy(), "date": dates.to_numpy()})[is_alerted]
    caught, lead = [], []
    by_machine = {m: sorted(g["date"]) for m, g in alerts.groupby("machine_id")}
    for machine, failure_date in zip(events["machine_id"], events["failure_date"], strict=True):
        days = [d for d in by_machine.get(machine, ()) if
                failure_date - dt.timedelta(days=horizon_days) <= d < failure_date]
        caught.append(bool(days))
        lead.append((failure_date - days[0]).days if days else np.nan)
    events["caught"] = caught
    events["lead_time_days"] = lead
    return events


def failure_metrics(frame: pd.DataFrame, probability: np.ndarray, budget: int, horizon_days: int,
                    component: np.ndarray | None = None) -> tuple[dict[str, float], pd.DataFrame]:
    """Metrics of ``probability`` on the labelled holdout ``frame``, and the holdout's failures with lead times."""
    y = frame[LABEL].to_numpy().astype(int)
    p = np.asarray(probability, dtype=float)
    base = float(y.mean()) if len(y) else float("nan")
    both = 0 < y.sum() < len(y)
    pr_auc = float(average_precision_score(y, p)) if both else float("nan")
    hit = alerted(frame, p, budget)
    events = lead_times(frame, hit, horizon_days)
    caught = events[events["caught"]]
    metrics = {
        "pr_auc": pr_auc,
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "base_rate": base,
        "pr_auc_lift": pr_auc / base if base else float("nan"),
        "precision_at_budget": float(y[hit].mean()) if hit.any() else float("nan"),
        "recall_at_budget": float(hit[y == 1].mean()) if y.sum() else float("nan"),
        "alert_budget": float(budget),
        "failures": float(len(events)),
        "failures_caught": float(len(caught)),
        "catch_rate": float(len(caught) / len(events)) if len(events) else float("nan"),
        "mean_lead_time_days": float(caught["lead_time_days"].mean()) if len(caught) else float("nan"),
        "holdout_rows": float(len(y)),
        "holdout_positive_rows": float(y.sum()),
    }
    if component is not None and y.sum():
        truth = frame["failing_component"].to_numpy()[y == 1]
        metrics["component_accuracy"] = float(np.mean(np.asarray(component)[y == 1] == truth))
    return metrics, events


def cost_metrics(actual: np.ndarray, predicted: np.ndarray, baseline: np.ndarray | None = None) -> dict[str, float]:
    """MAE in EUR (and the MAE of ``baseline``, e.g. each component's median cost, for comparison)."""
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    out = {
        "mae_eur": float(mean_absolute_error(actual, predicted)),
        "mean_cost_eur": float(actual.mean()),
        "relative_mae": float(mean_absolute_error(actual, predicted) / actual.mean()) if actual.mean() else np.nan,
        "holdout_failures": float(len(actual)),
    }
    if baseline is not None:
        out["baseline_mae_eur"] = float(mean_absolute_error(actual, np.asarray(baseline, dtype=float)))
    return out


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


def plot_pr_curve(y: np.ndarray, p: np.ndarray, path: Path) -> Path:
    fig = Figure(figsize=(5, 4))
    ax = fig.subplots()
    if 0 < np.sum(y) < len(y):
        precision, recall, _ = precision_recall_curve(y, p)
        ax.plot(recall, precision, label=f"model (PR-AUC {average_precision_score(y, p):.3f})")
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
