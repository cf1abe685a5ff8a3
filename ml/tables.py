"""Tables the models write: the training set, risk scores, alerts, the savings forecast, and promotion decisions.

The training set's columns come from the feature list (``ml.features``), so the table, the
model's signature and nightly scoring cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from lakehouse.catalog import (
    BOOL,
    DATE,
    FLOAT64,
    INT64,
    NAMED_VALUES,
    NETWORK,
    PLANT,
    STRING,
    TIMESTAMP,
    Input,
    TableSpec,
    col,
    derived,
)
from ml import features as _features

FAILURE_TRAINING_SET = TableSpec(
    name="gold.failure_training_set",
    description="The failure model's training rows: per machine and day the features (ml.features) and the label, "
    "an unplanned failure in the H days after date, with the failing component and the days to it.",
    columns=(
        col("date", DATE, "Plant-local production date the features describe", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("machine_type", STRING, "Kind of machine (also a categorical feature)"),
        *(col(name, STRING if name in _features.CATEGORICAL else FLOAT64, _features.describe(name))
          for name in _features.FEATURES if name not in _features.KEYS),
        col(_features.DYNAMIC, NAMED_VALUES, _features.describe(_features.DYNAMIC), nullable=False),
        col("horizon_days", INT64, "H: the label looks at the H days after date", nullable=False),
        col("failure_within_h", INT64, "1: an unplanned failure of the machine on a date in (date, date + H]",
            nullable=False),
        col("failing_component", STRING, "Component of the first failure in the window (null: none)"),
        col("days_to_failure", INT64, "Days from date to that failure (null: none)"),
        col("alert_action_in_horizon", BOOL, "Maintenance an alert triggered (gold.alert_outcomes: acted) falls in "
            "(date, date + H]: a 'no failure' may be a failure prevented", nullable=False),
        col("label_complete", BOOL, "The window (date, date + H] lies within the failures known when the set was "
            "built and holds no alert-triggered maintenance; only complete rows are trained on", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id"),
)

FAILURE_RISK = TableSpec(
    name="gold.failure_risk",
    description="Per machine and day: the probability of an unplanned failure within the horizon, the likely "
    "component, what a failure would cost, the recommended action and the expected saving of acting.",
    columns=(
        col("date", DATE, "Plant-local production date the features describe", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("machine_type", STRING, "Kind of machine"),
        col("horizon_days", INT64, "H: the probability is of a failure in the H days after date", nullable=False,
            min=1),
        col("failure_probability", FLOAT64, "Calibrated P(unplanned failure within H days)", nullable=False,
            min=0, max=1),
        col("likely_component", STRING, "Component most likely to fail"),
        col("component_probability", FLOAT64, "P(that component is the one | a failure)", min=0, max=1),
        col("predicted_failure_cost_eur", FLOAT64, "Predicted cost of that failure: downtime x the machine's "
            "rate + repair", unit="EUR", min=0),
        col("recommended_action", STRING, "Preventive action from the maintenance playbook"),
        col("action_duration_h", FLOAT64, "Duration of the action", unit="h", min=0),
        col("action_cost_eur", FLOAT64, "Cost of the action", unit="EUR", min=0),
        col("expected_saving_eur", FLOAT64, "P x (predicted failure cost - action cost)", unit="EUR"),
        col("model_version", STRING, "Registered version of plantlake-failure that scored the row", nullable=False),
        col("cost_model_version", STRING, "Registered version of plantlake-failure-cost"),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id"),
    scope=PLANT,
)

MAINTENANCE_ALERTS = TableSpec(
    name="gold.maintenance_alerts",
    description="Alerts raised: machines whose expected saving is positive, within each plant's daily alert "
    "budget, with the action to take and the delivery status to the plant's alert sink.",
    columns=(
        col("date", DATE, "Plant-local date the alert is about", nullable=False),
        col("alert_id", STRING, "Stable id: the same machine, date and component always give the same id",
            nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("component", STRING, "Component expected to fail"),
        col("failure_probability", FLOAT64, "Calibrated P(failure within the horizon)", nullable=False, min=0, max=1),
        col("predicted_failure_cost_eur", FLOAT64, "Predicted cost of the failure", unit="EUR", min=0),
        col("recommended_action", STRING, "What to do (maintenance playbook)"),
        col("action_duration_h", FLOAT64, "How long it takes", unit="h"),
        col("action_cost_eur", FLOAT64, "What it costs", unit="EUR", min=0),
        col("expected_saving_eur", FLOAT64, "What acting saves, in expectation", unit="EUR", nullable=False, min=0),
        col("rank_in_plant", INT64, "1 = the plant's most valuable alert of the day", nullable=False, min=1),
        col("model_version", STRING, "Failure model version", nullable=False),
        col("status", STRING, "pending (not yet delivered to the webhook) or delivered", nullable=False,
            allowed=("pending", "delivered")),
        col("raised_at", TIMESTAMP, "When the alert was first raised", nullable=False),
        col("delivered_at", TIMESTAMP, "When the webhook accepted it"),
        col("delivery_attempts", INT64, "Webhook deliveries tried", nullable=False, min=0),
        col("last_error", STRING, "Why the last delivery failed"),
    ),
    partition_by=("date",),
    natural_key=("date", "alert_id"),
    scope=PLANT,
)

SAVINGS_FORECAST = TableSpec(
    name="gold.savings_forecast",
    description="Per plant and month: the EUR expected to be saved by acting on the month's alerts, so far and "
    "projected to the month's end at the same daily rate.",
    columns=(
        col("month", DATE, "First day of the month", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("days_scored", INT64, "Days of the month scored so far", nullable=False),
        col("alerts", INT64, "Alerts raised", nullable=False),
        col("expected_failures_avoided", FLOAT64, "Sum of the alerts' failure probabilities", nullable=False),
        col("expected_saving_eur", FLOAT64, "Sum of the alerts' expected savings", unit="EUR", nullable=False),
        col("projected_month_saving_eur", FLOAT64, "expected_saving_eur / days_scored x days in the month",
            unit="EUR", nullable=False),
    ),
    partition_by=("month",),
    natural_key=("month", "plant_id"),
    scope=NETWORK,  # each night recomputes its month for every plant
)

#: An alert's outcome waits for its horizon: runs redo (and read events this far past) the nights of the
#: last this many days, so horizons up to this long resolve and late events are picked up.
OUTCOME_DAYS = 30
_OUTCOMES = ("open", "acted_no_failure", "failed_after_action", "failed_despite_alert", "no_event", "missed_failure")

ALERT_OUTCOMES = TableSpec(
    name="gold.alert_outcomes",
    description="What followed each alert within its horizon (acted on, failed despite it, failed after the action, "
    "no event, or still open) and every failure no alert covered (missed_failure, with the risk the model gave "
    "the machine the days before). Recomputed each night for the last 30 days, as late events arrive.",
    columns=(
        col("date", DATE, "The alert's date; for a missed failure, the failure's date", nullable=False),
        col("outcome_id", STRING, "The alert's alert_id; for a missed failure, a hash of machine, time and component",
            nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("component", STRING, "The alerted component; for a missed failure, the one that failed"),
        col("model_version", STRING, "Failure model version that raised the alert (a miss: that scored the machine "
            "last before the failure)"),
        col("horizon_days", INT64, "H of the alert's (or the last covering score's) prediction", min=1,
            max=OUTCOME_DAYS),
        col("horizon_end", DATE, "date + H: the outcome is final once the plant's nights reach it (null: a miss)"),
        col("failure_probability", FLOAT64, "P(failure within H) at alert time; a miss: on the last day scored "
            "before the failure", min=0, max=1),
        col("max_failure_probability", FLOAT64, "A miss: the highest P of the scored days whose horizon covered the "
            "failure; an alert: its own P", min=0, max=1),
        col("predicted_failure_cost_eur", FLOAT64, "The alert's predicted failure cost", unit="EUR", min=0),
        col("action_cost_eur", FLOAT64, "The playbook's cost of the recommended action", unit="EUR", min=0),
        col("expected_saving_eur", FLOAT64, "The alert's expected saving", unit="EUR", min=0),
        col("outcome", STRING, "open, acted_no_failure (prevented or not needed: cannot be told apart), "
            "failed_after_action, failed_despite_alert, no_event (false alarm) or missed_failure", nullable=False,
            allowed=_OUTCOMES),
        col("resolved", BOOL, "Final: a failure followed, or the horizon has passed (horizon_end <= known_until)",
            nullable=False),
        col("acted", BOOL, "A non-corrective work order on the machine and alerted component in (date, horizon_end], "
            "before any failure", nullable=False),
        col("work_order_id", STRING, "That work order"),
        col("action_at", TIMESTAMP, "When it was performed (UTC)"),
        col("action_delay_days", INT64, "Its date - the alert's date", unit="days", min=1, max=OUTCOME_DAYS),
        col("action_labour_hours", FLOAT64, "The work order's technician hours", unit="h", min=0),
        col("action_parts_cost_eur", FLOAT64, "The work order's parts cost", unit="EUR", min=0),
        col("failed", BOOL, "A failure of the machine in (date, horizon_end] (a miss: always)", nullable=False),
        col("failed_at", TIMESTAMP, "The first such failure (UTC)"),
        col("failed_component", STRING, "Its component"),
        col("failure_downtime_minutes", FLOAT64, "Its downtime", unit="min", min=0),
        col("failure_repair_cost_eur", FLOAT64, "Its repair cost (parts and labour)", unit="EUR", min=0),
        col("downtime_cost_eur_h", FLOAT64, "The machine's downtime cost per hour (silver.dim_machine)", unit="EUR/h",
            min=0),
        col("failure_cost_eur", FLOAT64, "downtime / 60 x downtime_cost_eur_h + repair cost (null: either unknown)",
            unit="EUR", min=0),
        col("known_until", DATE, "The plant's last scored night the outcome is based on"),
    ),
    partition_by=("date",),
    natural_key=("date", "outcome_id"),
    scope=PLANT,
    derived=derived(
        "transforms.outcomes:alert_outcomes",
        reach_back_days=OUTCOME_DAYS,
        alerts=Input("gold.maintenance_alerts", days_before=OUTCOME_DAYS, columns=(
            "date", "alert_id", "plant_id", "line_id", "machine_id", "component", "failure_probability",
            "predicted_failure_cost_eur", "action_cost_eur", "expected_saving_eur", "model_version")),
        risk=Input("gold.failure_risk", days_before=OUTCOME_DAYS, days_after=OUTCOME_DAYS, columns=(
            "date", "plant_id", "line_id", "machine_id", "horizon_days", "failure_probability", "model_version")),
        failures=Input("silver.failures", days_before=OUTCOME_DAYS, days_after=OUTCOME_DAYS),
        maintenance=Input("silver.maintenance", days_after=OUTCOME_DAYS),
        machines=Input("silver.dim_machine", everything=True, columns=("machine_id", "downtime_cost_eur_h")),
    ),
)

_EUR = {"unit": "EUR"}

REALIZED_SAVINGS = TableSpec(
    name="gold.realized_savings",
    description="Per plant and month, beside the alerts' expected saving: the saving realized by the actions taken "
    "on them, against a plant without the model, from gold.alert_outcomes. Every assumption is a column: the "
    "method (failures avoided from the model's probability at alert time, or from the failure rate of the plant's "
    "alerts nobody acted on), the labour rate, what was costed how. A month is final once its last alerts' horizons "
    "have passed (alerts_open = 0). Each night recomputes the months of the last 30 days.",
    columns=(
        col("month", DATE, "First day of the month (of the alert; of the failure for a miss)", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("method", STRING, "Which estimate realized_saving_eur is (PLANTLAKE_SAVINGS_METHOD)", nullable=False,
            allowed=("probability", "comparable")),
        col("labour_rate_eur_h", FLOAT64, "The playbook's labour rate, pricing work orders' hours", unit="EUR/h",
            nullable=False, min=0),
        col("alerts", INT64, "Alerts raised", nullable=False, min=0),
        col("alerts_resolved", INT64, "Of those, with a final outcome", nullable=False, min=0),
        col("alerts_open", INT64, "Of those, whose horizon has not passed: not in the realized figures yet",
            nullable=False, min=0),
        col("expected_saving_eur", FLOAT64, "Sum of the alerts' expected savings (as gold.savings_forecast; an "
            "alert repeated on following days counts each day)", nullable=False, **_EUR),
        col("expected_saving_resolved_eur", FLOAT64, "The same over the resolved alerts", nullable=False, **_EUR),
        col("actions", INT64, "Work orders that acted on resolved alerts (one per order, however many alerts it "
            "answered)", nullable=False, min=0),
        col("actions_failed_after", INT64, "Of those, followed by a failure anyway", nullable=False, min=0),
        col("actions_costed_from_work_orders", INT64, "Of those, costed from the order's parts and hours (the "
            "others at the playbook's action cost)", nullable=False, min=0),
        col("action_cost_eur", FLOAT64, "Cost of those actions", nullable=False, min=0, **_EUR),
        col("alerts_no_event", INT64, "Resolved alerts nobody acted on and no failure followed (false alarms)",
            nullable=False, min=0),
        col("alerts_failed_despite", INT64, "Resolved alerts nobody acted on in time and a failure followed",
            nullable=False, min=0),
        col("failures_avoided_probability", FLOAT64, "Per action without a failure after it: the highest failure "
            "probability of the alerts it answered, summed", nullable=False, min=0),
        col("avoided_cost_probability_eur", FLOAT64, "Per such action: probability x the alert's predicted failure "
            "cost, summed", nullable=False, **_EUR),
        col("comparable_alerts", INT64, "The plant's resolved alerts of the month nobody acted on: the comparable "
            "machines without action", nullable=False, min=0),
        col("comparable_failure_rate", FLOAT64, "Share of those followed by a failure (null: none to compare with)",
            min=0, max=1),
        col("failures_avoided_comparable", FLOAT64, "Actions without a failure after them x comparable_failure_rate",
            min=0),
        col("avoided_cost_comparable_eur", FLOAT64, "comparable_failure_rate x their alerts' predicted failure costs",
            **_EUR),
        col("realized_saving_probability_eur", FLOAT64, "avoided_cost_probability_eur - action_cost_eur",
            nullable=False, **_EUR),
        col("realized_saving_comparable_eur", FLOAT64, "avoided_cost_comparable_eur - action_cost_eur (null: no "
            "comparable alerts)", **_EUR),
        col("realized_saving_eur", FLOAT64, "The estimate of the method: no_model_cost_eur - with_model_cost_eur",
            **_EUR),
        col("failures_with_alert", INT64, "Failures that came within an alert's horizon (each failure once)",
            nullable=False, min=0),
        col("failures_with_alert_cost_eur", FLOAT64, "Their cost (downtime x rate + repair; unknown costs left out)",
            nullable=False, min=0, **_EUR),
        col("missed_failures", INT64, "Failures no alert covered", nullable=False, min=0),
        col("missed_failure_cost_eur", FLOAT64, "Their cost: the same with and without the model, so it cancels "
            "out of the realized saving; what the model left on the table", nullable=False, min=0, **_EUR),
        col("failures_cost_unknown", INT64, "Failures above whose cost is unknown (left out of the sums)",
            nullable=False, min=0),
        col("with_model_cost_eur", FLOAT64, "What failures and actions cost: failures_with_alert_cost_eur + "
            "missed_failure_cost_eur + action_cost_eur", nullable=False, min=0, **_EUR),
        col("no_model_cost_eur", FLOAT64, "The no-model baseline: the same failures + the failures the actions "
            "avoided (the method's estimate), no actions", min=0, **_EUR),
    ),
    partition_by=("month",),
    natural_key=("month", "plant_id"),
    at_most=(("alerts_resolved", "alerts"), ("alerts_open", "alerts"), ("actions_failed_after", "actions"),
             ("actions_costed_from_work_orders", "actions")),
    scope=NETWORK,  # each night recomputes its months for every plant
)

def _interval(name: str, description: str, **bounds):
    """A figure and its 95 % interval's bounds (bootstrap over machines; null: no interval)."""
    return (col(name, FLOAT64, description, **bounds),
            col(f"{name}_low", FLOAT64, f"Lower bound of {name}'s 95 % interval", **bounds),
            col(f"{name}_high", FLOAT64, f"Upper bound of {name}'s 95 % interval", **bounds))


