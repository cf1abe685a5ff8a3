"""Fitting the two models on time splits, with clear errors when there is nothing to learn from.

The split is by date, never by row: the holdout is the last days of the window, and the
training rows end H days before it (a gap of the horizon), so no training row's label
window reaches into the holdout and the holdout score is what the model would have done
on days it had never seen. The failure model is backtested from several origins
(:func:`rolling_splits`): each fold trains on everything before its test window (minus the
gap) and is scored on the window; the last fold's holdout is what the promotion gate
judges and its model is the one registered. Every fold also fits the baseline
(:class:`ml.estimators.BaselineModel`) on the same rows. Pure functions of DataFrames;
MLflow and Delta stay outside.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ml import features as F
from ml.labels import LABEL

if TYPE_CHECKING:  # scikit-learn is imported when a model is fitted, not with this module
    from ml.estimators import BaselineModel, CostModel, FailureModel


class TrainingDataError(ValueError):
    """The training window cannot train a model: empty, unlabelled or one class only; the message says which."""


@dataclass(frozen=True)
class TimeSplit:
    """Training dates up to ``train_end``; holdout dates ``holdout_start``..``holdout_end``; gap = H days."""

    train_start: dt.date
    train_end: dt.date
    holdout_start: dt.date
    holdout_end: dt.date
    gap_days: int

    def describe(self) -> str:
        return (f"train {self.train_start}..{self.train_end}, gap {self.gap_days} d, "
                f"holdout {self.holdout_start}..{self.holdout_end}")


def _dates(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["date"]).dt.date


def time_split(dates: pd.Series, horizon_days: int, holdout_fraction: float = 0.25,
               min_train_days: int = 7) -> TimeSplit:
    """Split the distinct ``dates``: the last ``holdout_fraction`` is the holdout, H days before it are dropped."""
    days = sorted(set(pd.to_datetime(dates).dt.date))
    if not days:
        raise TrainingDataError("the training window has no labelled rows: no machine_daily rows whose "
                                f"{horizon_days}-day label window is complete")
    if not 0 < holdout_fraction < 1:
        raise ValueError(f"holdout_fraction must be between 0 and 1, got {holdout_fraction}")
    span = (days[-1] - days[0]).days + 1
    holdout_days = max(1, math.ceil(span * holdout_fraction))
    holdout_start = days[-1] - dt.timedelta(days=holdout_days - 1)
    train_end = holdout_start - dt.timedelta(days=horizon_days + 1)
    train_days = (train_end - days[0]).days + 1
    if train_days < min_train_days:
        raise TrainingDataError(
            f"the window {days[0]}..{days[-1]} ({span} labelled days) is too short for a {horizon_days}-day "
            f"horizon: after a holdout of {holdout_days} days and a gap of {horizon_days} days, "
            f"{max(train_days, 0)} training days remain (at least {min_train_days} needed)")
    return TimeSplit(days[0], train_end, holdout_start, days[-1], horizon_days)


def rolling_splits(dates: pd.Series, horizon_days: int, folds: int = 3, holdout_fraction: float = 0.25,
                   min_train_days: int = 7) -> list[TimeSplit]:
    """Up to ``folds`` rolling-origin splits of the distinct ``dates``, oldest first.

    The last is :func:`time_split`'s; each earlier one tests on the window of the same length
    just before the next one's and trains on the days before it minus the H-day gap. Folds
    that would leave fewer than ``min_train_days`` training days are not made.
    """
    last = time_split(dates, horizon_days, holdout_fraction, min_train_days)
    length = last.holdout_end - last.holdout_start + dt.timedelta(days=1)
    splits = [last]
    for k in range(1, max(folds, 1)):
        holdout_end = last.holdout_start - dt.timedelta(days=1) - (k - 1) * length
        holdout_start = holdout_end - length + dt.timedelta(days=1)
        train_end = holdout_start - dt.timedelta(days=horizon_days + 1)
        if (train_end - last.train_start).days + 1 < min_train_days:
            break
        splits.insert(0, TimeSplit(last.train_start, train_end, holdout_start, holdout_end, horizon_days))
    return splits


@dataclass
class Fold:
    """One origin of the backtest: its split, rows, failure model and baseline."""

    split: TimeSplit
    train: pd.DataFrame
    holdout: pd.DataFrame
    model: FailureModel
    baseline: BaselineModel


@dataclass
class FailureFit:
    """The backtest's folds, oldest first: the last one's holdout is the gate's and its model is registered."""

    folds: list[Fold]
    params: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # earlier folds left out, and why

    @property
    def last(self) -> Fold:
        return self.folds[-1]

    @property
    def model(self) -> FailureModel:
        return self.last.model

    @property
    def baseline(self) -> BaselineModel:
        return self.last.baseline

    @property
    def split(self) -> TimeSplit:
        return self.last.split

    @property
    def train(self) -> pd.DataFrame:
        return self.last.train

    @property
    def holdout(self) -> pd.DataFrame:
        return self.last.holdout


