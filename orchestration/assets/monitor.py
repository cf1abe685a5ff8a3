"""Closing the loop, nightly: realized savings from the alerts' outcomes, and the champion watched in production.

``gold.alert_outcomes`` is a derived table (declared in ``ml.tables``, computed by Spark like every
derived gold table). From it,
``gold/realized_savings`` recomputes the months of the nights the outcomes redid, and
``gold/model_monitor`` (with ``gold/feature_drift``) measures each scoring version on the days
whose horizon has passed, beside its holdout, records the month in MLflow and warns through its
``production_vs_holdout`` check. Both are skipped when nothing was scored (no champion yet, a
history run): their inputs were not materialized.
"""


import dagster as dg

from ml import monitor, outcomes, registry
from ml.forecast import month_of
from ml.playbook import Playbook
from ml.tables import (
    ALERT_OUTCOMES,
    FAILURE_RISK,
    FAILURE_TRAINING_SET,
    FEATURE_DRIFT,
    MODEL_MONITOR,
    REALIZED_SAVINGS,
    as_table,
)
from orchestration import partitions
from orchestration.metadata import asset_spec, check_results, key, materialized, mlflow_run
from orchestration.resources import LakeResource, MLflowResource, ModelSettings
from orchestration.spark_io import slices_for
from sources.silver import EVENT_TABLES

CHECK = "production_vs_holdout"


def _spec(spec, deps, freshness) -> dg.AssetSpec:
    return asset_spec(spec, {"pandas"}, deps=deps, freshness=freshness).replace_attributes(skippable=True)


def _check_result(rows, night: str | None = None) -> dg.AssetCheckResult:
    """The WARN check of a night's (or the run's) monitor rows: passes unless a row raised an alarm."""
    alarms = [r for r in rows if r["precision_alarm"] or r["drift_alarm"]]
    lines = [f"v{r['model_version']}{' (champion)' if r['is_champion'] else ''} {r['date']}: {r['verdict']}"
             for r in rows]
    return dg.AssetCheckResult(
        asset_key=key(MODEL_MONITOR), check_name=CHECK, passed=not alarms, severity=dg.AssetCheckSeverity.WARN,
        description=("; ".join(lines) if lines else "nothing scored to judge")[:2000],
        metadata={"precision_alarms": sum(bool(r["precision_alarm"]) for r in rows),
                  "drift_alarms": sum(bool(r["drift_alarm"]) for r in rows),
                  "versions": len({r["model_version"] for r in rows}), **({"night": night} if night else {})})


def monitor_assets(partitions_def: dg.PartitionsDefinition,
                   freshness: dg.FreshnessPolicy | None = None) -> list[dg.AssetsDefinition]:
    """Realized savings and the production monitor, partitioned like gold."""

    @dg.multi_asset(
        name="gold_realized_savings",
        specs=[_spec(REALIZED_SAVINGS, [ALERT_OUTCOMES], freshness)],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def realized_savings(context: dg.AssetExecutionContext, lake: LakeResource, models: ModelSettings):
        """The months of the outcome nights this run redid, every plant, from gold.alert_outcomes."""
        the_lake, settings = lake.lake(), models.settings()
        months = outcomes.months_redone(partitions.dates(context))
        rate = Playbook.load(settings.playbook).labour_rate_eur_h
        rows = outcomes.savings_for_months(the_lake, months, rate, settings.savings_method)
        version = outcomes.write_savings(the_lake, rows, months, run_id=context.run_id)
        yield materialized(the_lake, REALIZED_SAVINGS, version, slices_for(REALIZED_SAVINGS, months, None),
                           extra={"method": settings.savings_method, "labour_rate_eur_h": rate})

    @dg.multi_asset(
        name="gold_model_monitor",
        specs=[_spec(MODEL_MONITOR, [FAILURE_RISK, ALERT_OUTCOMES, EVENT_TABLES["failures"], FAILURE_TRAINING_SET],
                     freshness),
               _spec(FEATURE_DRIFT, [FAILURE_RISK, FAILURE_TRAINING_SET], freshness)],
        check_specs=[dg.AssetCheckSpec(CHECK, asset=key(MODEL_MONITOR), description=(
            "WARN: production precision at budget outside the holdout's interval, or a feature's PSI above "
            "PLANTLAKE_DRIFT_PSI_THRESHOLD"))],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def model_monitor(context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource,
                      models: ModelSettings):
        """Each night: every scoring version's production figures and drift; the month's record in MLflow."""
        the_lake, settings, nights = lake.lake(), models.settings(), partitions.dates(context)
        client = registry.client(mlflow.settings())
        rows, drift, data = monitor.monitor_nights(
            the_lake, nights, model_name=registry.FAILURE_MODEL, budget=settings.alert_budget,
            window_days=settings.monitor_window_days, drift_days=settings.drift_days,
            psi_threshold=settings.drift_psi_threshold, min_alerts=settings.monitor_min_alerts, client=client)
        monitor_version = the_lake.replace_slices(MODEL_MONITOR, as_table(rows, MODEL_MONITOR),
                                                  {n: None for n in nights}, run_id=context.run_id)
        drift_version = the_lake.replace_slices(FEATURE_DRIFT, as_table(drift, FEATURE_DRIFT),
                                                {n: None for n in nights}, run_id=context.run_id)
        logged = {}
        for version in sorted(set(rows["model_version"])):
            for month in sorted({month_of(n) for n in nights}):
                figures = monitor.month_figures(data, version, month, nights[-1], settings.alert_budget)
                if figures:
                    logged[f"{version} {month:%Y-%m}"] = monitor.log_month(
                        client, registry.FAILURE_MODEL, version, month, figures, settings=mlflow.settings(),
                        dagster_run_id=context.run_id)
        records = rows.to_dict("records")
        yield materialized(the_lake, MODEL_MONITOR, monitor_version, slices_for(MODEL_MONITOR, nights, None),
                           extra={f"mlflow/{k}": mlflow_run(v, mlflow.settings()) for k, v in logged.items()})
        yield materialized(the_lake, FEATURE_DRIFT, drift_version, slices_for(FEATURE_DRIFT, nights, None))
        by_night = {n.isoformat(): _check_result([r for r in records if r["date"] == n], n.isoformat())
                    for n in nights}
        yield from check_results(context, _check_result(records), by_night)

    return [realized_savings, model_monitor]