_SHARE = {"min": 0, "max": 1}

MODEL_MONITOR = TableSpec(
    name="gold.model_monitor",
    description="The failure model watched in production, per night and model version: over the scored days whose "
    "horizon has passed (the monitor window), the holdout's measures computed the same way (top B machines per plant "
    "and day by probability; machine-days an alert-triggered action censors left out, as in training) beside the "
    "holdout's figures and intervals; the raised alerts' own precision and catch rate; and the drift of the scored "
    "features against the training set's holdout rows. A WARN check fires on precision outside the holdout interval "
    "or on drift.",
    columns=(
        col("date", DATE, "The night the monitor ran for", nullable=False),
        col("model_name", STRING, "Registered model", nullable=False),
        col("model_version", STRING, "Version that scored the window's rows", nullable=False),
        col("is_champion", BOOL, "The version held the champion alias when the monitor ran", nullable=False),
        col("horizon_days", INT64, "H of its predictions", nullable=False, min=1),
        col("alert_budget", INT64, "B: machines per plant and day counted as alerted (the holdout's budget)",
            nullable=False, min=0),
        col("window_start", DATE, "First scored day of the window", nullable=False),
        col("window_end", DATE, "Last scored day of the window: date - H", nullable=False),
        col("machine_days", INT64, "Scored machine-days of the window, labelled", nullable=False, min=0),
        col("censored_machine_days", INT64, "Left out: an alert-triggered action falls in their horizon",
            nullable=False, min=0),
        col("positive_machine_days", INT64, "Followed by a failure within H", nullable=False, min=0),
        col("alerted_machine_days", INT64, "Of the top B per plant and day", nullable=False, min=0),
        *_interval("precision_at_budget", "Share of the top B machine-days followed by a failure", **_SHARE),
        col("recall_at_budget", FLOAT64, "Share of positive machine-days in the top B", **_SHARE),
        *_interval("precision_per_failure", "Share of alert episodes (top B, at most H days apart) followed by a "
                   "failure", **_SHARE),
        col("failures", INT64, "Failures of the window's machines that its days could catch", nullable=False, min=0),
        *_interval("catch_rate", "Share of those failures whose machine was in the top B on one of the H days "
                   "before", **_SHARE),
        col("pr_auc", FLOAT64, "Average precision of the probabilities over the window", **_SHARE),
        col("alerts_resolved", INT64, "Raised alerts of the window's days with a final outcome", nullable=False,
            min=0),
        col("alert_precision", FLOAT64, "Of those (acted_no_failure left out: unknowable), the share a failure "
            "followed", **_SHARE),
        col("alert_catch_rate", FLOAT64, "Failures an alert covered / (those + missed failures), over the outcome "
            "rows of the window", **_SHARE),
        *_interval("holdout_precision_at_budget", "The version's precision_at_budget on its holdout", **_SHARE),
        *_interval("holdout_catch_rate", "The version's catch_rate on its holdout", **_SHARE),
        col("holdout_intervals", STRING, "Where the holdout precision's interval comes from: the bootstrap training "
            "logged, or a Wilson interval from the holdout's counts (a version trained before intervals)",
            nullable=False, allowed=("bootstrap", "wilson", "none")),
        col("drift_rows", INT64, "Scored machine-days whose features were compared (the last PLANTLAKE_DRIFT_DAYS "
            "nights)", nullable=False, min=0),
        col("drift_nights", INT64, "Nights they cover; drift is judged once they are PLANTLAKE_DRIFT_DAYS",
            nullable=False, min=0),
        col("reference_rows", INT64, "Training-set rows compared with (the version's holdout dates)",
            nullable=False, min=0),
        col("features_compared", INT64, "Features both sides have", nullable=False, min=0),
        col("features_drifted", INT64, "Of those, with PSI above the threshold", nullable=False, min=0),
        col("max_psi", FLOAT64, "The largest population stability index", min=0),
        col("max_psi_feature", STRING, "Its feature"),
        col("psi_threshold", FLOAT64, "PLANTLAKE_DRIFT_PSI_THRESHOLD", nullable=False, min=0),
        col("precision_alarm", BOOL, "precision_at_budget lies outside the holdout interval (judged with at least "
            "PLANTLAKE_MONITOR_MIN_ALERTS alerted machine-days)", nullable=False),
        col("drift_alarm", BOOL, "Some feature's PSI exceeds the threshold (judged over PLANTLAKE_DRIFT_DAYS "
            "scored nights)", nullable=False),
        col("verdict", STRING, "What the check says, in words", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "model_version"),
    at_most=(("censored_machine_days", "machine_days"), ("positive_machine_days", "machine_days"),
             ("features_drifted", "features_compared")),
    scope=NETWORK,
)

FEATURE_DRIFT = TableSpec(
    name="gold.feature_drift",
    description="Per night, model version and feature: the population stability index of the last scored nights' "
    "feature values against the version's training set on its holdout dates, the rows its holdout figures were "
    "measured on (deciles of those values, plus missing values as a bin of their own; categories by value).",
    columns=(
        col("date", DATE, "The night the monitor ran for", nullable=False),
        col("model_version", STRING, "Version whose scored rows and training set are compared", nullable=False),
        col("feature", STRING, "Feature", nullable=False),
        col("psi", FLOAT64, "Sum over bins of (scored share - training share) x ln(scored share / training share)",
            nullable=False, min=0),
        col("drifted", BOOL, "psi above PLANTLAKE_DRIFT_PSI_THRESHOLD", nullable=False),
        col("scored_rows", INT64, "Scored machine-days compared", nullable=False, min=0),
        col("reference_rows", INT64, "Training-set rows compared (the holdout's)", nullable=False, min=0),
        col("scored_missing_share", FLOAT64, "Share of scored rows without a value", **_SHARE),
        col("reference_missing_share", FLOAT64, "Share of training rows without a value", **_SHARE),
        col("scored_median", FLOAT64, "Median of the scored values (numeric features)"),
        col("reference_median", FLOAT64, "Median of the training values (numeric features)"),
    ),
    partition_by=("date",),
    natural_key=("date", "model_version", "feature"),
    scope=NETWORK,
)

MODEL_PROMOTIONS = TableSpec(
    name="ops.model_promotions",
    description="Every promotion decision: a challenger becomes champion only if it beats the baseline, and the "
    "champion by more than the margin, on the same holdout, each by a 95 % interval above it (ml/gate.py).",
    columns=(
        col("date", DATE, "UTC date of the decision", nullable=False),
        col("decided_at", TIMESTAMP, "When", nullable=False),
        col("model_name", STRING, "Registered model", nullable=False),
        col("challenger_version", STRING, "Version trained by this run", nullable=False),
        col("champion_version", STRING, "Champion before the decision (null: there was none)"),
        col("metric", STRING, "pr_auc (higher is better) or mae_eur (lower is better)", nullable=False),
        col("challenger_score", FLOAT64, "Challenger on the holdout", nullable=False),
        col("champion_score", FLOAT64, "Champion on the same holdout (null: there was none)"),
        col("promoted", BOOL, "Whether the challenger became champion", nullable=False),
        col("reason", STRING, "Why", nullable=False),
        col("holdout", STRING, "The holdout: its date range and rows", nullable=False),
        col("mlflow_run_id", STRING, "MLflow run of the challenger", nullable=False),
        col("dagster_run_id", STRING, "Dagster run that trained it"),
        # added with the intervals: null in decisions recorded before
        *(col(f"{who}_{end}", FLOAT64, f"{end.capitalize()} end of the {who} score's 95 % interval (bootstrap over "
              "machines; null: none)") for who in ("challenger", "champion", "baseline") for end in ("low", "high")),
        col("baseline_score", FLOAT64, "The baseline (a logistic regression on the daily sensor means and "
            "spreads; per-component median cost) on the same holdout"),
        *(col(name, FLOAT64, f"{text} (positive: the challenger is better; null: no {other})")
          for other in ("champion", "baseline") for name, text in (
              (f"gain_vs_{other}", f"Paired difference challenger - {other}"),
              (f"gain_vs_{other}_low", "Low end of its 95 % interval"),
              (f"gain_vs_{other}_high", "High end of its 95 % interval"))),
        col("margin", FLOAT64, "PLANTLAKE_PROMOTION_MARGIN: how far above the champion the interval must lie"),
        col("holdout_failures", INT64, "Failures in the holdout: how much evidence the scores rest on"),
    ),
    partition_by=("date",),
    natural_key=("model_name", "challenger_version"),
)

ML_TABLES = [FAILURE_TRAINING_SET, FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST, ALERT_OUTCOMES,
             REALIZED_SAVINGS, MODEL_MONITOR, FEATURE_DRIFT, MODEL_PROMOTIONS]


def as_table(rows: Sequence[Mapping[str, Any]] | pd.DataFrame, spec: TableSpec) -> pa.Table:
    """Rows (dicts or a frame) as Arrow with ``spec``'s exact schema and column order (None and NaN become nulls)."""
    frame = pd.DataFrame(list(rows) if not isinstance(rows, pd.DataFrame) else rows, columns=spec.column_names)
    frame = frame.astype(object).where(frame.notna(), None)
    return pa.Table.from_pandas(frame, schema=spec.schema, preserve_index=False)
