"""Nightly scoring: gold.machine_daily rows in, gold.failure_risk rows out.

For each machine and night: the calibrated failure probability within the horizon, the
likely component, what its failure would cost (cost model), the playbook's preventive
action for it and the expected saving of acting:

    expected_saving_eur = P(failure) x (predicted failure cost - cost of the preventive action)

Scoring is a pure function of its inputs and the model versions: scoring the same night
twice gives the same rows, and writing them replaces exactly that night's slice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from lakehouse.delta import Lake
from lakehouse.settings import get_settings
from ml import features as F
from ml.playbook import Playbook
from ml.tables import FAILURE_RISK, as_table
from ml.threads import compute_threads


@dataclass
class Champions:
    """The models that score: the failure model and (optionally) the cost model, with their registered versions."""

    failure: Any
    failure_version: str
    cost: Any | None = None
    cost_version: str | None = None

    @property
    def horizon_days(self) -> int:
        return int(self.failure.horizon_days)

    @compute_threads()
    def predict(self, machine_daily: pd.DataFrame, component_daily: pd.DataFrame | None = None,
                start: dt.date | None = None) -> pd.DataFrame:
        """Keys and predictions for the gold.machine_daily rows from ``start`` on (earlier rows are history)."""
        frame = F.feature_frame(machine_daily, component_daily, start=start, numeric=self.failure.numeric)
        out = frame[list(F.KEYS)].copy()
        if frame.empty:
            return out.assign(failure_probability=[], likely_component=[], component_probability=[],
                              predicted_failure_cost_eur=[])
        out["failure_probability"] = self.failure.predict_proba(frame)[:, 1]
        out["likely_component"], out["component_probability"] = self.failure.predict_component(frame)
        if self.cost is not None:
            rate = machine_daily[["date", "machine_id", "downtime_cost_eur_h"]].copy()
            rate["date"] = pd.to_datetime(rate["date"]).dt.date
            cost_input = frame[["date", "machine_id", "machine_type", "criticality", "age_years"]].merge(
                rate, on=["date", "machine_id"], how="left")
            cost_input["component"] = out["likely_component"].to_numpy()
            out["predicted_failure_cost_eur"] = self.cost.predict(cost_input)
        else:
            out["predicted_failure_cost_eur"] = np.nan
        return out


def score(champions: Champions, machine_daily: pd.DataFrame, component_daily: pd.DataFrame | None,
          dates: Iterable[dt.date], playbook: Playbook) -> pd.DataFrame:
    """gold.failure_risk rows (exact catalog columns) for ``dates``; ``machine_daily`` may hold earlier history."""
    dates = sorted({pd.Timestamp(d).date() for d in dates})
    if not dates:
        return FAILURE_RISK.schema.empty_table().to_pandas()
    predicted = champions.predict(machine_daily, component_daily, start=dates[0])
    predicted = predicted[predicted["date"].isin(dates)].reset_index(drop=True)
    actions = [playbook.action_for(c) for c in predicted["likely_component"]]
    predicted["horizon_days"] = champions.horizon_days
    predicted["recommended_action"] = [a.action for a in actions]
    predicted["action_duration_h"] = np.array([a.duration_h for a in actions], dtype=float)
    predicted["action_cost_eur"] = np.array([a.cost_eur for a in actions], dtype=float)
    predicted["expected_saving_eur"] = predicted["failure_probability"] * (
        predicted["predicted_failure_cost_eur"] - predicted["action_cost_eur"])
    predicted["model_version"] = champions.failure_version
    predicted["cost_model_version"] = champions.cost_version
    return predicted[FAILURE_RISK.column_names]


def read_inputs(lake: Lake, dates: Sequence[dt.date], plants: Sequence[str] | None = None,
                history_days: int = F.HISTORY_DAYS) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int | None]]:
    """gold.machine_daily with its sensors' statistics (gold.machine_sensor_daily; ``history_days`` before the
    first date) and gold.machine_component_daily of ``dates``.

    Returns both as pandas and the Delta versions read (each table read at one pinned version).
    """
    first, last = min(dates), max(dates)
    plant_filter = [("plant_id", "in", list(plants))] if plants else []
    versions = {name: lake.version(name) for name in ("gold.machine_daily", "gold.machine_sensor_daily",
                                                      "gold.machine_component_daily")}
    daily = machine_days(lake, versions, [("date", ">=", first - dt.timedelta(days=history_days)),
                                          ("date", "<=", last), *plant_filter])
    if versions["gold.machine_component_daily"] is None:
        component = pd.DataFrame(columns=list(F.COMPONENT_COLUMNS))
    else:
        component = lake.read("gold.machine_component_daily", version=versions["gold.machine_component_daily"],
                              columns=list(F.COMPONENT_COLUMNS),
                              filters=[("date", ">=", first), ("date", "<=", last), *plant_filter]).to_pandas()
    return daily, component, versions


def machine_days(lake: Lake, versions: dict[str, int | None], filters: list) -> pd.DataFrame:
    """gold.machine_daily rows (at their pinned version) with their sensors' daily statistics as columns."""
    daily = lake.read("gold.machine_daily", version=versions["gold.machine_daily"], columns=list(F.DAILY_COLUMNS),
                      filters=filters).to_pandas()
    sensors = lake.read("gold.machine_sensor_daily", version=versions.get("gold.machine_sensor_daily"),
                        columns=list(F.SENSOR_COLUMNS), filters=filters, missing_ok=True).to_pandas()
    return F.with_sensors(daily, sensors)


def score_night(lake: Lake, dates: Sequence[dt.date] | dt.date, plants: Sequence[str] | None = None, *,
                champions: Champions | None = None, playbook: Playbook | None = None) -> pa.Table:
    """gold.failure_risk rows for ``dates`` (and ``plants``), scored by the champions; nothing is written.

    Write them with ``lake.replace_slices(FAILURE_RISK, rows, {d: plants for d in dates})``
    (:func:`write_risk`).
    """
    from ml.registry import load_champions  # MLflow only when the caller did not bring the models

    dates = [dates] if isinstance(dates, dt.date) else list(dates)
    champions = champions or load_champions()
    playbook = playbook or Playbook.load(get_settings().ml.playbook)
    daily, component, _ = read_inputs(lake, dates, plants)
    return as_table(score(champions, daily, component, dates, playbook), FAILURE_RISK)


def write_risk(lake: Lake, rows: pa.Table, dates: Sequence[dt.date], plants: Sequence[str] | None = None, *,
               run_id: str | None = None) -> int:
    """Replace the nights' slices of gold.failure_risk with ``rows``; returns the new version."""
    return lake.replace_slices(FAILURE_RISK, rows, {d: (list(plants) if plants else None) for d in dates},
                               run_id=run_id)
