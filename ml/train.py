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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings
from ml import features as F
from ml import registry
from ml.gate import Evidence
from ml.labels import LABEL, label_frame
from ml.outcomes import alert_actions
from ml.playbook import Playbook
from ml.scoring import machine_days
from ml.tables import FAILURE_TRAINING_SET
from ml.threads import compute_threads
from ml.training import FailureFit, TrainingDataError, cost_history, fit_cost_model, fit_failure_model

log = logging.getLogger(__name__)

#: Days of history a training run looks at by default (bounded memory, recent behaviour).
WINDOW_DAYS = 365
#: What the failure model's training set is built from, and what the cost model learns from: read at the
#: versions pinned when a training run starts (a run that only prepares training builds these: runs.upstream_of).
FAILURE_INPUTS = ("gold.machine_daily", "gold.machine_sensor_daily", "gold.machine_component_daily",
                  "silver.failures", "gold.alert_outcomes")
COST_INPUTS = ("silver.failures", "silver.dim_machine", "silver.maintenance")
TRAINING_INPUTS = tuple(dict.fromkeys(FAILURE_INPUTS + COST_INPUTS))


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
    experiment_id: str = ""

    @property
    def headline(self) -> dict[str, float]:
        """The figures the MLflow run table shows (finite ones), with the gate's ``promoted``."""
        names = (FAILURE_HEADLINE, FAILURE_HEADLINE_POINTS) if self.name == registry.FAILURE_MODEL else (
            COST_HEADLINE, ("failures",))
        return {**registry.finite(_headline(self.metrics, *names)), "promoted": float(self.decision.promoted)}


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


def _pin(lake: Lake, names: Sequence[str]) -> dict[str, int | None]:
    return {name: lake.version(name) for name in names}


def build_training_set(lake: Lake, end_date: dt.date, *, horizon_days: int | None = None,
                       start_date: dt.date | None = None, window_days: int = WINDOW_DAYS) -> TrainingSet:
    """Features and labels of every machine-day in [start, end], from the lake (nothing is written)."""
    horizon_days = horizon_days or get_settings().ml.horizon_days
    start = _window(end_date, start_date, window_days)
    versions = _pin(lake, FAILURE_INPUTS)
    if versions["gold.machine_daily"] is None:
        raise TrainingDataError("gold.machine_daily does not exist yet: run the nightly pipeline first")
    daily = machine_days(lake, versions, [("date", ">=", start - dt.timedelta(days=F.HISTORY_DAYS)),
                                          ("date", "<=", end_date)])
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
    actions = alert_actions(lake, start, end_date, version=versions["gold.alert_outcomes"])
    frame = label_frame(frame, failures, horizon_days, known_until=end_date, actions=actions)
    log.info("training set %s..%s (H=%d): %d rows, %d labelled, %d positive, %d left out after alert-triggered "
             "maintenance", start, end_date, horizon_days, len(frame), int(frame["label_complete"].sum()),
             int(frame[LABEL].sum()), int(frame["alert_action_in_horizon"].sum()))
    return TrainingSet(frame, horizon_days, start, end_date, versions)


def training_set_table(frame: pd.DataFrame) -> pa.Table:
    out = frame.copy()
    out["days_to_failure"] = out["days_to_failure"].astype("Int64")
    return F.to_arrow(out, FAILURE_TRAINING_SET.schema)  # the sensors' and components' features in one column


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
    frame = F.from_arrow(lake.read(FAILURE_TRAINING_SET, version=version,
                                   filters=[("date", ">=", start), ("date", "<=", end_date)]))
    other = sorted(set(frame["horizon_days"]) - {horizon_days})
    if other:
        raise TrainingDataError(f"gold.failure_training_set holds rows labelled for a horizon of {other} days; "
                                f"rebuild it for H={horizon_days}")
    frame["days_to_failure"] = frame["days_to_failure"].astype(float)
    return TrainingSet(frame, horizon_days, start, end_date, {FAILURE_TRAINING_SET.name: version})


#: The failure model's figures logged as MLflow metrics (the run table's columns); the rest go to
#: ``evaluation/metrics.json``. The gate adds ``promoted``.
FAILURE_HEADLINE = ("pr_auc", "baseline_pr_auc", "gain_vs_baseline", "base_rate", "precision_at_budget",
                    "lead_time_days")
