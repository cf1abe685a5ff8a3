"""The two estimators the registry holds: the failure model and the failure-cost model.

Plain scikit-learn objects made only of scikit-learn parts, lists and strings, so that
MLflow saves them with skops (no pickle) and a fresh process loads them with an explicit
list of trusted types (:data:`SKOPS_TRUSTED_TYPES`). Each takes a DataFrame with named
columns, so the model's signature is the feature list.

- :class:`FailureModel`: calibrated P(unplanned failure within H days) from a
  HistGradientBoostingClassifier wrapped in CalibratedClassifierCV (folds of consecutive
  days, :class:`DayBlocks`), and the likely component from a second
  HistGradientBoostingClassifier trained on the rows that did fail (the component is only
  worth naming when a failure is likely).
- :class:`CostModel`: EUR cost of an unplanned failure, as the formula the plants book it
  with: predicted downtime hours x the machine's downtime cost per hour + predicted repair
  cost, each part a HistGradientBoostingRegressor, so the model extrapolates to a machine
  whose hourly cost it has not seen.
- :class:`BaselineModel`: the yardstick every failure model is compared with, a logistic
  regression on the daily sensor means and spreads; logged with every run, never registered.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import BaseCrossValidator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

NONE = "(none)"

#: Every type a saved model holds that skops does not trust by default; loading trusts exactly these.
SKOPS_TRUSTED_TYPES = [
    "functools.partial",  # HistGradientBoosting's categorical preprocessor: partial(check_array, ...)
    "ml.estimators.BaselineModel",
    "ml.estimators.CostModel",
    "ml.estimators.DayBlocks",
    "ml.estimators.FailureModel",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.loss.AbsoluteError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "numpy.dtype",
    "sklearn.model_selection._split.StratifiedKFold",  # the calibration folds of versions trained before DayBlocks
    "sklearn.utils.validation.check_array",
]


def _prep(numeric: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """Categoricals (missing -> "(none)", unseen -> NaN) first, then the numeric columns as they are."""
    categories = Pipeline([
        ("fill", SimpleImputer(strategy="constant", fill_value=NONE, missing_values=None)),
        ("code", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                encoded_missing_value=np.nan, dtype=np.float64)),
    ])
    return ColumnTransformer([("cat", categories, list(categorical)), ("num", "passthrough", list(numeric))],
                             verbose_feature_names_out=False)


def _frame(X: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """The model's columns in its order: numeric as float64, categoricals as object with None for missing."""
    missing = [c for c in (*numeric, *categorical) if c not in X.columns]
    if missing:
        from ml.features import MissingFeaturesError

        raise MissingFeaturesError("the model's input", missing)
    columns = {}
    for c in categorical:
        values = X[c].astype(object)
        columns[c] = values.where(values.notna(), None)
    for c in numeric:
        columns[c] = pd.to_numeric(X[c], errors="coerce").astype(np.float64)
    return pd.DataFrame(columns, index=X.index)


#: The column of day numbers the calibration folds are cut by (present while fitting only).
DAY = "_day"


class TooFewDaysError(ValueError):
    """The training rows span too few days (or failures) for calibration folds H days apart from their training."""


class DayBlocks(BaseCrossValidator):
    """Calibration folds of consecutive days, H days apart from their training rows.

    Shuffled folds put neighbouring days of one failure (its H positive days, the sensor
    drift before it) on both sides of a fold, so the calibration was fitted on failures the
    booster had already seen. Here the distinct days are cut into ``n_splits`` blocks; each
    block is calibrated by a booster trained on the other blocks minus the ``gap_days``
    either side of it. A block without a failure row is merged into its neighbour, and a
    block whose training rows hold no failure (or nothing else) is left out; fewer than two
    usable blocks raise :class:`TooFewDaysError`.
    """

    def __init__(self, n_splits: int = 3, gap_days: int = 7):
        self.n_splits = n_splits
        self.gap_days = gap_days

    def _folds(self, X: pd.DataFrame, y) -> list[tuple[np.ndarray, np.ndarray]]:
        day = X[DAY].to_numpy(dtype=float)
        positive = np.ones(len(day), dtype=bool) if y is None else np.asarray(y) == 1
        merged: list[np.ndarray] = []
        for block in (b for b in np.array_split(np.unique(day), self.n_splits) if len(b)):
            if merged and not positive[np.isin(day, merged[-1])].any():
                merged[-1] = np.concatenate([merged[-1], block])
            else:
                merged.append(block)
        if len(merged) > 1 and not positive[np.isin(day, merged[-1])].any():
            merged[-2:] = [np.concatenate(merged[-2:])]
        folds = []
        for block in merged:
            test = (day >= block[0]) & (day <= block[-1])
            train = (day < block[0] - self.gap_days) | (day > block[-1] + self.gap_days)
            if 0 < positive[train].sum() < train.sum():
                folds.append((np.flatnonzero(train), np.flatnonzero(test)))
        if len(folds) < 2:
            raise TooFewDaysError(
                f"{len(np.unique(day))} days with {int(positive.sum())} failure rows give {len(folds)} calibration "
                f"fold(s) whose training days, {self.gap_days} days apart from it, hold both classes (2 needed)")
        return folds

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return self.n_splits if X is None else len(self._folds(X, y))

    def split(self, X, y=None, groups=None):
        yield from self._folds(X, y)


