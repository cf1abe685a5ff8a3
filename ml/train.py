"""Training end to end from the lake, without Dagster: the code the assets, the tests and the quality floors share.

    result = train_all(Lake(), end_date=dt.date(2025, 10, 29))
    result.failure.metrics["pr_auc"], result.failure.decision.promoted, result.cost.version

Reads gold.machine_daily, gold.machine_component_daily, silver.failures,
silver.dim_machine and silver.maintenance through ``Lake`` (each at one pinned Delta
version, logged with the run), writes gold.failure_training_set, trains, evaluates, logs
to MLflow, registers and passes each model through the promotion gate.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import average_precision_score, mean_absolute_error

from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings
from ml import evaluation as E
from ml import features as F
from ml import registry
from ml.estimators import compute_threads
from ml.labels import LABEL, label_frame
from ml.playbook import Playbook
from ml.tables import FAILURE_TRAINING_SET
from ml.training import TrainingDataError, cost_history, fit_cost_model, fit_failure_model

log = logging.getLogger(__name__)

#: Days of history a training run looks at by default (bounded memory, recent behaviour).
WINDOW_DAYS = 365


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    horizon_days: int
    start_date: dt.date
    end_date: dt.date
    table_versions: dict[str, int | None]


@dataclass
class ModelResult:
    name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    decision: registry.Decision
    holdout: str
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainingResult:
    failure: ModelResult
    cost: ModelResult | None
    cost_skipped: str | None
    training_set_rows: int
    training_set_version: int | None
    seconds: float

    @property
    def decisions(self) -> list[registry.Decision]:
        return [r.decision for r in (self.failure, self.cost) if r is not None]


def _window(end_date: dt.date, start_date: dt.date | None, window_days: int) -> dt.date:
    return start_date or end_date - dt.timedelta(days=window_days - 1)


def _pin(lake: Lake, names: list[str]) -> dict[str, int | None]:
    return {name: lake.version(name) for name in names}


def build_training_set(lake: Lake, end_date: dt.date, *, horizon_days: int | None = None,
                       start_date: dt.date | None = None, window_days: int = WINDOW_DAYS) -> TrainingSet:
    """Features and labels of every machine-day in [start, end], from the lake (nothing is written)."""
    horizon_days = horizon_days or get_settings().ml.horizon_days
    start = _window(end_date, start_date, window_days)
    versions = _pin(lake, ["gold.machine_daily", "gold.machine_component_daily", "silver.failures"])
    if versions["gold.machine_daily"] is None:
        raise TrainingDataError("gold.machine_daily does not exist yet: run the nightly pipeline first")
    daily = lake.read("gold.machine_daily", version=versions["gold.machine_daily"], columns=list(F.DAILY_COLUMNS),
                      filters=[("date", ">=", start - dt.timedelta(days=F.HISTORY_DAYS)),
                               ("date", "<=", end_date)]).to_pandas()
    component = pd.DataFrame(columns=list(F.COMPONENT_COLUMNS))
    if versions["gold.machine_component_daily"] is not None:
        component = lake.read("gold.machine_component_daily", version=versions["gold.machine_component_daily"],
                              columns=list(F.COMPONENT_COLUMNS),
                              filters=[("date", ">=", start), ("date", "<=", end_date)]).to_pandas()
    failures = pd.DataFrame(columns=["date", "machine_id", "failed_at", "component"])
    if versions["silver.failures"] is not None:
        failures = lake.read("silver.failures", version=versions["silver.failures"],
                             columns=["date", "machine_id", "failed_at", "component"],
                             filters=[("date", ">", start), ("date", "<=", end_date)]).to_pandas()
    frame = F.feature_frame(daily, component, start=start)
    frame = label_frame(frame, failures, horizon_days, known_until=end_date)
    log.info("training set %s..%s (H=%d): %d rows, %d labelled, %d positive", start, end_date, horizon_days,
             len(frame), int(frame["label_complete"].sum()), int(frame[LABEL].sum()))
    return TrainingSet(frame, horizon_days, start, end_date, versions)


def training_set_table(frame: pd.DataFrame) -> pa.Table:
    out = frame[FAILURE_TRAINING_SET.column_names].copy()
    out["days_to_failure"] = out["days_to_failure"].astype("Int64")
    out = out.astype(object).where(out.notna(), None)
    return pa.Table.from_pandas(out, schema=FAILURE_TRAINING_SET.schema, preserve_index=False)


def write_training_set(lake: Lake, training_set: TrainingSet, *, run_id: str | None = None) -> int:
    """Replace gold.failure_training_set's slices of the window's dates with the set; returns the version.

    The slices are the dates of the set and those the table already holds in the window
    (so rows of a machine-day that no longer exists do not linger).
    """
    window = [("date", ">=", training_set.start_date), ("date", "<=", training_set.end_date)]
    stored = lake.read(FAILURE_TRAINING_SET, columns=["date"], filters=window, missing_ok=True).column("date")
    dates = set(stored.unique().to_pylist()) | set(training_set.frame["date"])
    if not dates:
        raise TrainingDataError(f"no machine-days from {training_set.start_date} to {training_set.end_date}")
    return lake.replace_slices(FAILURE_TRAINING_SET, training_set_table(training_set.frame),
                               {d: None for d in dates}, run_id=run_id)


def read_training_set(lake: Lake, end_date: dt.date, *, horizon_days: int | None = None,
                      start_date: dt.date | None = None, window_days: int = WINDOW_DAYS) -> TrainingSet:
    """The stored gold.failure_training_set rows of the window (as written by the failure_training_set asset)."""
    horizon_days = horizon_days or get_settings().ml.horizon_days
    start = _window(end_date, start_date, window_days)
    version = lake.version(FAILURE_TRAINING_SET)
    if version is None:
        raise TrainingDataError("gold.failure_training_set does not exist yet: build it first")
    frame = lake.read(FAILURE_TRAINING_SET, version=version,
                      filters=[("date", ">=", start), ("date", "<=", end_date)]).to_pandas()
    other = sorted(set(frame["horizon_days"]) - {horizon_days})
    if other:
        raise TrainingDataError(f"gold.failure_training_set holds rows labelled for a horizon of {other} days; "
                                f"rebuild it for H={horizon_days}")
    frame["days_to_failure"] = frame["days_to_failure"].astype(float)
    return TrainingSet(frame, horizon_days, start, end_date, {FAILURE_TRAINING_SET.name: version})


@compute_threads()
def train_failure(lake: Lake, training_set: TrainingSet, *, budget: int | None = None,
                  params: dict[str, Any] | None = None, dagster_run_id: str | None = None,
                  partition: str | None = None, settings: Settings | None = None) -> ModelResult:
    """Fit, evaluate, log, register and gate plantlake-failure on ``training_set``."""
    t0 = time.monotonic()
    budget = get_settings().ml.alert_budget if budget is None else budget
    params = dict(params or {})
    fit = fit_failure_model(training_set.frame, training_set.horizon_days, **params)
    model, holdout, h = fit.model, fit.holdout, training_set.horizon_days
    probability = model.predict_proba(holdout)[:, 1]
    component, _ = model.predict_component(holdout)
    metrics, events = E.failure_metrics(holdout, probability, budget, h, component)
    metrics["train_rows"] = float(len(fit.train))
    metrics["train_positive_rows"] = float(fit.train[LABEL].sum())
    importance = E.feature_importance(model, holdout)
    y = holdout[LABEL].to_numpy().astype(int)
    with tempfile.TemporaryDirectory(prefix="plantlake-failure-") as tmp:
        folder = Path(tmp)
        artifacts = [
            E.plot_pr_curve(y, probability, folder / "pr_curve.png"),
            E.plot_calibration(y, probability, folder / "calibration.png"),
            E.plot_importance(importance, folder / "feature_importance.png"),
            E.plot_lead_times(events, h, folder / "lead_time_histogram.png"),
        ]
        importance.rename("pr_auc_drop").to_csv(folder / "feature_importance.csv", index_label="feature")
        events.to_csv(folder / "holdout_failures.csv", index=False)
        (folder / "features.json").write_text(json.dumps({"numeric": list(model.numeric),
                                                          "categorical": list(model.categorical)}, indent=1))
        artifacts += [folder / "feature_importance.csv", folder / "holdout_failures.csv", folder / "features.json"]
        logged = registry.log_run(
            experiment=registry.FAILURE_MODEL, model_name=registry.FAILURE_MODEL, model=model,
            input_example=holdout[[*model.categorical, *model.numeric]].head(5),
            params={**fit.params, "horizon_days": h, "alert_budget": budget, "train_start": fit.split.train_start,
                    "train_end": fit.split.train_end, "holdout_start": fit.split.holdout_start,
                    "holdout_end": fit.split.holdout_end, "features": len(model.numeric) + len(model.categorical)},
            metrics=metrics, artifacts=artifacts, table_versions=training_set.table_versions,
            run_name=f"failure H={h} {training_set.end_date}", dagster_run_id=dagster_run_id, partition=partition,
            tags={"plantlake.horizon_days": str(h)}, settings=settings)
    holdout_desc = f"{fit.split.describe()}; {len(holdout)} rows, {int(y.sum())} positive"

    def score_champion(champion) -> float:
        return float(average_precision_score(y, champion.predict_proba(holdout)[:, 1]))

    decision = registry.promote(model_name=registry.FAILURE_MODEL, logged=logged, metric="pr_auc",
                                challenger_score=metrics["pr_auc"], score_champion=score_champion,
                                higher_is_better=True, holdout=holdout_desc, lake=lake,
                                dagster_run_id=dagster_run_id, settings=settings)
    return ModelResult(registry.FAILURE_MODEL, logged.version, logged.run_id, metrics, decision, holdout_desc,
                       time.monotonic() - t0, {"importance": importance, "events": events})


@compute_threads()
def train_cost(lake: Lake, end_date: dt.date, *, start_date: dt.date | None = None, window_days: int = WINDOW_DAYS,
               params: dict[str, Any] | None = None, dagster_run_id: str | None = None, partition: str | None = None,
               settings: Settings | None = None, playbook: Playbook | None = None) -> ModelResult:
    """Fit, evaluate, log, register and gate plantlake-failure-cost on the window's failures."""
    t0 = time.monotonic()
    start = _window(end_date, start_date, window_days)
    versions = _pin(lake, ["silver.failures", "silver.dim_machine", "silver.maintenance"])
    if versions["silver.failures"] is None or versions["silver.dim_machine"] is None:
        raise TrainingDataError("silver.failures or silver.dim_machine does not exist yet: run the pipeline first")
    window = [("date", ">=", start), ("date", "<=", end_date)]
    failures = lake.read("silver.failures", version=versions["silver.failures"], filters=window).to_pandas()
    machines = lake.read("silver.dim_machine", version=versions["silver.dim_machine"]).to_pandas()
    maintenance = None
    if versions["silver.maintenance"] is not None:
        maintenance = lake.read("silver.maintenance", version=versions["silver.maintenance"],
                                filters=[("date", ">=", start), ("date", "<=", end_date + dt.timedelta(days=7)),
                                         ("maintenance_type", "=", "corrective")]).to_pandas()
    playbook = playbook or Playbook.load(get_settings().ml.playbook)
    history = cost_history(failures, machines, maintenance, playbook.labour_rate_eur_h)
    fit = fit_cost_model(history, **dict(params or {}))
    actual = fit.holdout["failure_cost_eur"].to_numpy()
    predicted = fit.model.predict(fit.holdout)
    medians = fit.train.groupby("component")["failure_cost_eur"].median()
    baseline = fit.holdout["component"].map(medians).fillna(fit.train["failure_cost_eur"].median()).to_numpy()
    metrics = E.cost_metrics(actual, predicted, baseline)
    metrics["train_failures"] = float(len(fit.train))
    holdout_desc = (f"failures {fit.holdout_start}..{max(pd.to_datetime(fit.holdout['date']).dt.date)}; "
                    f"{len(fit.holdout)} failures")
    with tempfile.TemporaryDirectory(prefix="plantlake-cost-") as tmp:
        plot = E.plot_costs(actual, predicted, Path(tmp) / "predicted_vs_actual.png")
        logged = registry.log_run(
            experiment=registry.COST_MODEL, model_name=registry.COST_MODEL, model=fit.model,
            input_example=fit.holdout[[*fit.model.categorical, *fit.model.numeric]].head(5),
            params={**fit.params, "window_start": start, "window_end": end_date, "holdout_start": fit.holdout_start},
            metrics=metrics, artifacts=[plot], table_versions=versions, run_name=f"failure cost {end_date}",
            dagster_run_id=dagster_run_id, partition=partition, settings=settings)

    def score_champion(champion) -> float:
        return float(mean_absolute_error(actual, champion.predict(fit.holdout)))

    decision = registry.promote(model_name=registry.COST_MODEL, logged=logged, metric="mae_eur",
                                challenger_score=metrics["mae_eur"], score_champion=score_champion,
                                higher_is_better=False, holdout=holdout_desc, lake=lake,
                                dagster_run_id=dagster_run_id, settings=settings)
    return ModelResult(registry.COST_MODEL, logged.version, logged.run_id, metrics, decision, holdout_desc,
                       time.monotonic() - t0)


