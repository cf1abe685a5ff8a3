"""The failure model's features, built from gold.machine_daily and gold.machine_component_daily.

One list (:data:`NUMERIC`, :data:`CATEGORICAL`) feeds the training set's table, training,
the model's signature and nightly scoring, so the columns can never disagree. Everything
here is pure pandas/numpy: the same function builds a 150-day training set and one
night's scoring rows, given :data:`HISTORY_DAYS` of each machine's earlier days.

Why these features: a degrading component shows as a level shift or extra noise in some
sensor against the machine's own recent days (drifts, ratios to the machine's own median,
noise ratios), as alarms that accumulate over days, and as slower cycles; how long ago a
component was maintained or failed says how worn it is. Daily means mix running and
standing time, so the weekday and the covered minutes say how much of the day ran.
Levels that depend on the machine type (a press is louder than a robot) are features
too, with the type as a categorical feature beside them.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from lakehouse.gold_tables import SENSORS
from sources.contracts import COMPONENTS

#: Days of each machine's history before the first scored date that the rolling features need.
HISTORY_DAYS = 30

KEYS = ("date", "plant_id", "line_id", "machine_id", "machine_type")

_SENSOR_NAMES = tuple(s for s, _ in SENSORS)
_FROM_DAILY = tuple(
    [f"{s}_{m}" for s in _SENSOR_NAMES for m in ("mean", "std", "max", "drift_7d", "drift_30d")]
    + ["cycle_time_slowdown", "covered_minutes", "alarm_count", "downtime_events", "downtime_minutes",
       "failure_count", "maintenance_count", "days_since_maintenance", "max_component_days_since_maintenance",
       "days_since_failure", "age_years"]
)
_ROLLING = tuple(
    ["alarm_count_3d", "alarm_count_7d", "alarm_count_30d", "downtime_minutes_7d"]
    + [f"{s}_{kind}" for s in _SENSOR_NAMES
       for kind in ("mean_ratio_7d", "mean_ratio_30d", "std_ratio_7d", "max_ratio_7d", "drift_7d_mean_3d",
                    "drift_7d_change_3d")]
)
_COMPONENT = tuple(f"days_since_{event}_{c}" for c in COMPONENTS for event in ("maintenance", "failure"))

#: Numeric features (float64; missing values are NaN, which the gradient boosting handles).
NUMERIC: tuple[str, ...] = (*_FROM_DAILY, *_ROLLING, *_COMPONENT, "weekday")
#: Categorical features (strings).
CATEGORICAL: tuple[str, ...] = ("machine_type", "criticality")
FEATURES: tuple[str, ...] = (*NUMERIC, *CATEGORICAL)

#: gold.machine_daily columns the features need.
DAILY_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    [*KEYS, "criticality", "downtime_cost_eur_h", *_FROM_DAILY]
))
#: gold.machine_component_daily columns the features need.
COMPONENT_COLUMNS: tuple[str, ...] = ("date", "machine_id", "component", "days_since_maintenance",
                                      "days_since_failure")


class MissingFeaturesError(ValueError):
    """Input lacks columns the features (or a model) need; the message names them."""

    def __init__(self, what: str, missing: list[str]):
        self.missing = missing
        super().__init__(f"{what} lacks {len(missing)} column(s) the failure features need: {', '.join(missing)}")


def require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingFeaturesError(what, missing)


def _as_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


def _rolling(frame: pd.DataFrame, columns: list[str], window: str, how: str, closed: str) -> pd.DataFrame:
    """Per machine, over calendar days (gaps are gaps, not neighbours): ``how`` of ``columns``."""
    indexed = frame.set_index("_ts")[columns]
    rolled = getattr(indexed.groupby(frame["machine_id"].to_numpy(), sort=False).rolling(window, closed=closed), how)()
    return pd.DataFrame(rolled.to_numpy(), columns=columns, index=frame.index)


def _lag(frame: pd.DataFrame, columns: list[str], days: int) -> pd.DataFrame:
    """The machine's values ``days`` calendar days earlier (NaN where it has no row that day)."""
    earlier = frame[["machine_id", "_ts", *columns]].copy()
    earlier["_ts"] = earlier["_ts"] + pd.Timedelta(days=days)
    joined = frame[["machine_id", "_ts"]].merge(earlier, on=["machine_id", "_ts"], how="left")
    return pd.DataFrame(joined[columns].to_numpy(), columns=columns, index=frame.index)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    out = num.astype(float) / den.astype(float).where(den.abs() > 1e-9)
    return out.replace([np.inf, -np.inf], np.nan)


