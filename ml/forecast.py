"""The savings forecast: per plant and month, what acting on the alerts is expected to save.

So far: the sum of the month's alerts' expected savings (and failure probabilities, the
failures expected to be avoided). Projected: the same daily rate over the whole month,
counting the days the plant was scored (a plant that joined mid-month or a night not yet
run does not dilute the rate).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa

from lakehouse.delta import Lake
from ml.tables import SAVINGS_FORECAST, as_table


def month_of(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def savings_forecast(alerts: pd.DataFrame, scored_days: pd.DataFrame) -> pd.DataFrame:
    """gold.savings_forecast rows from the months' alerts and the (date, plant_id) pairs that were scored."""
    days = scored_days[["date", "plant_id"]].drop_duplicates().copy()
    days["month"] = [month_of(pd.Timestamp(d).date()) for d in days["date"]]
    out = days.groupby(["month", "plant_id"], as_index=False).agg(days_scored=("date", "nunique"))
    if not alerts.empty:
        raised = alerts.copy()
        raised["month"] = [month_of(pd.Timestamp(d).date()) for d in raised["date"]]
        sums = raised.groupby(["month", "plant_id"], as_index=False).agg(
            alerts=("alert_id", "count"), expected_failures_avoided=("failure_probability", "sum"),
            expected_saving_eur=("expected_saving_eur", "sum"))
        out = out.merge(sums, on=["month", "plant_id"], how="left")
    for column in ("alerts", "expected_failures_avoided", "expected_saving_eur"):
        out[column] = out[column].fillna(0) if column in out.columns else 0
    out["alerts"] = out["alerts"].astype("int64")
    out["days_scored"] = out["days_scored"].astype("int64")
    month_days = [calendar.monthrange(m.year, m.month)[1] for m in out["month"]]
    out["projected_month_saving_eur"] = out["expected_saving_eur"] / out["days_scored"] * month_days
    out["expected_failures_avoided"] = out["expected_failures_avoided"].astype(float)
    out["expected_saving_eur"] = out["expected_saving_eur"].astype(float)
    return out[SAVINGS_FORECAST.column_names].sort_values(["month", "plant_id"]).reset_index(drop=True)


def forecast(lake: Lake, months: Iterable[dt.date]) -> pa.Table:
    """gold.savings_forecast rows of ``months`` (any date in the month names it), from the lake; nothing is written.

    Reads the months' gold.maintenance_alerts and the scored (date, plant) pairs of
    gold.failure_risk. Write with :func:`write_forecast`.
    """
    firsts = sorted({month_of(m) for m in months})
    if not firsts:
        return SAVINGS_FORECAST.schema.empty_table()
    ranges = [[("date", ">=", m), ("date", "<=", m.replace(day=calendar.monthrange(m.year, m.month)[1]))]
              for m in firsts]
    alerts = lake.read("gold.maintenance_alerts", filters=ranges, missing_ok=True,
                       columns=["date", "plant_id", "alert_id", "failure_probability", "expected_saving_eur"])
    scored = lake.read("gold.failure_risk", filters=ranges, missing_ok=True, columns=["date", "plant_id"])
    rows = savings_forecast(alerts.to_pandas(), scored.to_pandas())
    return as_table(rows, SAVINGS_FORECAST)


def write_forecast(lake: Lake, rows: pa.Table, months: Sequence[dt.date], *, run_id: str | None = None) -> int:
    """Replace the months' slices of gold.savings_forecast (every plant of the month) with ``rows``."""
    return lake.replace_slices(SAVINGS_FORECAST, rows, {month_of(m): None for m in months}, run_id=run_id)