def train_all(lake: Lake, end_date: dt.date, *, horizon_days: int | None = None, start_date: dt.date | None = None,
              window_days: int = WINDOW_DAYS, budget: int | None = None,
              failure_params: dict[str, Any] | None = None, cost_params: dict[str, Any] | None = None,
              dagster_run_id: str | None = None, partition: str | None = None,
              settings: Settings | None = None) -> TrainingResult:
    """Build and store the training set, then train and gate both models. A window without any costed
    failure (e.g. an export without costs) trains the failure model only; ``cost_skipped`` says why."""
    t0 = time.monotonic()
    training_set = build_training_set(lake, end_date, horizon_days=horizon_days, start_date=start_date,
                                      window_days=window_days)
    version = write_training_set(lake, training_set, run_id=dagster_run_id)
    training_set.table_versions = {**training_set.table_versions, FAILURE_TRAINING_SET.name: version}
    failure = train_failure(lake, training_set, budget=budget, params=failure_params,
                            dagster_run_id=dagster_run_id, partition=partition, settings=settings)
    cost, skipped = None, None
    try:
        cost = train_cost(lake, end_date, start_date=training_set.start_date, params=cost_params,
                          dagster_run_id=dagster_run_id, partition=partition, settings=settings)
    except TrainingDataError as exc:
        skipped = str(exc)
        log.warning("failure cost model not trained: %s", exc)
    return TrainingResult(failure, cost, skipped, len(training_set.frame), version, time.monotonic() - t0)


def summary(result: TrainingResult) -> dict[str, Any]:
    """A JSON-able digest (for logs, Dagster metadata, the demo)."""
    out: dict[str, Any] = {"seconds": round(result.seconds, 1), "training_set_rows": result.training_set_rows}
    for model in (result.failure, result.cost):
        if model is not None:
            out[model.name] = {"version": model.version, "promoted": model.decision.promoted,
                               "reason": model.decision.reason,
                               **{k: (None if not np.isfinite(v) else round(v, 4)) for k, v in model.metrics.items()}}
    if result.cost_skipped:
        out["cost_skipped"] = result.cost_skipped
    return out