def _check_training_set(training_set: pd.DataFrame, feature_names) -> pd.DataFrame:
    F.require(training_set, ["date", "machine_id", *feature_names], "the training set")
    for name in (LABEL, "label_complete"):
        if name not in training_set.columns:
            raise TrainingDataError(f"the training set has no {name!r} column: label it with ml.labels.label_frame")
    if training_set.empty:
        raise TrainingDataError("the training window is empty: no gold.machine_daily rows in it")
    labelled = training_set[training_set["label_complete"].astype(bool)]
    if labelled.empty:
        raise TrainingDataError("the training window has no labelled rows: every row's label window reaches past "
                                "the last date failures are known for")
    return labelled


def fit_failure_model(
    training_set: pd.DataFrame,
    horizon_days: int,
    *,
    holdout_fraction: float = 0.25,
    folds: int = 1,
    numeric: tuple[str, ...] | None = None,
    categorical: tuple[str, ...] | None = None,
    **params: Any,
) -> FailureFit:
    """Backtest ``training_set`` (keys, features, labels) from up to ``folds`` origins (:func:`rolling_splits`).

    Each fold fits a :class:`FailureModel` and the baseline on its training rows; only the
    last fold's model learns the likely component (it is the one registered). An earlier
    fold whose training rows are too few to fit is left out (``skipped`` says why); the last
    fold's are an error. ``numeric``/``categorical`` default to the full feature lists;
    ``params`` go to the model.
    """
    from ml.estimators import BaselineModel, FailureModel, TooFewDaysError

    numeric = tuple(F.numeric_in(training_set) if numeric is None else numeric)  # the window's sensors' too
    categorical = tuple(F.CATEGORICAL if categorical is None else categorical)
    labelled = _check_training_set(training_set, [*numeric, *categorical])
    splits = rolling_splits(labelled["date"], horizon_days, folds, holdout_fraction)
    dates = _dates(labelled)
    done: list[Fold] = []
    skipped: list[str] = []
    sensors = F.sensor_means_and_spreads(labelled)  # the baseline's, whatever features the model takes
    for split in splits:
        train = labelled[dates <= split.train_end]
        holdout = labelled[(dates >= split.holdout_start) & (dates <= split.holdout_end)]
        model = FailureModel(numeric=numeric, categorical=categorical, horizon_days=horizon_days, **params)
        try:
            _check_classes(train, split)
            model.fit(train, train[LABEL], train["failing_component"] if split is splits[-1] else None)
        except (TrainingDataError, TooFewDaysError) as exc:
            if split is splits[-1]:
                raise TrainingDataError(str(exc)) from None
            skipped.append(f"fold {split.describe()}: {exc}")
            continue
        baseline = BaselineModel(features=sensors).fit(train, train[LABEL])
        done.append(Fold(split, train, holdout, model, baseline))
    return FailureFit(done, {**done[-1].model.get_params(), "holdout_fraction": holdout_fraction,
                             "backtest_folds": len(done)}, skipped)


def _check_classes(train: pd.DataFrame, split: TimeSplit) -> None:
    positives = int(train[LABEL].sum())
    if positives == 0 or positives == len(train):
        raise TrainingDataError(
            f"the training rows ({split.train_start}..{split.train_end}, {len(train)} rows) have "
            f"{'no failures' if positives == 0 else 'only failures'}: nothing to learn a difference from")
    if positives < 3 * 3:
        raise TrainingDataError(f"the training rows hold {positives} failure rows; at least 9 are needed "
                                "(3 per calibration fold)")


# -- failure cost ------------------------------------------------------------------------------------------
COST_NUMERIC = ("downtime_cost_eur_h", "age_years")
COST_CATEGORICAL = ("component", "machine_type", "criticality")
COST_TARGETS = ("downtime_h", "repair_cost_eur", "failure_cost_eur")