def feature_frame(
    machine_daily: pd.DataFrame,
    component_daily: pd.DataFrame | None = None,
    *,
    start: dt.date | None = None,
) -> pd.DataFrame:
    """One row per machine and date of ``machine_daily`` (from ``start`` on): the keys and :data:`FEATURES`.

    ``machine_daily`` must hold :data:`HISTORY_DAYS` of each machine's earlier days before
    ``start`` for the rolling features to be complete (fewer give NaN, never an error).
    ``component_daily`` (gold.machine_component_daily rows of the same dates) gives the
    per-component recency; without it those features are NaN.
    """
    require(machine_daily, DAILY_COLUMNS, "gold.machine_daily")
    daily = machine_daily.loc[:, list(DAILY_COLUMNS)].copy()
    daily["_ts"] = _as_dates(daily["date"])
    daily = daily.sort_values(["machine_id", "_ts"], kind="stable").reset_index(drop=True)
    if daily.duplicated(["machine_id", "_ts"]).any():
        raise ValueError("gold.machine_daily rows repeat a (machine_id, date): one row per machine and day expected")
    for name in _FROM_DAILY:
        daily[name] = pd.to_numeric(daily[name], errors="coerce").astype(float)

    out = daily[[*KEYS, "criticality", "_ts", *_FROM_DAILY]].copy()
    sums = _rolling(daily, ["alarm_count", "downtime_minutes"], "7D", "sum", "right")
    out["alarm_count_7d"] = sums["alarm_count"]
    out["downtime_minutes_7d"] = sums["downtime_minutes"]
    out["alarm_count_3d"] = _rolling(daily, ["alarm_count"], "3D", "sum", "right")["alarm_count"]
    out["alarm_count_30d"] = _rolling(daily, ["alarm_count"], "30D", "sum", "right")["alarm_count"]

    means = [f"{s}_mean" for s in _SENSOR_NAMES]
    stds = [f"{s}_std" for s in _SENSOR_NAMES]
    maxes = [f"{s}_max" for s in _SENSOR_NAMES]
    drifts = [f"{s}_drift_7d" for s in _SENSOR_NAMES]
    median_7 = _rolling(daily, means + stds + maxes, "7D", "median", "left")
    median_30 = _rolling(daily, means, "30D", "median", "left")
    drift_3 = _rolling(daily, drifts, "3D", "mean", "right")
    drift_before = _lag(daily, drifts, 3)
    for s in _SENSOR_NAMES:
        out[f"{s}_mean_ratio_7d"] = _ratio(daily[f"{s}_mean"], median_7[f"{s}_mean"]) - 1
        out[f"{s}_mean_ratio_30d"] = _ratio(daily[f"{s}_mean"], median_30[f"{s}_mean"]) - 1
        out[f"{s}_std_ratio_7d"] = _ratio(daily[f"{s}_std"], median_7[f"{s}_std"])
        out[f"{s}_max_ratio_7d"] = _ratio(daily[f"{s}_max"], median_7[f"{s}_max"])
        out[f"{s}_drift_7d_mean_3d"] = drift_3[f"{s}_drift_7d"]
        out[f"{s}_drift_7d_change_3d"] = daily[f"{s}_drift_7d"] - drift_before[f"{s}_drift_7d"]
    out["weekday"] = out["_ts"].dt.weekday.astype(float)

    out = out.join(_component_recency(component_daily, out[["machine_id", "_ts"]]))
    if start is not None:
        out = out[out["_ts"] >= pd.Timestamp(start)]
    out = out.sort_values(["_ts", "plant_id", "machine_id"], kind="stable").reset_index(drop=True)
    out["date"] = out["_ts"].dt.date
    for name in CATEGORICAL:
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out[[*KEYS, *[f for f in FEATURES if f not in KEYS]]]


def _component_recency(component_daily: pd.DataFrame | None, keys: pd.DataFrame) -> pd.DataFrame:
    """days_since_{maintenance,failure}_<component> per row of ``keys``, NaN where unknown."""
    columns = list(_COMPONENT)
    if component_daily is None or component_daily.empty:
        return pd.DataFrame(np.nan, index=keys.index, columns=columns)
    require(component_daily, COMPONENT_COLUMNS, "gold.machine_component_daily")
    comp = component_daily.loc[component_daily["component"].isin(COMPONENTS), list(COMPONENT_COLUMNS)].copy()
    comp["_ts"] = _as_dates(comp["date"])
    wide = comp.pivot_table(index=["machine_id", "_ts"], columns="component",
                            values=["days_since_maintenance", "days_since_failure"], aggfunc="min")
    wide.columns = [f"{value}_{component}" for value, component in wide.columns]
    wide = wide.reindex(columns=columns)
    joined = keys.join(wide, on=["machine_id", "_ts"])
    return joined[columns].astype(float)


_KINDS = {
    "mean_ratio_7d": "day mean / the machine's median day mean over the previous 7 days - 1",
    "mean_ratio_30d": "day mean / the machine's median day mean over the previous 30 days - 1",
    "std_ratio_7d": "within-day std / its median over the previous 7 days",
    "max_ratio_7d": "day max / its median over the previous 7 days",
    "drift_7d_mean_3d": "mean of drift_7d over the last 3 days",
    "drift_7d_change_3d": "drift_7d minus drift_7d 3 days earlier",
}


def describe(name: str) -> str:
    """One line on what a feature is (the training set's column descriptions)."""
    if name in ("machine_type", "criticality"):
        return f"gold.machine_daily.{name} (categorical)"
    if name in _FROM_DAILY:
        return f"gold.machine_daily.{name}"
    if name.startswith("days_since_") and name in _COMPONENT:
        event, component = name[len("days_since_"):].split("_", 1)
        return f"Days since the {component} component's last {event} (gold.machine_component_daily; null: none)"
    if name == "weekday":
        return "Day of the week, Monday = 0"
    for kind, text in _KINDS.items():
        if name.endswith("_" + kind):
            return f"{name[: -len(kind) - 1]}: {text}"
    window = name.rsplit("_", 1)[-1]
    return f"{name[: -len(window) - 1]} summed over the last {window[:-1]} days, this one included"
