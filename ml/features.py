"""The failure model's features, from gold.machine_daily, gold.machine_sensor_daily and gold.machine_component_daily.

Two kinds of features, named here and nowhere else, so that the training set's table,
training, the model's signature and nightly scoring can never disagree:

* fixed features, the same for every machine: alarms and downtime (the day's and rolling
  sums), recency of maintenance and failure, age, cycle-time slowdown, weekday and the
  minutes the readings covered, machine type and criticality (categorical);
* features of whatever sensors and components a plant has: per sensor, the day's mean,
  spread, maximum and drifts against the machine's own previous 7 and 30 days
  (gold.machine_sensor_daily, pivoted to one column per sensor and statistic by
  :func:`with_sensors`) and their ratios to the machine's own recent days; per component,
  the days since its last maintenance and failure. A model is trained on those its training
  window holds (:func:`numeric_in`; its signature lists them) and scoring builds exactly
  those (``numeric=``: NaN for a sensor a machine does not have).

Everything here is pure pandas/numpy: the same function builds a 150-day training set and
one night's scoring rows, given :data:`HISTORY_DAYS` of each machine's earlier days.

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
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from lakehouse import named

#: Days of each machine's history before the first scored date that the rolling features need.
HISTORY_DAYS = 30

KEYS = ("date", "plant_id", "line_id", "machine_id", "machine_type")

#: Fixed features read from gold.machine_daily.
MACHINE_NUMERIC: tuple[str, ...] = (
    "cycle_time_slowdown", "covered_minutes", "alarm_count", "downtime_events", "downtime_minutes", "failure_count",
    "maintenance_count", "days_since_maintenance", "max_component_days_since_maintenance", "days_since_failure",
    "age_years",
)
_ALARMS = ("alarm_count_3d", "alarm_count_7d", "alarm_count_30d", "downtime_minutes_7d")
#: Fixed numeric features (float64; missing values are NaN, which the gradient boosting handles).
NUMERIC: tuple[str, ...] = (*MACHINE_NUMERIC, *_ALARMS, "weekday")
#: Categorical features (strings).
CATEGORICAL: tuple[str, ...] = ("machine_type", "criticality")
#: The fixed features: every machine has them, whatever its sensors.
FEATURES: tuple[str, ...] = (*NUMERIC, *CATEGORICAL)

#: Per sensor: the day's statistics (gold.machine_sensor_daily) and the rolling features built on them.
SENSOR_STATS = ("mean", "std", "max", "drift_7d", "drift_30d")
SENSOR_ROLLING = ("mean_ratio_7d", "mean_ratio_30d", "std_ratio_7d", "max_ratio_7d", "drift_7d_mean_3d",
                  "drift_7d_change_3d")
_COMPONENT_EVENTS = ("maintenance", "failure")
_COMPONENT_PREFIXES = tuple(f"days_since_{event}_" for event in _COMPONENT_EVENTS)

#: gold.machine_daily columns the features need.
DAILY_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys([*KEYS, "criticality", "downtime_cost_eur_h", *MACHINE_NUMERIC]))
#: gold.machine_sensor_daily columns the features need.
SENSOR_COLUMNS: tuple[str, ...] = ("date", "machine_id", "sensor", *SENSOR_STATS)
#: gold.machine_component_daily columns the features need.
COMPONENT_COLUMNS: tuple[str, ...] = ("date", "machine_id", "component", "days_since_maintenance",
                                      "days_since_failure")
#: The training set's column holding the sensor and component features (name -> value).
DYNAMIC = "dynamic_features"
DUPLICATE_DAYS = "gold.machine_daily rows repeat a (machine_id, date): one row per machine and day expected"


class MissingFeaturesError(ValueError):
    """Input lacks columns the features (or a model) need; the message names them."""

    def __init__(self, what: str, missing: list[str]):
        self.missing = missing
        super().__init__(f"{what} lacks {len(missing)} column(s) the failure features need: {', '.join(missing)}")


def require(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MissingFeaturesError(what, missing)


def sensor_features(sensor: str) -> list[str]:
    """The features of one sensor."""
    return [f"{sensor}_{kind}" for kind in (*SENSOR_STATS, *SENSOR_ROLLING)]


def component_features(component: str) -> list[str]:
    """The features of one component."""
    return [f"{prefix}{component}" for prefix in _COMPONENT_PREFIXES]


def sensors_in(frame: pd.DataFrame) -> list[str]:
    """The sensors whose daily statistics a frame holds (every ``{sensor}_{stat}`` column present), sorted."""
    means = [c[: -len("_mean")] for c in frame.columns if c.endswith("_mean")]
    return sorted(s for s in means if all(f"{s}_{stat}" in frame.columns for stat in SENSOR_STATS))


def is_dynamic(name: str) -> bool:
    """Whether a column is a sensor's or a component's feature (not a fixed one, a key or a label)."""
    if name in NUMERIC or name in CATEGORICAL:
        return False
    return name.startswith(_COMPONENT_PREFIXES) or any(name.endswith(f"_{k}") for k in (*SENSOR_STATS,
                                                                                        *SENSOR_ROLLING))


def numeric_in(frame: pd.DataFrame) -> list[str]:
    """The numeric features of a frame (feature rows, a training set): the fixed ones (every one: a frame
    lacking one is an error where it is used), then its sensors' and components' in frame order. What a model
    trained on it takes (its signature)."""
    return [*NUMERIC, *(c for c in frame.columns if is_dynamic(c))]


def feature_names(frame: pd.DataFrame) -> list[str]:
    """Every feature a frame holds: the fixed numeric ones, its sensors' and components', the categorical ones."""
    return [c for c in (*numeric_in(frame), *CATEGORICAL) if c in frame.columns]


def sensor_means_and_spreads(frame: pd.DataFrame) -> list[str]:
    """The daily sensor means and spreads (``{sensor}_mean``, ``{sensor}_std``) a frame holds: a baseline's inputs."""
    return [c for c in frame.columns if is_dynamic(c) and (c.endswith("_mean") or c.endswith("_std"))
            and c[: c.rfind("_")] + "_max" in frame.columns]


