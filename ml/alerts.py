"""Alerts: which machines each plant should act on today, within its daily alert budget.

A machine gets an alert when acting is expected to pay (expected saving > 0) and it is
among the plant's K most valuable alerts of the day (K = PLANTLAKE_ALERT_BUDGET): a
maintenance team can only act on so many machines a day, so the budget goes to the
largest expected savings. The alert id is a hash of date, machine and component, so a
re-run of the night raises the same alerts with the same ids and keeps their delivery
state: an alert already delivered is never re-sent and never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from lakehouse.delta import Lake
from lakehouse.settings import get_settings
from ml.tables import MAINTENANCE_ALERTS, as_table

PENDING, DELIVERED = "pending", "delivered"
_STATE = ("status", "raised_at", "delivered_at", "delivery_attempts", "last_error")


def alert_id(date: dt.date, machine_id: str, component: str | None) -> str:
    """Stable id: the same date, machine and component always give the same id."""
    key = f"{pd.Timestamp(date).date().isoformat()}|{machine_id}|{component or ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def _utc(when: dt.datetime) -> pd.Timestamp:
    stamp = pd.Timestamp(when)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def raise_alerts(risk: pd.DataFrame, budget: int, *, existing: pd.DataFrame | None = None,
                 now: dt.datetime | None = None) -> pd.DataFrame:
    """gold.maintenance_alerts rows (catalog columns) for the nights of ``risk`` (gold.failure_risk rows).

    ``existing`` are the alerts already stored for those nights: an alert raised again keeps
    its status, raised_at, delivery attempts and error; a delivered alert that is no longer
    raised (e.g. a new model) is kept as it was, since the plant has it.
    """
    now = now or dt.datetime.now(dt.UTC)
    candidates = risk[risk["expected_saving_eur"].notna() & (risk["expected_saving_eur"] > 0)].copy()
    candidates = candidates.sort_values(["date", "plant_id", "expected_saving_eur", "machine_id"],
                                        ascending=[True, True, False, True], kind="stable")
    candidates["rank_in_plant"] = candidates.groupby(["date", "plant_id"], sort=False).cumcount() + 1
    chosen = candidates[candidates["rank_in_plant"] <= budget].copy()
    chosen["component"] = chosen["likely_component"]
    chosen["alert_id"] = [alert_id(d, m, c) for d, m, c in zip(chosen["date"], chosen["machine_id"],
                                                               chosen["component"], strict=True)]
    chosen["status"] = PENDING
    chosen["raised_at"] = _utc(now)
    chosen["delivered_at"] = pd.NaT
    chosen["delivery_attempts"] = 0
    chosen["last_error"] = None
    chosen = chosen.reset_index(drop=True)
    if existing is not None and not existing.empty:
        old = existing.set_index("alert_id")
        again = chosen["alert_id"].isin(old.index).to_numpy()
        for column in _STATE:
            values = chosen[column].astype(object).to_numpy()
            values[again] = old.loc[chosen.loc[again, "alert_id"], column].astype(object).to_numpy()
            chosen[column] = values
        kept = existing[(existing["status"] == DELIVERED) & ~existing["alert_id"].isin(chosen["alert_id"])]
        chosen = pd.concat([chosen[MAINTENANCE_ALERTS.column_names], kept[MAINTENANCE_ALERTS.column_names]],
                           ignore_index=True)
    return chosen[MAINTENANCE_ALERTS.column_names].sort_values(["date", "plant_id", "rank_in_plant", "alert_id"],
                                                               kind="stable").reset_index(drop=True)


def alerts_table(rows: pd.DataFrame) -> pa.Table:
    """Rows as Arrow with gold.maintenance_alerts' exact schema."""
    frame = rows[MAINTENANCE_ALERTS.column_names].copy()
    frame["delivery_attempts"] = frame["delivery_attempts"].astype(np.int64)
    frame["rank_in_plant"] = frame["rank_in_plant"].astype(np.int64)
    for column in ("raised_at", "delivered_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return as_table(frame, MAINTENANCE_ALERTS)


def _read(lake: Lake, table, dates: Sequence[dt.date], plants: Sequence[str] | None) -> pd.DataFrame:
    filters = [("date", "in", list(dates))] + ([("plant_id", "in", list(plants))] if plants else [])
    return lake.read(table, filters=filters, missing_ok=True).to_pandas()


def alerts_for_nights(lake: Lake, dates: Sequence[dt.date], plants: Sequence[str] | None = None, *,
                      risk: pa.Table | pd.DataFrame | None = None, budget: int | None = None,
                      now: dt.datetime | None = None) -> pa.Table:
    """gold.maintenance_alerts rows for the nights, from their gold.failure_risk rows (read if not given).

    Nothing is written: write them with :func:`write_alerts` (replaces the nights' slices).
    """
    budget = get_settings().ml.alert_budget if budget is None else budget
    if risk is None:
        risk = _read(lake, "gold.failure_risk", dates, plants)
    elif isinstance(risk, pa.Table):
        risk = risk.to_pandas()
    existing = _read(lake, MAINTENANCE_ALERTS, dates, plants)
    return alerts_table(raise_alerts(risk, budget, existing=existing, now=now))


def write_alerts(lake: Lake, rows: pa.Table, dates: Sequence[dt.date], plants: Sequence[str] | None = None, *,
                 run_id: str | None = None) -> int:
    return lake.replace_slices(MAINTENANCE_ALERTS, rows, {d: (list(plants) if plants else None) for d in dates},
                               run_id=run_id)