FAILURE_HEADLINE_POINTS = ("precision_at_budget_ceiling", "catch_rate", "catch_rate_ceiling", "failures")
COST_HEADLINE = ("mae_eur", "baseline_mae_eur", "gain_vs_baseline")


def _headline(metrics: Mapping[str, float], with_intervals: Sequence[str], points: Sequence[str] = ()) -> dict:
    names = [f"{name}{end}" for name in with_intervals for end in ("", "_low", "_high")] + list(points)
    return {name: metrics[name] for name in names if name in metrics}


def _inputs(lake: Lake, versions: Mapping[str, int | None], training: str | None = None) -> list[registry.TableInput]:
    """The tables a run read, as its MLflow dataset inputs (``training``: the one it learnt from directly)."""
    return [registry.TableInput(table, lake.uri(table), version,
                                "training" if training in (None, table) else "source")
            for table, version in versions.items() if version is not None]


def _backtest(fit: FailureFit, budget: int, horizon_days: int) -> tuple[list, list, Any]:
    """Every fold's model and baseline scores on its test window, their assessment, and the same pooled."""
    from ml import evaluation as E

    scores = [{"model": fold.model.predict_proba(fold.holdout)[:, 1],
               "baseline": fold.baseline.predict_proba(fold.holdout)[:, 1]} for fold in fit.folds]
    per_fold = [E.assess_failures(fold.holdout, s, budget, horizon_days) for fold, s in zip(fit.folds, scores,
                                                                                           strict=True)]
    if len(scores) == 1:
        return scores, per_fold, per_fold[0]
    pooled = E.assess_failures(pd.concat([fold.holdout for fold in fit.folds], ignore_index=True),
                               {k: np.concatenate([s[k] for s in scores]) for k in ("model", "baseline")},
                               budget, horizon_days)
    return scores, per_fold, pooled


def _backtest_table(fit: FailureFit, per_fold: list, pooled) -> pd.DataFrame:
    rows = []
    for name, window, assessment in [*((f"fold {i + 1}", f"{f.split.holdout_start}..{f.split.holdout_end}", a)
                                       for i, (f, a) in enumerate(zip(fit.folds, per_fold, strict=True))),
                                     ("pooled", f"{fit.folds[0].split.holdout_start}..{fit.split.holdout_end}",
                                      pooled)]:
        row = {"fold": name, "test_window": window}
        for scorer in ("model", "baseline"):
            row.update(assessment.flat(scorer, f"{scorer}_", shared=scorer == "model"))
        rows.append(row)
    return pd.DataFrame(rows)


