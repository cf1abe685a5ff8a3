"""What happened after each alert, and which failures came without one (gold.alert_outcomes).

An alert raised for machine M on date A with horizon H looks at the days (A, A + H]:

* **acted on**: a work order that is not corrective on M and the alerted component (any
  component when the alert names none) dated in (A, A + H], before any failure of M in it;
  the first such order is the action, ``action_delay_days`` = its date - A;
* **failed**: a failure of M (any component) dated in (A, A + H]; the first one counts.

``outcome``: ``failed_after_action`` (acted, then failed), ``failed_despite_alert`` (failed,
no action before it), ``acted_no_failure`` (acted, no failure: a prevented failure and an
action that was not needed cannot be told apart), ``no_event`` (neither: a false alarm within
the horizon), ``open`` (no failure yet and the horizon has not passed: the last night known
for the plant, ``known_until``, is before A + H). A failure of M whose date D has no alert of
M covering it (A < D <= A + H) while the model scored M on a day whose horizon covered D is a
``missed_failure`` row, dated D, with the risk the model gave M on those days. Failures of
machines the model never scored before them are no one's miss and are left out.

Every outcome is a function of the events in the inputs only, so a night recomputed later
with the same events gives the same rows.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

#: gold.alert_outcomes' columns, in the catalog's order (a test holds them equal).
COLUMNS = (
    "date", "outcome_id", "plant_id", "line_id", "machine_id", "component", "model_version", "horizon_days",
    "horizon_end", "failure_probability", "max_failure_probability", "predicted_failure_cost_eur",
    "action_cost_eur", "expected_saving_eur", "outcome", "resolved", "acted", "work_order_id", "action_at",
    "action_delay_days", "action_labour_hours", "action_parts_cost_eur", "failed", "failed_at", "failed_component",
    "failure_downtime_minutes", "failure_repair_cost_eur", "downtime_cost_eur_h", "failure_cost_eur", "known_until",
)


def _first(frame: DataFrame, key: str, order: str) -> DataFrame:
    """The first row per ``key`` by ``order`` (ties: the frame's other columns decide nothing; order is total)."""
    rank = F.row_number().over(Window.partitionBy(key).orderBy(F.col(order), F.col("_tiebreak")))
    return frame.withColumn("_n", rank).where(F.col("_n") == 1).drop("_n", "_tiebreak")


def _failure_cost(rate: Column) -> Column:
    """Downtime x the machine's hourly rate + the repair; null when either is unknown."""
    return F.col("failure_downtime_minutes") / 60.0 * rate + F.col("failure_repair_cost_eur")


def _failure_columns(failures: DataFrame) -> DataFrame:
    return failures.select(
        "machine_id", F.col("date").alias("_fdate"), "failed_at", F.col("component").alias("failed_component"),
        F.col("downtime_minutes").cast("double").alias("failure_downtime_minutes"),
        F.col("repair_cost_eur").cast("double").alias("failure_repair_cost_eur"),
    )


def alert_outcomes(alerts: DataFrame, risk: DataFrame, failures: DataFrame, maintenance: DataFrame,
                   machines: DataFrame) -> DataFrame:
    """gold.alert_outcomes rows: one per alert and one per missed failure (columns in :data:`COLUMNS` order).

    ``alerts`` are gold.maintenance_alerts rows, ``risk`` gold.failure_risk rows (the horizon of
    each scored day, the nights known per plant, and the misses' risk), ``failures`` and
    ``maintenance`` the silver events following them, ``machines`` silver.dim_machine.
    """
    known = risk.groupBy("plant_id").agg(F.max("date").alias("known_until"))
    day_horizon = risk.groupBy("date").agg(F.max("horizon_days").alias("_day_horizon"))
    rate = machines.select("machine_id", F.col("downtime_cost_eur_h").cast("double").alias("downtime_cost_eur_h"))
    a = (
        alerts.join(risk.select("date", "machine_id", "horizon_days"), ["date", "machine_id"], "left")
        .join(day_horizon, "date", "left")
        .withColumn("horizon_days", F.coalesce("horizon_days", "_day_horizon").cast("long"))
        .withColumn("horizon_end", F.date_add("date", F.col("horizon_days").cast("int")))
        .drop("_day_horizon")
    )
    covered = (F.col("_fdate") > F.col("date")) & (F.col("_fdate") <= F.col("horizon_end"))

    failed = a.select("alert_id", "machine_id", "date", "horizon_end").join(_failure_columns(failures), "machine_id")
    failed = _first(failed.where(covered).withColumn("_tiebreak", F.col("failed_component")), "alert_id", "failed_at")

    orders = maintenance.where(F.coalesce(F.col("maintenance_type"), F.lit("")) != "corrective").select(
        "machine_id", F.col("date").alias("_mdate"), F.col("component").alias("_mcomponent"), "work_order_id",
        F.col("performed_at").alias("action_at"), F.col("labour_hours").cast("double").alias("action_labour_hours"),
        F.col("parts_cost_eur").cast("double").alias("action_parts_cost_eur"))
    acted = (
        a.select("alert_id", "machine_id", "component", "date", "horizon_end").join(orders, "machine_id")
        .where((F.col("_mdate") > F.col("date")) & (F.col("_mdate") <= F.col("horizon_end"))
               & (F.col("component").isNull() | (F.col("component") == F.col("_mcomponent"))))
        .withColumn("_tiebreak", F.coalesce(F.col("work_order_id"), F.lit("")))
    )
    acted = _first(acted, "alert_id", "action_at").select(
        "alert_id", "work_order_id", "action_at", "action_labour_hours", "action_parts_cost_eur", "_mdate")

    out = (
        a.join(failed.drop("machine_id", "date", "horizon_end", "_fdate"), "alert_id", "left")
        .join(acted, "alert_id", "left")
        .join(known, "plant_id", "left")
        .join(rate, "machine_id", "left")
    )
    is_failed = F.col("failed_at").isNotNull()
    in_time = F.col("action_at").isNotNull() & (~is_failed | (F.col("action_at") < F.col("failed_at")))
    for name in ("work_order_id", "action_at", "action_labour_hours", "action_parts_cost_eur"):
        out = out.withColumn(name, F.when(in_time, F.col(name)))
    resolved = is_failed | (F.col("horizon_end") <= F.col("known_until"))
    outcome = (
        F.when(is_failed & in_time, "failed_after_action").when(is_failed, "failed_despite_alert")
        .when(~resolved | resolved.isNull(), "open").when(in_time, "acted_no_failure").otherwise("no_event")
    )
    alert_rows = out.select(
        "date", F.col("alert_id").alias("outcome_id"), "plant_id", "line_id", "machine_id", "component",
        "model_version", "horizon_days", "horizon_end", "failure_probability",
        F.col("failure_probability").alias("max_failure_probability"), "predicted_failure_cost_eur",
        "action_cost_eur", "expected_saving_eur", outcome.alias("outcome"),
        F.coalesce(resolved, F.lit(False)).alias("resolved"), in_time.alias("acted"), "work_order_id", "action_at",
        F.when(in_time, F.datediff("_mdate", "date")).cast("long").alias("action_delay_days"),
        "action_labour_hours", "action_parts_cost_eur", is_failed.alias("failed"), "failed_at", "failed_component",
        "failure_downtime_minutes", "failure_repair_cost_eur", "downtime_cost_eur_h",
        _failure_cost(F.col("downtime_cost_eur_h")).alias("failure_cost_eur"), "known_until",
    )
    return alert_rows.unionByName(_missed(a, risk, failures, known, rate)).select(*COLUMNS)


def _missed(alerts: DataFrame, risk: DataFrame, failures: DataFrame, known: DataFrame, rate: DataFrame) -> DataFrame:
    """Failures that a scored day's horizon covered and no alert's did, with the risk of those days."""
    fails = (
        failures.select("plant_id", "machine_id", "date", "failed_at", "component", "downtime_minutes",
                        "repair_cost_eur")
        .withColumn("outcome_id", F.substring(F.sha2(F.concat_ws(
            "|", F.lit("failure"), F.col("machine_id"), F.col("failed_at").cast("string"), F.col("component")),
            256), 1, 20))
    )
    scored = risk.select(
        "machine_id", F.col("date").alias("_rdate"), F.col("line_id").alias("_line"),
        F.col("horizon_days").alias("_h"), F.col("failure_probability").alias("_p"),
        F.col("model_version").alias("_version"),
    )
    covering = fails.join(scored, "machine_id").where(
        (F.col("_rdate") < F.col("date")) & (F.col("date") <= F.date_add("_rdate", F.col("_h").cast("int"))))
    risk_before = covering.groupBy("outcome_id").agg(
        F.max_by("_p", "_rdate").alias("failure_probability"), F.max("_p").alias("max_failure_probability"),
        F.max_by("_version", "_rdate").alias("model_version"), F.max_by("_h", "_rdate").cast("long")
        .alias("horizon_days"), F.max_by("_line", "_rdate").alias("line_id"))
    alerted = fails.alias("f").join(
        alerts.select("machine_id", F.col("date").alias("_adate"), "horizon_end").alias("a"), "machine_id"
    ).where((F.col("_adate") < F.col("f.date")) & (F.col("f.date") <= F.col("horizon_end"))).select("outcome_id")
    missed = fails.join(risk_before, "outcome_id").join(alerted.distinct(), "outcome_id", "left_anti")
    none = F.lit(None)
    return (
        missed.join(known, "plant_id", "left").join(rate, "machine_id", "left")
        .withColumn("failure_downtime_minutes", F.col("downtime_minutes").cast("double"))
        .withColumn("failure_repair_cost_eur", F.col("repair_cost_eur").cast("double"))
        .select(
            "date", "outcome_id", "plant_id", "line_id", "machine_id", "component", "model_version", "horizon_days",
            none.cast("date").alias("horizon_end"), "failure_probability", "max_failure_probability",
            *(none.cast("double").alias(c) for c in ("predicted_failure_cost_eur", "action_cost_eur",
                                                      "expected_saving_eur")),
            F.lit("missed_failure").alias("outcome"), F.lit(True).alias("resolved"), F.lit(False).alias("acted"),
            none.cast("string").alias("work_order_id"), none.cast("timestamp").alias("action_at"),
            none.cast("long").alias("action_delay_days"), none.cast("double").alias("action_labour_hours"),
            none.cast("double").alias("action_parts_cost_eur"), F.lit(True).alias("failed"), "failed_at",
            F.col("component").alias("failed_component"), "failure_downtime_minutes", "failure_repair_cost_eur",
            "downtime_cost_eur_h", _failure_cost(F.col("downtime_cost_eur_h")).alias("failure_cost_eur"),
            "known_until",
        )
    )
