"""Tables the models write: the training set, risk scores, alerts, the savings forecast, and promotion decisions.

The training set's columns come from the feature list (``ml.features``), so the table, the
model's signature and nightly scoring cannot disagree.
"""

from __future__ import annotations

from lakehouse.catalog import BOOL, DATE, FLOAT64, INT64, NETWORK, PLANT, STRING, TIMESTAMP, TableSpec, col
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
        col("horizon_days", INT64, "H: the label looks at the H days after date", nullable=False),
        col("failure_within_h", INT64, "1: an unplanned failure of the machine on a date in (date, date + H]",
            nullable=False),
        col("failing_component", STRING, "Component of the first failure in the window (null: none)"),
        col("days_to_failure", INT64, "Days from date to that failure (null: none)"),
        col("label_complete", BOOL, "The window (date, date + H] lies within the failures known when the set was "
            "built; only complete rows are trained on", nullable=False),
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

MODEL_PROMOTIONS = TableSpec(
    name="ops.model_promotions",
    description="Every promotion decision: a challenger becomes champion only if it beats the champion on the "
    "same holdout.",
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
    ),
    partition_by=("date",),
    natural_key=("model_name", "challenger_version"),
)

ML_TABLES = [FAILURE_TRAINING_SET, FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST, MODEL_PROMOTIONS]