@compute_threads()
def train_failure(lake: Lake, training_set: TrainingSet, *, budget: int | None = None,
                  params: dict[str, Any] | None = None, folds: int | None = None, dagster_run_id: str | None = None,
                  partition: str | None = None, settings: Settings | None = None) -> ModelResult:
    """Backtest plantlake-failure and its baseline on ``training_set``, log, register and gate the last fold's model."""
    from ml import evaluation as E  # scikit-learn and matplotlib: imported when a model is trained

    t0 = time.monotonic()
    config = (settings or get_settings()).ml
    budget = config.alert_budget if budget is None else budget
    h = training_set.horizon_days
    fit = fit_failure_model(training_set.frame, h, folds=config.backtest_folds if folds is None else folds,
                            **dict(params or {}))
    model, holdout = fit.model, fit.holdout
    scores, per_fold, pooled = _backtest(fit, budget, h)
    assessment = per_fold[-1]  # the holdout the gate judges
    probability, baseline = scores[-1]["model"], scores[-1]["baseline"]
    metrics = {**assessment.flat("model"), **assessment.flat("baseline", "baseline_", shared=False),
               **{f"backtest_{k}": v for k, v in pooled.flat("model").items()},
               **{f"backtest_{k}": v for k, v in pooled.flat("baseline", "baseline_", shared=False).items()},
               "backtest_folds": float(len(fit.folds)), "train_rows": float(len(fit.train)),
               "train_positive_rows": float(fit.train[LABEL].sum())}
    y = holdout[LABEL].to_numpy().astype(int)
    if y.sum():
        component, _ = model.predict_component(holdout)
        metrics["component_accuracy"] = float(np.mean(component[y == 1] == holdout["failing_component"].to_numpy()[
            y == 1]))
    events = assessment.events["model"]
    importance = E.feature_importance(model, holdout)
    shared = assessment.shared
    holdout_desc = (f"{fit.split.describe()}; {len(holdout)} machine-days of {int(shared['machines'].value)} "
                    f"machines, {int(shared['failures'].value)} failures ({int(y.sum())} positive rows)")
    run_params = {**fit.params, "horizon_days": h, "alert_budget": budget, "window_days":
                  (training_set.end_date - training_set.start_date).days + 1,
                  "promotion_margin": config.promotion_margin, "train_start": fit.split.train_start,
                  "train_end": fit.split.train_end, "holdout_start": fit.split.holdout_start,
                  "holdout_end": fit.split.holdout_end, "features": len(model.numeric) + len(model.categorical),
                  "baseline_features": len(fit.baseline.features_used_)}
    with tempfile.TemporaryDirectory(prefix="plantlake-failure-") as tmp:
        folder = Path(tmp)
        artifacts = [
            E.plot_pr_curve(y, probability, folder / "pr_curve.png", baseline),
            E.plot_calibration(y, probability, folder / "calibration.png"),
            E.plot_importance(importance, folder / "feature_importance.png"),
            E.plot_lead_times(events, h, folder / "lead_time_histogram.png"),
        ]
        importance.rename("pr_auc_drop").to_csv(folder / "feature_importance.csv", index_label="feature")
        fit.baseline.coefficients().rename("weight").to_csv(folder / "baseline_coefficients.csv",
                                                            index_label="feature")
        events.to_csv(folder / "holdout_failures.csv", index=False)
        _backtest_table(fit, per_fold, pooled).to_csv(folder / "backtest.csv", index=False)
        (folder / "metrics.json").write_text(json.dumps(registry.finite(metrics), indent=1, sort_keys=True))
        (folder / "features.json").write_text(json.dumps({"numeric": list(model.numeric),
                                                          "categorical": list(model.categorical)}, indent=1))
        artifacts += [folder / name for name in ("feature_importance.csv", "baseline_coefficients.csv",
                                                 "holdout_failures.csv", "backtest.csv", "metrics.json",
                                                 "features.json")]
        logged = registry.log_run(
            experiment=registry.FAILURE_MODEL, model_name=registry.FAILURE_MODEL, model=model,
            baseline=(fit.baseline, holdout[list(fit.baseline.features_used_)].head(5)
                      if fit.baseline.features_used_ else None),
            input_example=holdout[[*model.categorical, *model.numeric]].head(5), params=run_params,
            metrics=_headline(metrics, FAILURE_HEADLINE, FAILURE_HEADLINE_POINTS), artifacts=artifacts,
            inputs=_inputs(lake, training_set.table_versions, FAILURE_TRAINING_SET.name),
            run_name=f"failure H={h} {training_set.end_date}", dagster_run_id=dagster_run_id, partition=partition,
            tags={"plantlake.horizon_days": str(h)}, settings=settings)
    judged: dict[str, Any] = {}

    def evidence_for(champion) -> Evidence:
        scores = {"model": probability, "baseline": baseline}
        if champion is not None:
            scores["champion"] = champion.predict_proba(holdout)[:, 1]
        judged["assessment"] = E.assess_failures(holdout, scores, budget, h)
        return judged["assessment"].evidence()

    decision = registry.promote(model_name=registry.FAILURE_MODEL, logged=logged, evidence_for=evidence_for,
                                holdout=holdout_desc, purpose=registry.DESCRIPTIONS[registry.FAILURE_MODEL],
                                margin=config.promotion_margin, lake=lake, dagster_run_id=dagster_run_id,
                                settings=settings)
    with tempfile.TemporaryDirectory(prefix="plantlake-gate-") as tmp:
        plot = _comparison_plot(decision, judged["assessment"], fit, per_fold, pooled, Path(tmp) / "comparison.png")
        registry.annotate_run(logged.run_id, note=failure_note(decision, judged["assessment"], fit, per_fold, pooled),
                              artifacts=[plot], settings=settings)
    return ModelResult(registry.FAILURE_MODEL, logged.version, logged.run_id, metrics, decision, holdout_desc,
                       time.monotonic() - t0, {"importance": importance, "events": events,
                                               "assessment": judged["assessment"], "backtest": per_fold,
                                               "pooled": pooled}, logged.experiment_id)


