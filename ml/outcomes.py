"""Realized savings: per plant and month, what the actions taken on alerts saved against a plant without the model.

From gold.alert_outcomes (what followed each alert; ``transforms.outcomes``):

* **actions**: the work orders that acted on resolved alerts, each once however many alerts it
  answered (a machine alerted three days running and then maintained is one action). Its
  cost is the order's parts + hours x the playbook's labour rate when both are known, else
  the playbook's cost of the recommended action. It is booked in the month of its first alert.
* **failures avoided**: an action with no failure after it may have prevented one or may not
  have been needed; the lake cannot tell. It counts as a fraction of a failure avoided:
  ``probability`` = the highest failure probability of the alerts it answered (the model at
  alert time, calibrated); ``comparable`` = the failure rate, within the horizon, of the
  plant's resolved alerts of the month that nobody acted on (machines the model found as
  risky, left alone). Each fraction is worth its alert's predicted failure cost.
* **realized saving** = avoided failure cost - action cost. Against the no-model baseline
  (the same failures, plus those the actions avoided, and no actions) this is exactly
  ``no_model_cost_eur - with_model_cost_eur``: failures that came anyway, and failures no
  alert covered (misses), cost the same in both and cancel; they are shown beside it.

The method that ``realized_saving_eur`` holds is PLANTLAKE_SAVINGS_METHOD (``probability`` by
default: it needs no un-acted alerts, which a plant that acts on every alert never has).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import pandas as pd
import pyarrow as pa

from lakehouse.catalog import TableSpec
from lakehouse.delta import Lake
from ml.forecast import month_of
from ml.tables import ALERT_OUTCOMES, OUTCOME_DAYS, REALIZED_SAVINGS, as_table

METHODS = ("probability", "comparable")
MISSED = "missed_failure"
_ACTION_KEY = ["plant_id", "machine_id", "work_order_id", "action_at", "component"]
_FAILURE_KEY = ["machine_id", "failed_at"]


def _sum(frame: pd.DataFrame, column: str) -> float:
    return float(frame[column].sum()) if len(frame) else 0.0


def _actions(alerts: pd.DataFrame, labour_rate_eur_h: float) -> pd.DataFrame:
    """One row per work order that acted on resolved alerts: month, cost, failed after, the best alert's p and cost."""
    acted = alerts[alerts["acted"] & alerts["resolved"]].copy()
    if acted.empty:
        return pd.DataFrame(columns=["month", "plant_id", "failed", "p", "p_cost", "cost", "from_order",
                                     "predicted_cost"])
    acted["work_order_id"] = acted["work_order_id"].fillna("")
    order_cost = acted["action_parts_cost_eur"] + acted["action_labour_hours"] * labour_rate_eur_h
    acted["from_order"] = order_cost.notna()
    acted["cost"] = order_cost.fillna(acted["action_cost_eur"]).fillna(0.0)
    acted["p_cost"] = acted["failure_probability"] * acted["predicted_failure_cost_eur"]
    acted = acted.sort_values(["failure_probability", "date"], ascending=[False, True], kind="stable")
    grouped = acted.groupby(_ACTION_KEY, sort=False, dropna=False)
    out = grouped.agg(first=("date", "min"), failed=("failed", "any"), p=("failure_probability", "first"),
                      p_cost=("p_cost", "first"), predicted_cost=("predicted_failure_cost_eur", "first"),
                      cost=("cost", "first"), from_order=("from_order", "first")).reset_index()
    out["month"] = [month_of(pd.Timestamp(d).date()) for d in out["first"]]
    return out