def cost_history(failures: pd.DataFrame, dim_machine: pd.DataFrame, maintenance: pd.DataFrame | None = None,
                 labour_rate_eur_h: float = 75.0, repair_window_days: int = 7) -> pd.DataFrame:
    """One row per failure with what it cost: downtime_h, repair_cost_eur, failure_cost_eur, and the cost features.

    failure_cost_eur = downtime_minutes / 60 x the machine's downtime_cost_eur_h + repair_cost_eur.
    A failure without a repair cost takes it from its corrective work order (same machine and
    component, within ``repair_window_days`` after the failure): parts + labour hours x the
    playbook's labour rate. Failures whose cost stays unknown are left out.
    """
    F.require(failures, ["date", "plant_id", "machine_id", "failed_at", "component", "downtime_minutes",
                         "repair_cost_eur"], "silver.failures")
    F.require(dim_machine, ["machine_id", "machine_type", "criticality", "downtime_cost_eur_h", "install_date"],
              "silver.dim_machine")
    rows = failures[["date", "plant_id", "machine_id", "failed_at", "component", "downtime_minutes",
                     "repair_cost_eur"]].copy()
    rows["repair_cost_eur"] = pd.to_numeric(rows["repair_cost_eur"], errors="coerce").astype(float)
    if maintenance is not None and not maintenance.empty and rows["repair_cost_eur"].isna().any():
        rows["repair_cost_eur"] = rows["repair_cost_eur"].fillna(
            _repair_from_work_orders(rows, maintenance, labour_rate_eur_h, repair_window_days))
    machines = dim_machine[["machine_id", "machine_type", "criticality", "downtime_cost_eur_h", "install_date"]]
    rows = rows.merge(machines.drop_duplicates("machine_id"), on="machine_id", how="left")
    rows["age_years"] = ((pd.to_datetime(rows["date"]) - pd.to_datetime(rows["install_date"])).dt.days
                         / 365.25).astype(float)
    rows["downtime_h"] = pd.to_numeric(rows["downtime_minutes"], errors="coerce").astype(float) / 60.0
    rows["downtime_cost_eur_h"] = pd.to_numeric(rows["downtime_cost_eur_h"], errors="coerce").astype(float)
    rows["failure_cost_eur"] = rows["downtime_h"] * rows["downtime_cost_eur_h"] + rows["repair_cost_eur"]
    rows = rows[rows["failure_cost_eur"].notna()]
    return rows.sort_values(["date", "machine_id", "failed_at"], kind="stable").reset_index(drop=True)


def _repair_from_work_orders(failures: pd.DataFrame, maintenance: pd.DataFrame, rate: float,
                             window_days: int) -> pd.Series:
    orders = maintenance[maintenance["maintenance_type"] == "corrective"][
        ["machine_id", "component", "performed_at", "labour_hours", "parts_cost_eur"]].copy()
    if orders.empty:
        return pd.Series(np.nan, index=failures.index)
    orders["cost"] = (pd.to_numeric(orders["parts_cost_eur"], errors="coerce")
                      + pd.to_numeric(orders["labour_hours"], errors="coerce") * rate)
    left = failures[["machine_id", "component", "failed_at"]].reset_index()
    joined = left.merge(orders, on=["machine_id", "component"], how="inner")
    after = joined["performed_at"] - joined["failed_at"]
    joined = joined[(after >= pd.Timedelta(0)) & (after <= pd.Timedelta(days=window_days))]
    first = joined.sort_values("performed_at").drop_duplicates("index").set_index("index")["cost"]
    return first.reindex(failures.index)


@dataclass
class CostFit:
    model: CostModel
    train: pd.DataFrame
    holdout: pd.DataFrame
    holdout_start: dt.date
    params: dict[str, Any] = field(default_factory=dict)


def fit_cost_model(history: pd.DataFrame, *, holdout_fraction: float = 0.25, **params: Any) -> CostFit:
    """Fit a :class:`CostModel` on the failures before the last ``holdout_fraction`` of the failure dates."""
    if history.empty:
        raise TrainingDataError("no failure with a known cost (downtime_minutes, repair_cost_eur and the machine's "
                                "downtime_cost_eur_h) in the training window: the cost model needs some")
    F.require(history, [*COST_NUMERIC, *COST_CATEGORICAL, *COST_TARGETS, "date"], "the failure cost history")
    dates = _dates(history)
    first, last = min(dates), max(dates)
    span = (last - first).days + 1
    holdout_start = last - dt.timedelta(days=max(1, math.ceil(span * holdout_fraction)) - 1)
    train, holdout = history[dates < holdout_start], history[dates >= holdout_start]
    if len(train) < 5 or holdout.empty:
        raise TrainingDataError(f"{len(history)} failures with a known cost from {first} to {last}: too few to "
                                "train and hold out (at least 5 before the holdout and 1 in it)")
    from ml.estimators import CostModel

    model = CostModel(numeric=COST_NUMERIC, categorical=COST_CATEGORICAL, **params)
    model.fit(train, train["downtime_h"], train["repair_cost_eur"])
    return CostFit(model, train, holdout, holdout_start, {**model.get_params(), "holdout_fraction": holdout_fraction})
