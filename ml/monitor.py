"""The failure model watched in production: its holdout's measures on the days it scored, and feature drift.

Each night D, for every model version that scored the window's days:

* **Like the holdout.** The scored machine-days of the window (the ``PLANTLAKE_MONITOR_WINDOW_DAYS``
  days up to D - H, whose horizon has passed) are labelled exactly as training labels them
  (``ml.labels``: a failure in (day, day + H]; machine-days whose horizon holds an
  alert-triggered action are left out, since a prevented failure looks like a healthy day),
  and measured exactly as the holdout was (``ml.evaluation.assess_failures``: the top B
  machines per plant and day by probability, precision per machine-day and per alert episode,
  catch rate per failure, bootstrap intervals over machines). Alerts themselves rank by
  expected saving, not probability, so their precision is a different figure: it is reported
  beside (``alert_precision``, from gold.alert_outcomes) but not compared with the holdout.
* **The alarm.** ``precision_at_budget`` outside the holdout's 95 % interval, once the window
  holds ``PLANTLAKE_MONITOR_MIN_ALERTS`` alerted machine-days (fewer say too little either way).
* **Drift.** The features of the last ``PLANTLAKE_DRIFT_DAYS`` scored nights against the
  version's holdout rows in its training set (gold.failure_training_set on the holdout's
  dates: the latest rows the version was measured on, so drift says its holdout figures no
  longer describe what it scores; its earliest training days would also show the lake's
  start, when recency features are still unknown): a population stability index per
  feature both sides have; above ``PLANTLAKE_DRIFT_PSI_THRESHOLD`` it has drifted (0.1-0.25 is
  usually read as a moderate shift, above 0.25 as a large one).

The holdout's figures are the version's, as its training run logged them in MLflow
(``precision_at_budget`` and its ``_low``/``_high`` bounds). A figure logged without bounds
(a version trained before intervals were) gets a Wilson interval from the holdout's counts
instead (``holdout_intervals`` says which the precision's is).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml import features as F
from ml.labels import LABEL, label_frame
from ml.tables import FEATURE_DRIFT, MODEL_MONITOR, OUTCOME_DAYS

#: Bins of a numeric feature's training distribution (deciles), and the floor of a bin's share.
PSI_BINS, PSI_FLOOR = 10, 1e-4
_Z95 = 1.959963984540054
_NAN = float("nan")


# -- drift ------------------------------------------------------------------------------------------------------
def _shares(codes: np.ndarray, bins: int) -> np.ndarray:
    return np.maximum(np.bincount(codes, minlength=bins) / max(len(codes), 1), PSI_FLOOR)


def psi(reference: pd.Series, scored: pd.Series) -> float:
    """Population stability index of ``scored`` against ``reference``.

    Numeric values fall in the reference's decile bins, missing values in a bin of their own;
    strings are binned by value. Sum over bins of (s - r) x ln(s / r), shares floored at 1e-4.
    """
    if reference.dtype == object or scored.dtype == object:
        values = pd.concat([reference, scored]).astype(object).where(lambda v: v.notna(), "(missing)").astype(str)
        codes, _ = pd.factorize(values)
        ref, cur = codes[: len(reference)], codes[len(reference):]
        bins = int(codes.max()) + 1 if len(codes) else 1
    else:
        r, s = reference.to_numpy(dtype=float), scored.to_numpy(dtype=float)
        finite = r[np.isfinite(r)]
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, PSI_BINS + 1)[1:-1])) if len(finite) else np.array([])
        bins = len(edges) + 2  # the last bin holds the missing values

        def code(x: np.ndarray) -> np.ndarray:
            return np.where(np.isfinite(x), np.searchsorted(edges, x, side="right"), bins - 1)

        ref, cur = code(r), code(s)
    p, q = _shares(ref, bins), _shares(cur, bins)
    return float(np.sum((q - p) * np.log(q / p)))


def _median(values: pd.Series) -> float:
    if values.dtype == object:
        return _NAN
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(np.median(finite)) if len(finite) else _NAN


def feature_drift(reference: pd.DataFrame, scored: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """One row per feature both frames hold (:func:`ml.features.feature_names` order): PSI and what it compares."""
    rows = []
    for name in [f for f in F.feature_names(reference) if f not in F.KEYS and f in scored.columns]:
        ref, cur = reference[name], scored[name]
        if name in F.CATEGORICAL:
            ref, cur = ref.astype(object), cur.astype(object)
        else:
            ref, cur = pd.to_numeric(ref, errors="coerce"), pd.to_numeric(cur, errors="coerce")
        value = psi(ref, cur) if len(ref) and len(cur) else _NAN
        rows.append({"feature": name, "psi": value, "drifted": bool(value > threshold),
                     "scored_rows": len(cur), "reference_rows": len(ref),
                     "scored_missing_share": float(cur.isna().mean()) if len(cur) else _NAN,
                     "reference_missing_share": float(ref.isna().mean()) if len(ref) else _NAN,
                     "scored_median": _median(cur), "reference_median": _median(ref)})
    columns = [c for c in FEATURE_DRIFT.column_names if c not in ("date", "model_version")]
    return pd.DataFrame(rows, columns=columns).dropna(subset=["psi"]).reset_index(drop=True)


# -- production measures -----------------------------------------------------------------------------------------
def labelled_window(risk: pd.DataFrame, failures: pd.DataFrame, actions: pd.DataFrame | None, horizon_days: int,
                    known_until: dt.date) -> tuple[pd.DataFrame, int]:
    """The scored rows labelled as training labels them, censored ones dropped; and how many were censored."""
    labelled = label_frame(risk.reset_index(drop=True), failures, horizon_days, known_until, actions=actions)
    complete = pd.to_datetime(labelled["date"]) + pd.Timedelta(days=horizon_days) <= pd.Timestamp(known_until)
    censored = int((complete & labelled["alert_action_in_horizon"]).sum())
    return labelled[labelled["label_complete"]].reset_index(drop=True), censored


def production_measures(window: pd.DataFrame, budget: int, horizon_days: int) -> dict[str, float]:
    """The holdout's measures (:func:`ml.evaluation.assess_failures`) on labelled production rows, flat."""
    from ml import evaluation as E  # scikit-learn: imported when there is something to measure

    if window.empty:
        return {}
    p = window["failure_probability"].to_numpy(dtype=float)
    out = E.assess_failures(window, {"model": p}, budget, horizon_days).flat("model")
    out["alerted_machine_days"] = float(E.alerted(window, p, budget).sum())
    out["positive_machine_days"] = float(window[LABEL].sum())
    return out