def _comparison_plot(decision: registry.Decision, holdout, fit: FailureFit, per_fold: list, pooled,
                     path: Path) -> Path:
    """PR-AUC with intervals: challenger, champion and baseline on the holdout, then every fold and the pool."""
    from ml import evaluation as E

    rows = [(f"challenger v{decision.challenger_version}", "model", holdout.metrics["model"]["pr_auc"])]
    if "champion" in holdout.metrics:
        rows.append((f"champion v{decision.champion_version}", "champion", holdout.metrics["champion"]["pr_auc"]))
    rows.append(("baseline", "baseline", holdout.metrics["baseline"]["pr_auc"]))
    windows = [(f"fold {i + 1} ({fold.split.holdout_start:%m-%d}..{fold.split.holdout_end:%m-%d})", assessment)
               for i, (fold, assessment) in enumerate(zip(fit.folds[:-1], per_fold[:-1], strict=True))]
    if len(fit.folds) > 1:
        windows.append((f"all {len(fit.folds)} folds", pooled))
    for window, assessment in windows:
        rows += [(f"{window}: {kind}", kind, assessment.metrics[kind]["pr_auc"]) for kind in ("model", "baseline")]
    verdict = "promoted to champion" if decision.promoted else "stays challenger"
    return E.plot_intervals(rows, path, xlabel="PR-AUC (95 % interval, bootstrap over machines)",
                            title=f"v{decision.challenger_version} {verdict}: holdout, then the backtest's folds",
                            reference=("base rate", holdout.shared["base_rate"].value))


def failure_note(decision: registry.Decision, holdout, fit: FailureFit, per_fold: list, pooled) -> str:
    """The run's description in MLflow (Markdown): the holdout's scores with intervals, the gate, the backtest."""
    shared = holdout.shared
    scorers = [("model", f"challenger v{decision.challenger_version}"), ("baseline", "baseline")]
    if "champion" in holdout.metrics:
        scorers.append(("champion", f"champion v{decision.champion_version}"))
    rows = [("PR-AUC", "pr_auc", None), ("precision at the budget (machine-days)", "precision_at_budget",
                                         "precision_at_budget_ceiling"),
            ("recall at the budget (machine-days)", "recall_at_budget", "recall_at_budget_ceiling"),
            ("precision per failure (alert episodes)", "precision_per_failure", None),
            ("catch rate (failures)", "catch_rate", "catch_rate_ceiling"),
            ("lead time of caught failures (days)", "lead_time_days", None)]
    failures = int(shared["failures"].value)
    verdict = "promoted to champion" if decision.promoted else "stays challenger"
    lines = [f"### v{decision.challenger_version}: {verdict}",
             "", f"**Holdout**: {decision.holdout}; base rate {shared['base_rate']}. 95 % intervals from a bootstrap "
             "over machines." + (f" **Only {failures} failures: the intervals, not the scores, say what the holdout "
                                 "shows.**" if failures < 20 else ""), "",
             "| on the holdout | " + " | ".join(label for _, label in scorers) + " | best possible with the budget |",
             "|---" * (len(scorers) + 2) + "|"]
    for label, key, ceiling in rows:
        best = f"{shared[ceiling].value:.3f}" if ceiling else ""
        lines.append(f"| {label} | " + " | ".join(str(holdout.metrics[s][key]) for s, _ in scorers) + f" | {best} |")
    folds = [(f"{i + 1}", f"{f.split.holdout_start}..{f.split.holdout_end}", a)
             for i, (f, a) in enumerate(zip(fit.folds, per_fold, strict=True))]
    lines += ["", f"**Promotion gate**: {decision.reason}.", "",
              f"**Backtest** ({len(folds)} rolling-origin fold{'s' if len(folds) > 1 else ''}; each trains on the "
              "days before its test window, minus the H-day gap):", "",
              "| fold | test window | failures | model PR-AUC | baseline PR-AUC | model - baseline |", "|---" * 6 + "|"]
    for name, window, a in folds + ([("pooled", "all", pooled)] if len(folds) > 1 else []):
        lines.append(f"| {name} | {window} | {int(a.shared['failures'].value)} | {a.metrics['model']['pr_auc']} | "
                     f"{a.metrics['baseline']['pr_auc']} | {a.versus['baseline'].text(signed=True)} |")
    if fit.skipped:
        lines += ["", "Folds left out: " + "; ".join(fit.skipped)]
    lines += ["", "All figures: *Artifacts > evaluation* (`metrics.json`, `backtest.csv`, `comparison.png`)."]
    return "\n".join(lines)