def _as_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.normalize()


def with_sensors(machine_daily: pd.DataFrame, sensor_daily: pd.DataFrame | None) -> pd.DataFrame:
    """gold.machine_daily rows with their sensors' daily statistics as columns ``{sensor}_{stat}``, sensors in
    name order (gold.machine_sensor_daily pivoted; NaN where a machine did not report the sensor that day).

    Placed by hashing each (machine, day) once, not grouped: a full network's month of sensor rows
    (tens of millions) pivots in seconds."""
    if sensor_daily is None or sensor_daily.empty:
        return machine_daily
    require(sensor_daily, SENSOR_COLUMNS, "gold.machine_sensor_daily")
    rows = pd.MultiIndex.from_arrays([machine_daily["machine_id"].to_numpy(), _as_dates(machine_daily["date"])])
    if not rows.is_unique:
        raise ValueError(DUPLICATE_DAYS)
    at = rows.get_indexer(pd.MultiIndex.from_arrays([sensor_daily["machine_id"].to_numpy(),
                                                     _as_dates(sensor_daily["date"])]))
    codes, sensors = pd.factorize(sensor_daily["sensor"], sort=True)
    found = at >= 0
    columns = {}
    for stat in SENSOR_STATS:
        wide = np.full((len(machine_daily), len(sensors)), np.nan)
        values = pd.to_numeric(sensor_daily[stat], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        wide[at[found], codes[found]] = values[found]
        columns.update({f"{sensor}_{stat}": wide[:, i] for i, sensor in enumerate(sensors)})
    ordered = {name: columns[name] for name in sorted(columns) if name not in machine_daily.columns}
    return pd.concat([machine_daily.reset_index(drop=True), pd.DataFrame(ordered)], axis=1)


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


def _sensor_rolling(daily: pd.DataFrame, sensors: list[str]) -> dict[str, pd.Series]:
    """Each sensor's ratios to the machine's own recent days and its recent drift."""
    if not sensors:
        return {}
    means, stds = [f"{s}_mean" for s in sensors], [f"{s}_std" for s in sensors]
    maxes, drifts = [f"{s}_max" for s in sensors], [f"{s}_drift_7d" for s in sensors]
    median_7 = _rolling(daily, means + stds + maxes, "7D", "median", "left")
    median_30 = _rolling(daily, means, "30D", "median", "left")
    drift_3 = _rolling(daily, drifts, "3D", "mean", "right")
    drift_before = _lag(daily, drifts, 3)
    out = {}
    for s in sensors:
        out[f"{s}_mean_ratio_7d"] = _ratio(daily[f"{s}_mean"], median_7[f"{s}_mean"]) - 1
        out[f"{s}_mean_ratio_30d"] = _ratio(daily[f"{s}_mean"], median_30[f"{s}_mean"]) - 1
        out[f"{s}_std_ratio_7d"] = _ratio(daily[f"{s}_std"], median_7[f"{s}_std"])
        out[f"{s}_max_ratio_7d"] = _ratio(daily[f"{s}_max"], median_7[f"{s}_max"])
        out[f"{s}_drift_7d_mean_3d"] = drift_3[f"{s}_drift_7d"]
        out[f"{s}_drift_7d_change_3d"] = daily[f"{s}_drift_7d"] - drift_before[f"{s}_drift_7d"]
    return out


def feature_frame(
    machine_daily: pd.DataFrame,
    component_daily: pd.DataFrame | None = None,
    *,
    start: dt.date | None = None,
    numeric: Sequence[str] | None = None,
) -> pd.DataFrame:
    """One row per machine and date of ``machine_daily`` (from ``start`` on): the keys, the categorical and the
    numeric features.

    ``machine_daily``: gold.machine_daily rows with their sensors' statistics (:func:`with_sensors`);
    it must hold :data:`HISTORY_DAYS` of each machine's earlier days before ``start`` for the
    rolling features to be complete (fewer give NaN, never an error). ``component_daily``
    (gold.machine_component_daily rows of the same dates) gives the per-component recency;
    without it there are no component features. ``numeric``: exactly these numeric features
    (a model's), NaN where the rows have none; by default the fixed ones and those of every
    sensor and component the rows hold.
    """
    require(machine_daily, DAILY_COLUMNS, "gold.machine_daily")
    sensors = sensors_in(machine_daily)
    stat_columns = [f"{s}_{stat}" for s in sensors for stat in SENSOR_STATS]
    daily = machine_daily.loc[:, [*DAILY_COLUMNS, *stat_columns]].copy()
    daily["_ts"] = _as_dates(daily["date"])
    daily = daily.sort_values(["machine_id", "_ts"], kind="stable").reset_index(drop=True)
    if daily.duplicated(["machine_id", "_ts"]).any():
        raise ValueError(DUPLICATE_DAYS)
    for name in (*MACHINE_NUMERIC, *stat_columns):
        daily[name] = pd.to_numeric(daily[name], errors="coerce").astype(float)

    out = daily[[*KEYS, "criticality", "_ts", *MACHINE_NUMERIC]].copy()
    sums = _rolling(daily, ["alarm_count", "downtime_minutes"], "7D", "sum", "right")
    out["alarm_count_3d"] = _rolling(daily, ["alarm_count"], "3D", "sum", "right")["alarm_count"]
    out["alarm_count_7d"] = sums["alarm_count"]
    out["alarm_count_30d"] = _rolling(daily, ["alarm_count"], "30D", "sum", "right")["alarm_count"]
    out["downtime_minutes_7d"] = sums["downtime_minutes"]
    out["weekday"] = out["_ts"].dt.weekday.astype(float)
    rolling = _sensor_rolling(daily, sensors)
    dynamic = {name: (daily[name] if name in daily.columns else rolling[name])
               for s in sensors for name in sensor_features(s)}
    out = pd.concat([out, pd.DataFrame(dynamic, index=out.index), _component_recency(component_daily, out)], axis=1)

    if start is not None:
        out = out[out["_ts"] >= pd.Timestamp(start)]
    out = out.sort_values(["_ts", "plant_id", "machine_id"], kind="stable").reset_index(drop=True)
    out["date"] = out["_ts"].dt.date
    for name in CATEGORICAL:
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    wanted = list(numeric) if numeric is not None else numeric_in(out)
    missing = {name: np.nan for name in wanted if name not in out.columns}
    if missing:
        out = out.assign(**missing)
    return out[[*KEYS, *wanted, "criticality"]]


def _component_recency(component_daily: pd.DataFrame | None, keys: pd.DataFrame) -> pd.DataFrame:
    """days_since_{maintenance,failure}_<component> per row of ``keys`` for every component ``component_daily``
    names (sorted), NaN where unknown."""
    if component_daily is None or component_daily.empty:
        return pd.DataFrame(index=keys.index)
    require(component_daily, COMPONENT_COLUMNS, "gold.machine_component_daily")
    comp = component_daily.loc[component_daily["component"].notna(), list(COMPONENT_COLUMNS)].copy()
    comp["_ts"] = _as_dates(comp["date"])
    wide = comp.pivot_table(index=["machine_id", "_ts"], columns="component",
                            values=["days_since_maintenance", "days_since_failure"], aggfunc="min")
    columns = [name for c in sorted(comp["component"].unique()) for name in component_features(c)]
    wide.columns = [f"{value}_{component}" for value, component in wide.columns]
    wide = wide.reindex(columns=columns)
    joined = keys[["machine_id", "_ts"]].join(wide, on=["machine_id", "_ts"])
    return joined[columns].astype(float)


def to_arrow(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """Rows of ``frame`` as a table of ``schema`` whose :data:`DYNAMIC` column holds the sensor and component
    features (the training set: its columns are fixed, a plant's sensors are not)."""
    fixed = [f for f in schema if f.name != DYNAMIC]
    out = frame[[f.name for f in fixed]]
    out = out.astype(object).where(out.notna(), None)
    table = pa.Table.from_pandas(out, schema=pa.schema(fixed), preserve_index=False)
    dynamic = {c: frame[c].to_numpy(dtype=float, na_value=np.nan) for c in frame.columns if is_dynamic(c)}
    packed = named.pack(dynamic, len(frame))
    return pa.Table.from_arrays([packed if f.name == DYNAMIC else table.column(f.name) for f in schema], schema=schema)


def from_arrow(table: pa.Table) -> pd.DataFrame:
    """A stored training set as feature rows: its :data:`DYNAMIC` column spread into one column per feature."""
    frame = table.drop_columns([DYNAMIC]).to_pandas() if DYNAMIC in table.column_names else table.to_pandas()
    if DYNAMIC in table.column_names:
        spread = named.unpack(table.column(DYNAMIC))
        frame = pd.concat([frame, pd.DataFrame(spread, index=frame.index)], axis=1)
    return frame


_KINDS = {
    "mean": "mean of the day's values (gold.machine_sensor_daily)",
    "std": "within-day standard deviation (gold.machine_sensor_daily)",
    "max": "maximum of the day (gold.machine_sensor_daily)",
    "drift_7d": "drift of the day's mean against the previous 7 days (gold.machine_sensor_daily)",
    "drift_30d": "drift of the day's mean against the previous 30 days (gold.machine_sensor_daily)",
    "mean_ratio_7d": "day mean / the machine's median day mean over the previous 7 days - 1",
    "mean_ratio_30d": "day mean / the machine's median day mean over the previous 30 days - 1",
    "std_ratio_7d": "within-day std / its median over the previous 7 days",
    "max_ratio_7d": "day max / its median over the previous 7 days",
    "drift_7d_mean_3d": "mean of drift_7d over the last 3 days",
    "drift_7d_change_3d": "drift_7d minus drift_7d 3 days earlier",
}


def describe(name: str) -> str:
    """One line on what a feature is (the training set's column descriptions)."""
    if name in CATEGORICAL:
        return f"gold.machine_daily.{name} (categorical)"
    if name in MACHINE_NUMERIC:
        return f"gold.machine_daily.{name}"
    if name == "weekday":
        return "Day of the week, Monday = 0"
    if name == DYNAMIC:
        return ("The features of the machine's sensors and components, by name (a plant's own: per sensor "
                "<sensor>_mean, _std, _max, _drift_7d, _drift_30d and their ratios to recent days; per component "
                "days_since_maintenance_<component>, days_since_failure_<component>)")
    for prefix in _COMPONENT_PREFIXES:
        if name.startswith(prefix):
            return (f"Days since the {name[len(prefix):]} component's last {prefix.split('_')[2]} "
                    "(gold.machine_component_daily; null: none)")
    for kind in sorted(_KINDS, key=len, reverse=True):
        if name.endswith("_" + kind):
            return f"{name[: -len(kind) - 1]}: {_KINDS[kind]}"
    window = name.rsplit("_", 1)[-1]
    return f"{name[: -len(window) - 1]} summed over the last {window[:-1]} days, this one included"