def alert_figures(outcomes: pd.DataFrame) -> dict[str, Any]:
    """Raised alerts' precision (acted_no_failure left out) and catch rate, from gold.alert_outcomes rows."""
    alerts = outcomes[(outcomes["outcome"] != "missed_failure") & outcomes["resolved"].astype(bool)]
    judged = alerts[alerts["outcome"] != "acted_no_failure"]
    covered = len(alerts[alerts["failed"].astype(bool)].drop_duplicates(["machine_id", "failed_at"]))
    missed = int((outcomes["outcome"] == "missed_failure").sum())
    return {"alerts_resolved": len(alerts),
            "alert_precision": float(judged["failed"].astype(bool).mean()) if len(judged) else None,
            "alert_catch_rate": covered / (covered + missed) if covered + missed else None}


def wilson(successes: float, n: float) -> tuple[float, float]:
    """The 95 % Wilson score interval of a share (NaN bounds when a count is unknown or n is 0)."""
    if not (n and math.isfinite(n) and math.isfinite(successes)):
        return _NAN, _NAN
    share = successes / n
    centre = (share + _Z95**2 / (2 * n)) / (1 + _Z95**2 / n)
    half = _Z95 / (1 + _Z95**2 / n) * math.sqrt(share * (1 - share) / n + _Z95**2 / (4 * n**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def holdout_figures(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The holdout's precision_at_budget and catch_rate with intervals, from a version's logged metrics.

    Each takes its bootstrap bounds (``<metric>_low``/``_high``) when training logged them, else
    a Wilson interval from the holdout's counts (alerted rows = recall x positive rows /
    precision; failures and failures caught, or catch rate x failures). ``holdout_intervals``
    says which the precision's is.
    """
    def number(name: str) -> float:
        try:
            return float(metrics[name])
        except (KeyError, TypeError, ValueError):
            return _NAN

    precision, recall = number("precision_at_budget"), number("recall_at_budget")
    alerted = recall * number("holdout_positive_rows") / precision if precision else _NAN
    caught = number("failures_caught")
    counts = {"precision_at_budget": (precision * alerted, alerted),
              "catch_rate": (caught if math.isfinite(caught) else number("catch_rate") * number("failures"),
                             number("failures"))}
    out: dict[str, Any] = {"holdout_intervals": "none"}
    for metric, (hit, n) in counts.items():
        low, high, source = number(metric + "_low"), number(metric + "_high"), "bootstrap"
        if not (math.isfinite(low) and math.isfinite(high)):
            (low, high), source = wilson(hit, n), "wilson"
        out.update({f"holdout_{metric}": number(metric), f"holdout_{metric}_low": low,
                    f"holdout_{metric}_high": high})
        if metric == "precision_at_budget" and math.isfinite(low):
            out["holdout_intervals"] = source
    return out


def judge(row: Mapping[str, Any], min_alerts: int, drift_days: int = 1) -> tuple[bool, bool, str]:
    """(precision alarm, drift alarm, verdict) for one monitor row.

    Drift is judged once the scored rows cover ``drift_days`` nights (fewer: one weekday, a
    part of the week, is a drift of its own)."""
    precision = row.get("precision_at_budget", _NAN)
    low, high = row.get("holdout_precision_at_budget_low", _NAN), row.get("holdout_precision_at_budget_high", _NAN)
    words = []
    enough = row.get("alerted_machine_days", 0) >= min_alerts
    precision_alarm = bool(enough and all(map(math.isfinite, (precision, low, high)))
                           and not low <= precision <= high)
    if not enough:
        words.append(f"{int(row.get('alerted_machine_days', 0))} alerted machine-days in the window "
                     f"(fewer than {min_alerts}): precision not judged")
    elif not (math.isfinite(low) and math.isfinite(high)):
        words.append("no holdout interval to judge precision against")
    else:
        words.append(f"precision at budget {precision:.3f} {'outside' if precision_alarm else 'within'} the holdout's "
                     f"[{low:.3f}, {high:.3f}]")
    drifted, nights = int(row.get("features_drifted", 0)), int(row.get("drift_nights", 0))
    drift_alarm = drifted > 0 and nights >= drift_days
    if row.get("features_compared", 0) and nights < drift_days:
        words.append(f"drift not judged: {nights} of {drift_days} nights scored")
    elif drift_alarm:
        words.append(f"{drifted} feature(s) drifted, most {row.get('max_psi_feature')} "
                     f"(PSI {row.get('max_psi', _NAN):.2f} > {row.get('psi_threshold', _NAN):g})")
    elif row.get("features_compared", 0):
        words.append(f"no feature drifted (largest PSI {row.get('max_psi', _NAN):.2f})")
    else:
        words.append("no features to compare")
    return precision_alarm, drift_alarm, "; ".join(words)


def monitor_row(night: dt.date, model_name: str, version: str, *, is_champion: bool, horizon_days: int,
                budget: int, window: tuple[dt.date, dt.date], machine_days: int, censored: int,
                measures: Mapping[str, float], alerts: Mapping[str, Any], holdout: Mapping[str, Any],
                drift: pd.DataFrame, scored_rows: int, scored_nights: int, reference_rows: int,
                psi_threshold: float, min_alerts: int, drift_days: int) -> dict[str, Any]:
    """One gold.model_monitor row from its parts, judged."""
    top = drift.sort_values("psi", ascending=False, kind="stable").head(1)
    row: dict[str, Any] = {c: None for c in MODEL_MONITOR.column_names}
    row.update({k: v for k, v in measures.items() if k in row})
    row.update(alerts)
    row.update(holdout)
    row.update({
        "date": night, "model_name": model_name, "model_version": version, "is_champion": is_champion,
        "horizon_days": horizon_days, "alert_budget": budget, "window_start": window[0], "window_end": window[1],
        "machine_days": machine_days, "censored_machine_days": censored,
        "positive_machine_days": int(measures.get("positive_machine_days", 0)),
        "alerted_machine_days": int(measures.get("alerted_machine_days", 0)),
        "failures": int(measures.get("failures", 0)),
        "drift_rows": scored_rows, "drift_nights": scored_nights, "reference_rows": reference_rows,
        "features_compared": len(drift),
        "features_drifted": int(drift["drifted"].sum()), "psi_threshold": psi_threshold,
        "max_psi": float(top["psi"].iloc[0]) if len(top) else None,
        "max_psi_feature": str(top["feature"].iloc[0]) if len(top) else None,
    })
    row["precision_alarm"], row["drift_alarm"], row["verdict"] = judge(
        {k: (_NAN if v is None else v) for k, v in row.items()}, min_alerts, drift_days)
    return row


# -- from the lake and MLflow -----------------------------------------------------------------------------------
_RISK = ("date", "plant_id", "line_id", "machine_id", "horizon_days", "failure_probability", "model_version")
_FAILURES = ("date", "machine_id", "failed_at", "component")


@dataclass
class ProductionData:
    """What the monitor reads for a range of days: scores, failures, alert-triggered actions, alert outcomes."""

    risk: pd.DataFrame
    failures: pd.DataFrame
    actions: pd.DataFrame
    outcomes: pd.DataFrame

    @classmethod
    def read(cls, lake, first: dt.date, last: dt.date) -> ProductionData:
        from ml.outcomes import alert_actions, read_days, read_outcomes

        risk = read_days(lake, "gold.failure_risk", first, last, _RISK)
        risk["date"] = pd.to_datetime(risk["date"]).dt.date
        return cls(risk, read_days(lake, "silver.failures", first, last, _FAILURES), alert_actions(lake, first, last),
                   read_outcomes(lake, first, last))


class VersionInfo:
    """What the registry knows of one version: its holdout figures and the holdout's dates."""

    def __init__(self, model_name: str, version: str, client=None):
        self.holdout: dict[str, Any] = holdout_figures({})
        self.holdout_dates: tuple[dt.date, dt.date] | None = None
        self.is_champion = False
        if client is None:
            return
        from mlflow.exceptions import MlflowException

        from ml import registry

        try:
            found = client.get_model_version(model_name, version)
        except MlflowException:
            return
        run = client.get_run(found.run_id).data if found.run_id else None
        self.holdout = holdout_figures({**(found.tags or {}), **(run.metrics if run else {})})
        champion = registry.version_by_alias(client, model_name, registry.CHAMPION)
        self.is_champion = champion is not None and str(champion.version) == str(version)
        params = run.params if run else {}
        if params.get("holdout_start") and params.get("holdout_end"):
            self.holdout_dates = (dt.date.fromisoformat(params["holdout_start"]),
                                  dt.date.fromisoformat(params["holdout_end"]))


def reference_features(lake, info: VersionInfo) -> pd.DataFrame:
    """The version's holdout rows (gold.failure_training_set, label_complete, on the holdout's dates), features."""
    from ml.tables import FAILURE_TRAINING_SET

    if not lake.exists(FAILURE_TRAINING_SET):
        return pd.DataFrame()
    stored = set(FAILURE_TRAINING_SET.column_names)
    columns = ["label_complete", *[f for f in (*F.FEATURES, F.DYNAMIC) if f not in F.KEYS and f in stored]]
    filters = [("label_complete", "=", True)]
    if info.holdout_dates:
        filters += [("date", ">=", info.holdout_dates[0]), ("date", "<=", info.holdout_dates[1])]
    return F.from_arrow(lake.read(FAILURE_TRAINING_SET, filters=filters, columns=columns))  # sensors' features too


def scored_features(lake, first: dt.date, last: dt.date, risk: pd.DataFrame) -> pd.DataFrame:
    """The features the scored rows of [first, last] were scored on, with the version that scored each."""
    from ml import scoring

    scored = risk[(pd.to_datetime(risk["date"]).dt.date >= first) & (pd.to_datetime(risk["date"]).dt.date <= last)]
    if scored.empty:
        return pd.DataFrame(columns=["model_version"])
    daily, component, _ = scoring.read_inputs(lake, [first, last])
    frame = F.feature_frame(daily[pd.to_datetime(daily["date"]).dt.date <= last], component, start=first)
    keys = scored[["date", "machine_id", "model_version"]].assign(date=lambda f: pd.to_datetime(f["date"]).dt.date)
    return frame.merge(keys, on=["date", "machine_id"], how="inner")


def window_figures(rows: pd.DataFrame, failures: pd.DataFrame, actions: pd.DataFrame, outcomes: pd.DataFrame,
                   start: dt.date, end: dt.date, horizon_days: int, known_until: dt.date,
                   budget: int) -> dict[str, Any]:
    """One version's production figures over its scored days in [start, end], as known on ``known_until``."""
    scored = rows[(rows["date"] >= start) & (rows["date"] <= end)]
    window, censored = labelled_window(scored, failures, actions, horizon_days, known_until)
    dated = pd.to_datetime(outcomes["date"]).dt.date
    mine = outcomes[(outcomes["model_version"] == rows["model_version"].iloc[0]) & (dated >= start) & (dated <= end)]
    return {"machine_days": len(window), "censored": censored,
            "measures": production_measures(window, budget, horizon_days), "alerts": alert_figures(mine)}


def monitor_nights(lake, nights: Sequence[dt.date], *, model_name: str, budget: int, window_days: int,
                   drift_days: int, psi_threshold: float, min_alerts: int,
                   client=None) -> tuple[pd.DataFrame, pd.DataFrame, ProductionData]:
    """gold.model_monitor and gold.feature_drift rows of ``nights``, from the lake (and the registry, when given);
    and the production data they were computed from (for the monthly record)."""
    nights = sorted(nights)
    data = ProductionData.read(lake, nights[0] - dt.timedelta(days=OUTCOME_DAYS + window_days), nights[-1])
    monitors: list[dict[str, Any]] = []
    drifts: list[pd.DataFrame] = []
    features = pd.DataFrame(columns=["date", "model_version"])
    if not data.risk.empty:
        features = scored_features(lake, nights[0] - dt.timedelta(days=drift_days - 1), nights[-1], data.risk)
    infos: dict[str, VersionInfo] = {}
    references: dict[str, pd.DataFrame] = {}
    for night in nights:
        for version, rows in data.risk[data.risk["date"] <= night].groupby("model_version"):
            horizon = int(rows["horizon_days"].max())
            end = night - dt.timedelta(days=horizon)
            start = end - dt.timedelta(days=window_days - 1)
            recent = features[(features["model_version"] == version) & (features["date"] <= night)
                              & (features["date"] > night - dt.timedelta(days=drift_days))]
            if recent.empty and not ((rows["date"] >= start) & (rows["date"] <= end)).any():
                continue
            info = infos.setdefault(version, VersionInfo(model_name, str(version), client))
            if version not in references:
                references[version] = reference_features(lake, info)
            figures = window_figures(rows, data.failures, data.actions, data.outcomes, start, end, horizon, night,
                                     budget)
            drift = feature_drift(references[version], recent, psi_threshold)
            monitors.append(monitor_row(
                night, model_name, str(version), is_champion=info.is_champion, horizon_days=horizon, budget=budget,
                window=(start, end), machine_days=figures["machine_days"], censored=figures["censored"],
                measures=figures["measures"], alerts=figures["alerts"], holdout=info.holdout, drift=drift,
                scored_rows=len(recent), scored_nights=recent["date"].nunique(),
                reference_rows=len(references[version]), psi_threshold=psi_threshold, min_alerts=min_alerts,
                drift_days=drift_days))
            drifts.append(drift.assign(date=night, model_version=str(version)))
    drift_rows = pd.concat(drifts, ignore_index=True) if drifts else pd.DataFrame(columns=FEATURE_DRIFT.column_names)
    return (pd.DataFrame(monitors, columns=MODEL_MONITOR.column_names), drift_rows[FEATURE_DRIFT.column_names], data)


# -- the monthly record in MLflow -------------------------------------------------------------------------------
MONITORING_EXPERIMENT = "plantlake-monitoring"
#: What the monthly run logs (and, as ``production.<month>.<name>`` tags, the version carries).
MONTH_METRICS = ("precision_at_budget", "precision_at_budget_low", "precision_at_budget_high", "recall_at_budget",
                 "precision_per_failure", "catch_rate", "catch_rate_low", "catch_rate_high", "pr_auc",
                 "alert_precision", "alert_catch_rate", "machine_days", "alerted_machine_days", "failures")
VERSION_TAGS = ("precision_at_budget", "catch_rate", "alert_precision", "machine_days")


def month_figures(data: ProductionData, version: str, month: dt.date, known_until: dt.date,
                  budget: int) -> dict[str, float] | None:
    """A version's production figures over the month's scored days whose horizon has passed (None: no such day)."""
    rows = data.risk[data.risk["model_version"] == version]
    if rows.empty:
        return None
    horizon = int(rows["horizon_days"].max())
    end = min((pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date(), known_until - dt.timedelta(days=horizon))
    if end < month or not ((rows["date"] >= month) & (rows["date"] <= end)).any():
        return None
    figures = window_figures(rows, data.failures, data.actions, data.outcomes, month, end, horizon, known_until,
                             budget)
    flat = {**figures["measures"], **figures["alerts"], "machine_days": figures["machine_days"]}
    out = {name: float(flat[name]) for name in MONTH_METRICS
           if flat.get(name) is not None and math.isfinite(float(flat[name]))}
    return out | {"_days": float((end - month).days + 1)}


def log_month(client, model_name: str, version: str, month: dt.date, figures: Mapping[str, float], *,
              settings=None, dagster_run_id: str | None = None) -> str:
    """The month's production figures on the run of (version, month) in plantlake-monitoring, and on the version.

    One run per version and month, found again by its tags and updated each night: each metric's
    step is the number of the month's days measured so far, so its history shows the month filling
    up. The version gets ``production.<YYYY-MM>.<figure>`` tags beside its holdout tags.
    """
    import mlflow.entities

    from ml import registry

    experiment = registry.experiment_id(client, MONITORING_EXPERIMENT, settings)
    label = month.strftime("%Y-%m")
    query = (f"tags.`plantlake.model` = '{model_name}' and tags.`plantlake.model_version` = '{version}' "
             f"and tags.`plantlake.month` = '{label}'")
    found = client.search_runs([experiment], filter_string=query, max_results=1)
    if found:
        run_id = found[0].info.run_id
    else:
        tags = {"plantlake.model": model_name, "plantlake.model_version": str(version), "plantlake.month": label,
                "mlflow.runName": f"{model_name} v{version} {label}"}
        run_id = client.create_run(experiment, tags=tags).info.run_id
    step, stamp = int(figures.get("_days", 0)), int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    metrics = [mlflow.entities.Metric(name, value, stamp, step) for name, value in figures.items()
               if not name.startswith("_")]
    run_tags = [mlflow.entities.RunTag("dagster.run_id", dagster_run_id)] if dagster_run_id else []
    client.log_batch(run_id, metrics=metrics, tags=run_tags)
    client.set_terminated(run_id)
    for name in VERSION_TAGS:
        if name in figures:
            client.set_model_version_tag(model_name, str(version), f"production.{label}.{name}",
                                         f"{figures[name]:.6g}")
    return run_id