@compute_threads()
def train_cost(lake: Lake, end_date: dt.date, *, start_date: dt.date | None = None, window_days: int = WINDOW_DAYS,
               params: dict[str, Any] | None = None, dagster_run_id: str | None = None, partition: str | None = None,
               settings: Settings | None = None, playbook: Playbook | None = None) -> ModelResult:
    """Fit, evaluate against the per-component median, log, register and gate plantlake-failure-cost."""
    from ml import evaluation as E

    t0 = time.monotonic()
    start = _window(end_date, start_date, window_days)
    versions = _pin(lake, COST_INPUTS)
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
    machine_ids = fit.holdout["machine_id"].to_numpy()
    assessment = E.assess_costs(actual, {"model": predicted, "baseline": baseline}, machine_ids)
    metrics = {**assessment.flat("model"), **assessment.flat("baseline", "baseline_", shared=False),
               "train_failures": float(len(fit.train))}
    holdout_desc = (f"failures {fit.holdout_start}..{max(pd.to_datetime(fit.holdout['date']).dt.date)}; "
                    f"{len(fit.holdout)} failures")
    with tempfile.TemporaryDirectory(prefix="plantlake-cost-") as tmp:
        folder = Path(tmp)
        plot = E.plot_costs(actual, predicted, folder / "predicted_vs_actual.png")
        (folder / "metrics.json").write_text(json.dumps(registry.finite(metrics), indent=1, sort_keys=True))
        logged = registry.log_run(
            experiment=registry.COST_MODEL, model_name=registry.COST_MODEL, model=fit.model,
            input_example=fit.holdout[[*fit.model.categorical, *fit.model.numeric]].head(5),
            params={**fit.params, "window_start": start, "window_end": end_date, "holdout_start": fit.holdout_start},
            metrics=_headline(metrics, COST_HEADLINE, ("failures",)), artifacts=[plot, folder / "metrics.json"],
            inputs=_inputs(lake, versions), run_name=f"failure cost {end_date}", dagster_run_id=dagster_run_id,
            partition=partition, settings=settings)

    def evidence_for(champion) -> Evidence:
        scores = {"model": predicted, "baseline": baseline}
        if champion is not None:
            scores["champion"] = champion.predict(fit.holdout)
        return E.assess_costs(actual, scores, machine_ids).evidence()

    decision = registry.promote(model_name=registry.COST_MODEL, logged=logged, evidence_for=evidence_for,
                                holdout=holdout_desc, purpose=registry.DESCRIPTIONS[registry.COST_MODEL],
                                must_beat_baseline=False, lake=lake, dagster_run_id=dagster_run_id, settings=settings)
    registry.annotate_run(logged.run_id, note=f"### v{decision.challenger_version}\n\n{decision.describe()}",
                          settings=settings)
    return ModelResult(registry.COST_MODEL, logged.version, logged.run_id, metrics, decision, holdout_desc,
                       time.monotonic() - t0, experiment_id=logged.experiment_id)


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
    """A JSON-able digest (for logs, Dagster metadata, the demo): the headline figures and the gate's decision."""
    out: dict[str, Any] = {"seconds": round(result.seconds, 1), "training_set_rows": result.training_set_rows}
    for model in (result.failure, result.cost):
        if model is not None:
            out[model.name] = {"version": model.version, "reason": model.decision.reason, "holdout": model.holdout,
                               **{k: round(v, 4) for k, v in model.headline.items()},
                               "promoted": model.decision.promoted}
    if result.cost_skipped:
        out["cost_skipped"] = result.cost_skipped
    return out
