"""What the failure model learns: did the machine fail, unplanned, in the H days after date D?

label(D) = 1 when silver.failures has a failure of the machine on a plant-local date in
(D, D + H]; the failing component and the days to failure are those of the first such
failure. A failure on D itself is not in D's window: D's features already saw it. A row
whose window reaches past the last date the failures are known for (``known_until``)
cannot be labelled yet and is marked incomplete, so training never takes a failure that
has not been seen for a "no failure".

Alerts change what a label means: when maintenance an alert triggered falls in D's window
(the machine was alerted and then maintained, see gold.alert_outcomes), a "no failure" may
be a failure prevented, not a healthy machine. Such rows are marked
(``alert_action_in_horizon``) and count as incomplete too, so they are never trained on.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

LABEL = "failure_within_h"
LABEL_COLUMNS = ("horizon_days", LABEL, "failing_component", "days_to_failure", "alert_action_in_horizon",
                 "label_complete")


def label_frame(
    keys: pd.DataFrame,
    failures: pd.DataFrame,
    horizon_days: int,
    known_until: dt.date,
    actions: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``keys`` (date, machine_id, ...) with :data:`LABEL_COLUMNS` added, in the same order.

    ``failures`` are silver.failures rows (date, machine_id, failed_at, component) up to at
    least ``known_until``; failures after it are ignored, as if not yet known. ``actions``
    (machine_id, action_date) are the maintenance dates alerts triggered
    (:func:`ml.outcomes.alert_actions`).
    """
    if horizon_days < 1:
        raise ValueError(f"the horizon must be at least 1 day, got {horizon_days}")
    out = keys.copy()
    day = pd.to_datetime(out["date"]).dt.normalize().to_numpy("datetime64[D]")
    known = np.datetime64(known_until, "D")
    fails = failures.loc[:, ["date", "machine_id", "failed_at", "component"]].copy()
    fails["_day"] = pd.to_datetime(fails["date"]).dt.normalize()
    fails = fails[fails["_day"] <= pd.Timestamp(known_until)]
    fails = fails.sort_values(["machine_id", "_day", "failed_at"], kind="stable")

    days_to = np.full(len(out), np.nan)
    component = np.full(len(out), None, dtype=object)
    machines = out["machine_id"].to_numpy()
    for machine, group in fails.groupby("machine_id", sort=False):
        rows = np.flatnonzero(machines == machine)
        if not len(rows):
            continue
        fdays = group["_day"].to_numpy().astype("datetime64[D]")
        # the first failure strictly after D
        nxt = np.searchsorted(fdays, day[rows], side="right")
        hit = nxt < len(fdays)
        delta = np.full(len(rows), np.nan)
        delta[hit] = (fdays[nxt[hit]] - day[rows][hit]).astype(int)
        within = hit & (delta <= horizon_days)
        days_to[rows[within]] = delta[within]
        component[rows[within]] = group["component"].to_numpy()[nxt[within]]

    out["horizon_days"] = horizon_days
    out[LABEL] = (~np.isnan(days_to)).astype(np.int64)
    out["failing_component"] = component
    out["days_to_failure"] = days_to
    out["alert_action_in_horizon"] = _action_within(out["machine_id"].to_numpy(), day, actions, horizon_days)
    out["label_complete"] = (day + np.timedelta64(horizon_days, "D") <= known) & ~out["alert_action_in_horizon"]
    return out


def _action_within(machines: np.ndarray, day: np.ndarray, actions: pd.DataFrame | None,
                   horizon_days: int) -> np.ndarray:
    """True where an alert-triggered action of the machine is dated in (day, day + H]."""
    hit = np.zeros(len(day), dtype=bool)
    if actions is None or actions.empty:
        return hit
    dates = pd.to_datetime(actions["action_date"]).dt.normalize().to_numpy("datetime64[D]")
    for machine, when in actions.assign(_d=dates).groupby("machine_id", sort=False)["_d"]:
        rows = np.flatnonzero(machines == machine)
        if not len(rows):
            continue
        acted = np.sort(when.to_numpy())
        # the first action strictly after D is within the window
        nxt = np.searchsorted(acted, day[rows], side="right")
        inside = nxt < len(acted)
        inside[inside] = acted[nxt[inside]] <= day[rows][inside] + np.timedelta64(horizon_days, "D")
        hit[rows] = inside
    return hit