def _informative(X: pd.DataFrame, numeric: Sequence[str], minimum: int = 10) -> list[str]:
    """Numeric columns with at least ``minimum`` values: an all-missing column carries nothing to learn
    (and scikit-learn 1.9's binning fails on one)."""
    counts = X[list(numeric)].notna().sum()
    return [c for c in numeric if counts[c] >= minimum]


class FailureModel(BaseEstimator):
    """Calibrated P(failure within the horizon) and the likely failing component."""

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = (), horizon_days: int = 7,
                 max_iter: int = 100, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 40, l2_regularization: float = 1.0, calibration: str = "sigmoid",
                 calibration_folds: int = 3, random_state: int = 0):
        self.numeric = numeric
        self.categorical = categorical
        self.horizon_days = horizon_days
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def _booster(self, numeric: list[str], min_samples_leaf: int) -> Pipeline:
        cats = list(self.categorical)
        return Pipeline([
            ("prep", _prep(numeric, cats)),
            ("hgb", HistGradientBoostingClassifier(
                max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=min_samples_leaf, l2_regularization=self.l2_regularization,
                categorical_features=[True] * len(cats) + [False] * len(numeric),
                early_stopping=False, random_state=self.random_state)),
        ])

    def fit(self, X: pd.DataFrame, y, component=None) -> FailureModel:
        """Fit on feature rows ``X`` (with their ``date``) and 0/1 labels ``y``; ``component`` names the failing
        one where y = 1. The calibration folds are blocks of consecutive dates (:class:`DayBlocks`)."""
        from ml.features import require

        require(X, ["date"], "the failure model's training rows")
        day = (pd.to_datetime(X["date"]) - pd.Timestamp("1970-01-01")).dt.days.to_numpy(dtype=float)
        X = _frame(X, self.numeric, self.categorical)
        y = np.asarray(y, dtype=np.int64)
        self.feature_names_in_ = np.asarray([*self.categorical, *self.numeric], dtype=object)
        folds = DayBlocks(n_splits=self.calibration_folds, gap_days=self.horizon_days)
        dated = X.assign(**{DAY: day})  # the booster's column transformer drops the day column: only folds read it
        # a column without values in one fold's training days (a 30-day feature in the first weeks) is left out
        used = [set(_informative(X.iloc[train], self.numeric)) for train, _ in folds.split(dated, y)]
        self.numeric_used_ = [c for c in self.numeric if all(c in u for u in used)]
        self.classifier_ = CalibratedClassifierCV(self._booster(self.numeric_used_, self.min_samples_leaf),
                                                  method=self.calibration, cv=folds).fit(dated, y)
        self.components_: list[str] = []
        self.component_model_ = None
        if component is not None:
            comp = pd.Series(np.asarray(component, dtype=object), index=X.index)
            positive = (y == 1) & comp.notna().to_numpy()
            names = sorted(set(comp[positive]))
            self.components_ = [str(n) for n in names]
            if len(names) > 1:
                leaf = max(5, min(20, int(positive.sum()) // 50))
                used = _informative(X[positive], self.numeric)
                self.component_model_ = self._booster(used, leaf).fit(X[positive], comp[positive].astype(str))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): P(no failure), P(failure within the horizon)."""
        return self.classifier_.predict_proba(_frame(X, self.numeric, self.categorical))

    def predict_component(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The likely component of each row (as if it failed) and its probability."""
        n = len(X)
        if self.component_model_ is None:
            name = self.components_[0] if self.components_ else None
            return np.full(n, name, dtype=object), np.full(n, 1.0 if name else np.nan)
        proba = self.component_model_.predict_proba(_frame(X, self.numeric, self.categorical))
        classes = np.asarray(self.component_model_.classes_, dtype=object)
        best = proba.argmax(axis=1)
        return classes[best], proba[np.arange(n), best]

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """What pyfunc serving returns: failure_probability, likely_component, component_probability."""
        component, component_probability = self.predict_component(X)
        return pd.DataFrame({
            "failure_probability": self.predict_proba(X)[:, 1],
            "likely_component": component,
            "component_probability": component_probability,
        }, index=X.index)


class CostModel(BaseEstimator):
    """EUR cost of an unplanned failure = predicted downtime h x the machine's EUR/h + predicted repair EUR."""

    RATE = "downtime_cost_eur_h"

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = (), max_iter: int = 200,
                 learning_rate: float = 0.05, min_samples_leaf: int = 5, random_state: int = 0):
        self.numeric = numeric
        self.categorical = categorical
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _regressor(self) -> Pipeline:
        cats, numeric = list(self.categorical), list(self.numeric)
        return Pipeline([
            ("prep", _prep(numeric, cats)),
            ("hgb", HistGradientBoostingRegressor(
                loss="absolute_error", max_iter=self.max_iter, learning_rate=self.learning_rate,
                min_samples_leaf=self.min_samples_leaf,
                categorical_features=[True] * len(cats) + [False] * len(numeric),
                early_stopping=False, random_state=self.random_state)),
        ])

    def fit(self, X: pd.DataFrame, downtime_h, repair_eur) -> CostModel:
        X = _frame(X, self.numeric, self.categorical)
        self.feature_names_in_ = np.asarray([*self.categorical, *self.numeric], dtype=object)
        self.downtime_model_ = self._regressor().fit(X, np.asarray(downtime_h, dtype=float))
        self.repair_model_ = self._regressor().fit(X, np.asarray(repair_eur, dtype=float))
        return self

    def predict_parts(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Predicted downtime hours and repair EUR (both at least 0)."""
        frame = _frame(X, self.numeric, self.categorical)
        return (np.maximum(self.downtime_model_.predict(frame), 0.0),
                np.maximum(self.repair_model_.predict(frame), 0.0))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted EUR cost of a failure per row (NaN where the machine's hourly cost is unknown)."""
        hours, repair = self.predict_parts(X)
        rate = pd.to_numeric(X[self.RATE], errors="coerce").to_numpy(dtype=float)
        return hours * rate + repair


class BaselineModel(BaseEstimator):
    """P(failure within H days) from a logistic regression on the daily sensor means and spreads.

    What a failure model must beat to be worth its features: no history, no drift, no
    maintenance records, only how each sensor read that day (``<sensor>_mean``,
    ``<sensor>_std``: :func:`ml.features.sensor_means_and_spreads`), median-imputed and
    standardised. With no sensor column carrying values it predicts the training rows'
    failure rate.
    """

    def __init__(self, features: Sequence[str] = (), C: float = 1.0, max_iter: int = 1000):
        self.features = features
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: pd.DataFrame, y) -> BaselineModel:
        X = _frame(X, self.features, ())
        y = np.asarray(y, dtype=np.int64)
        self.features_used_ = _informative(X, self.features)
        self.prior_ = float(y.mean())
        self.pipeline_ = None
        if self.features_used_ and 0 < y.sum() < len(y):
            self.pipeline_ = Pipeline([
                ("impute", SimpleImputer(strategy="median")),
                ("scale", StandardScaler()),
                ("logit", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]).fit(X[self.features_used_], y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """(n, 2): P(no failure), P(failure within the horizon)."""
        if self.pipeline_ is None:
            return np.tile([1 - self.prior_, self.prior_], (len(X), 1))
        return self.pipeline_.predict_proba(_frame(X, self.features_used_, ()))

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:
        """What pyfunc serving returns: failure_probability."""
        return pd.DataFrame({"failure_probability": self.predict_proba(X)[:, 1]}, index=X.index)

    def coefficients(self) -> pd.Series:
        """The regression's weight of each standardised feature, largest magnitude first."""
        if self.pipeline_ is None:
            return pd.Series(dtype=float)
        weights = pd.Series(self.pipeline_.named_steps["logit"].coef_[0], index=self.features_used_)
        return weights.reindex(weights.abs().sort_values(ascending=False).index)