def realized_savings(outcomes: pd.DataFrame, months: Iterable[dt.date], labour_rate_eur_h: float,
                     method: str = "probability") -> pd.DataFrame:
    """gold.realized_savings rows of ``months`` from gold.alert_outcomes rows.

    ``outcomes`` must hold the months' rows and those of the :data:`OUTCOME_DAYS` before (an
    action is booked in the month of its first alert, which may lie in the month before).
    """
    if method not in METHODS:
        raise ValueError(f"the realized-savings method must be one of {METHODS}, not {method!r}")
    wanted = sorted({month_of(m) for m in months})
    frame = outcomes.copy()
    frame["month"] = [month_of(pd.Timestamp(d).date()) for d in frame["date"]]
    for flag in ("acted", "resolved", "failed"):
        frame[flag] = frame[flag].astype(bool)
    alerts, missed = frame[frame["outcome"] != MISSED], frame[frame["outcome"] == MISSED]
    actions = _actions(alerts, labour_rate_eur_h)
    rows = []
    keys = pd.concat([frame[["month", "plant_id"]], actions[["month", "plant_id"]]]).drop_duplicates()
    for month, plant in sorted(keys[keys["month"].isin(wanted)].itertuples(index=False, name=None)):
        mine = alerts[(alerts["month"] == month) & (alerts["plant_id"] == plant)]
        done = mine[mine["resolved"]]
        acts = actions[(actions["month"] == month) & (actions["plant_id"] == plant)]
        kept = acts[~acts["failed"].astype(bool)]
        alone = done[~done["acted"]]
        rate = float(alone["failed"].mean()) if len(alone) else None
        hit = done[done["failed"]].drop_duplicates(_FAILURE_KEY)
        misses = missed[(missed["month"] == month) & (missed["plant_id"] == plant)]
        action_cost = _sum(acts, "cost")
        with_alert_cost, missed_cost = _sum(hit, "failure_cost_eur"), _sum(misses, "failure_cost_eur")
        avoided_p = _sum(kept, "p_cost")
        avoided_c = None if rate is None else rate * _sum(kept, "predicted_cost")
        with_model = with_alert_cost + missed_cost + action_cost
        avoided = avoided_p if method == "probability" else avoided_c
        rows.append({
            "month": month, "plant_id": plant, "method": method, "labour_rate_eur_h": float(labour_rate_eur_h),
            "alerts": len(mine), "alerts_resolved": len(done), "alerts_open": len(mine) - len(done),
            "expected_saving_eur": _sum(mine, "expected_saving_eur"),
            "expected_saving_resolved_eur": _sum(done, "expected_saving_eur"),
            "actions": len(acts), "actions_failed_after": int(acts["failed"].astype(bool).sum()),
            "actions_costed_from_work_orders": int(acts["from_order"].astype(bool).sum()),
            "action_cost_eur": action_cost,
            "alerts_no_event": int((alone["outcome"] == "no_event").sum()),
            "alerts_failed_despite": int((alone["outcome"] == "failed_despite_alert").sum()),
            "failures_avoided_probability": _sum(kept, "p"), "avoided_cost_probability_eur": avoided_p,
            "comparable_alerts": len(alone), "comparable_failure_rate": rate,
            "failures_avoided_comparable": None if rate is None else rate * len(kept),
            "avoided_cost_comparable_eur": avoided_c,
            "realized_saving_probability_eur": avoided_p - action_cost,
            "realized_saving_comparable_eur": None if avoided_c is None else avoided_c - action_cost,
            "realized_saving_eur": None if avoided is None else avoided - action_cost,
            "failures_with_alert": len(hit), "failures_with_alert_cost_eur": with_alert_cost,
            "missed_failures": len(misses), "missed_failure_cost_eur": missed_cost,
            "failures_cost_unknown": int(pd.concat([hit, misses])["failure_cost_eur"].isna().sum()),
            "with_model_cost_eur": with_model,
            "no_model_cost_eur": None if avoided is None else with_model - action_cost + avoided,
        })
    out = pd.DataFrame(rows, columns=REALIZED_SAVINGS.column_names)
    return out.sort_values(["month", "plant_id"], kind="stable").reset_index(drop=True)


def read_days(lake: Lake, spec: TableSpec | str, first: dt.date, last: dt.date,
              columns: Sequence[str] | None = None, version: int | None = None) -> pd.DataFrame:
    """A table's rows dated in [first, last] (empty, with its columns, before the table exists)."""
    rows = lake.read(spec, filters=[("date", ">=", first), ("date", "<=", last)], missing_ok=True,
                     columns=list(columns) if columns else None, version=version)
    return rows.to_pandas() if rows.num_rows else pd.DataFrame(columns=list(columns or rows.column_names))


def months_redone(nights: Sequence[dt.date]) -> list[dt.date]:
    """The months a run over ``nights`` recomputes: those of the outcome nights it redid."""
    return sorted({month_of(d) for d in ALERT_OUTCOMES.periods(nights)})


def read_outcomes(lake: Lake, first: dt.date, last: dt.date, columns: Sequence[str] | None = None,
                  version: int | None = None) -> pd.DataFrame:
    """gold.alert_outcomes rows dated in [first, last] (empty, with its columns, before the table exists)."""
    return read_days(lake, ALERT_OUTCOMES, first, last, columns, version)


def savings_for_months(lake: Lake, months: Sequence[dt.date], labour_rate_eur_h: float,
                       method: str = "probability") -> pa.Table:
    """gold.realized_savings rows of ``months`` from the lake's outcomes; nothing is written."""
    firsts = sorted({month_of(m) for m in months})
    if not firsts:
        return REALIZED_SAVINGS.schema.empty_table()
    last = (pd.Timestamp(firsts[-1]) + pd.offsets.MonthEnd(0)).date()
    outcomes = read_outcomes(lake, firsts[0] - dt.timedelta(days=OUTCOME_DAYS), last)
    return as_table(realized_savings(outcomes, firsts, labour_rate_eur_h, method), REALIZED_SAVINGS)


def write_savings(lake: Lake, rows: pa.Table, months: Sequence[dt.date], *, run_id: str | None = None) -> int:
    """Replace the months' slices of gold.realized_savings (every plant) with ``rows``."""
    return lake.replace_slices(REALIZED_SAVINGS, rows, {month_of(m): None for m in months}, run_id=run_id)


def alert_actions(lake: Lake, start: dt.date, end: dt.date, version: int | None = None) -> pd.DataFrame:
    """(machine_id, action_date) of the maintenance alerts dated in [start - OUTCOME_DAYS, end] triggered.

    What training (``ml.labels``) and the production monitor leave out: a machine-day whose
    horizon holds one of these cannot say whether the machine was healthy.
    """
    acted = read_outcomes(lake, start - dt.timedelta(days=OUTCOME_DAYS), end,
                          columns=["date", "machine_id", "acted", "action_delay_days"], version=version)
    acted = acted[acted["acted"].astype(bool)]
    dates = pd.to_datetime(acted["date"]) + pd.to_timedelta(acted["action_delay_days"].astype(float), unit="D")
    return pd.DataFrame({"machine_id": acted["machine_id"].to_numpy(), "action_date": dates.dt.date.to_numpy()},
                        columns=["machine_id", "action_date"]).drop_duplicates().reset_index(drop=True)

