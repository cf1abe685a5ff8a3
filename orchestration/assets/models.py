"""Models: weekly training (training set, failure model, cost model) and nightly scoring, alerts and savings.

Training assets are not partitioned: each run trains on the window that ends on the last
night in ``gold.machine_daily`` (or ``end_date`` in the run config) and passes the new
versions through the promotion gate. The scoring assets are partitioned like gold: they
score the night's machines with the current champions, raise the plant's alerts, send
them to the alert sink and refresh the month's savings forecast. Before any champion
exists the scoring assets are skipped (the log says why) and the night still succeeds.
"""


import datetime as dt

import dagster as dg

from lakehouse import gold_tables as gold
from lakehouse.delta import Lake
from lakehouse.settings import Settings
from ml import alerts, forecast, registry, scoring
from ml import sink as alert_sink
from ml.playbook import Playbook
from ml.tables import FAILURE_RISK, FAILURE_TRAINING_SET, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from ml.train import WINDOW_DAYS, build_training_set, read_training_set, train_cost, train_failure, write_training_set
from ml.training import TrainingDataError
from orchestration import partitions
from orchestration.metadata import asset_spec, key, materialized, mlflow_run
from orchestration.resources import LakeResource, MLflowResource, ModelSettings, NightScope
from orchestration.spark_io import slices_for
from sources.silver import DIMENSION_TABLES, EVENT_TABLES

FAILURE_MODEL_KEY = dg.AssetKey(["models", "failure_model"])
COST_MODEL_KEY = dg.AssetKey(["models", "failure_cost_model"])
#: The metadata entry of the observation an asset records when it is skipped: why (orchestration.runs.skipped).
SKIPPED = "skipped"


class TrainingConfig(dg.Config):
    """The training window; every field has a default from the settings."""

    end_date: str = ""  # last night trained on (YYYY-MM-DD); empty: the latest night in gold.machine_daily
    window_days: int = WINDOW_DAYS
    horizon_days: int = 0  # 0: PLANTLAKE_HORIZON_DAYS


def _end_date(config: TrainingConfig, lake: Lake) -> dt.date:
    if config.end_date:
        return dt.date.fromisoformat(config.end_date)
    if not lake.exists(gold.MACHINE_DAILY):
        raise TrainingDataError("gold.machine_daily does not exist yet: run the nightly pipeline first")
    dates = [p["date"] for p in lake.delta_table(gold.MACHINE_DAILY).partitions()]
    if not dates:
        raise TrainingDataError("gold.machine_daily has no rows yet: run the nightly pipeline first")
    return max(dt.date.fromisoformat(d) for d in dates)


def _horizon(config: TrainingConfig, models: ModelSettings) -> int:
    return config.horizon_days or models.horizon_days


def _model_metadata(result, settings: Settings) -> dict:
    metrics = {k: dg.MetadataValue.float(v) for k, v in result.headline.items() if k != "promoted"}
    return {
        "registered_version": result.version,
        "mlflow_run_id": mlflow_run(result.run_id, settings),
        "mlflow_runs": dg.MetadataValue.url(settings.mlflow_ui_url.rstrip("/")
                                            + registry.view_path(result.experiment_id)),
        "promoted": result.decision.promoted,
        "decision": result.decision.reason,
        "holdout": result.holdout,
        **metrics,
    }


@dg.multi_asset(
    name="failure_training_set",
    specs=[
        asset_spec(
            FAILURE_TRAINING_SET,
            {"pandas"},
            deps=[gold.MACHINE_DAILY, gold.MACHINE_COMPONENT_DAILY, EVENT_TABLES["failures"]],
            group="models",
        )
    ],
    description="Features and labels of every machine-day of the training window.",
)
def failure_training_set(context: dg.AssetExecutionContext, config: TrainingConfig, lake: LakeResource,
                         models: ModelSettings):
    the_lake = lake.lake()
    end = _end_date(config, the_lake)
    training_set = build_training_set(the_lake, end, horizon_days=_horizon(config, models),
                                      window_days=config.window_days)
    version = write_training_set(the_lake, training_set, run_id=context.run_id)
    frame = training_set.frame
    extra = {
        "window": f"{training_set.start_date}..{training_set.end_date}",
        "horizon_days": training_set.horizon_days,
        "labelled_rows": int(frame["label_complete"].sum()),
        "positive_rows": int(frame["failure_within_h"].sum()),
        **{f"read/{t}": v for t, v in training_set.table_versions.items() if v is not None},
    }
    return materialized(the_lake, FAILURE_TRAINING_SET, version, extra=extra)


@dg.asset(
    key=FAILURE_MODEL_KEY,
    deps=[key(FAILURE_TRAINING_SET)],
    group_name="models",
    kinds={"sklearn", "mlflow"},
    description=f"{registry.FAILURE_MODEL}: calibrated P(unplanned failure within H days) and the likely component; "
    "backtested against a logistic-regression baseline; registered as challenger, champion if it beats the baseline "
    "and the champion's PR-AUC on the same holdout by an interval above the margin.",
)
def failure_model(context: dg.AssetExecutionContext, config: TrainingConfig, lake: LakeResource,
                  mlflow: MLflowResource, models: ModelSettings) -> dg.MaterializeResult:
    the_lake = lake.lake()
    end = _end_date(config, the_lake)
    training_set = read_training_set(the_lake, end, horizon_days=_horizon(config, models),
                                     window_days=config.window_days)
    result = train_failure(the_lake, training_set, budget=models.alert_budget, dagster_run_id=context.run_id,
                           settings=mlflow.settings())
    return dg.MaterializeResult(metadata=_model_metadata(result, mlflow.settings()))


@dg.asset(
    key=COST_MODEL_KEY,
    deps=[key(EVENT_TABLES["failures"]), key(EVENT_TABLES["maintenance"]), key(DIMENSION_TABLES["machines"])],
    group_name="models",
    kinds={"sklearn", "mlflow"},
    description=f"{registry.COST_MODEL}: EUR cost of an unplanned failure (downtime x the line's rate + repair); "
    "champion if it beats the per-component median and the champion's MAE on the same holdout. Skipped, with the "
    "reason in the run's log, when the window holds no failure with a known cost.",
    output_required=False,
)
def failure_cost_model(context: dg.AssetExecutionContext, config: TrainingConfig, lake: LakeResource,
                       mlflow: MLflowResource, models: ModelSettings):
    the_lake = lake.lake()
    end = _end_date(config, the_lake)
    try:
        result = train_cost(the_lake, end, window_days=config.window_days, dagster_run_id=context.run_id,
                            settings=mlflow.settings(), playbook=Playbook.load(models.settings().playbook))
    except TrainingDataError as exc:  # e.g. an export without costs: the failure model trains alone
        context.log.warning("%s not trained: %s", registry.COST_MODEL, exc)
        yield dg.AssetObservation(asset_key=COST_MODEL_KEY, metadata={SKIPPED: str(exc)})
        return
    yield dg.MaterializeResult(metadata=_model_metadata(result, mlflow.settings()))


MODEL_ASSETS = [failure_training_set, failure_model, failure_cost_model]


# -- nightly scoring -----------------------------------------------------------------------------------------
def _scoring_spec(spec, deps, freshness) -> dg.AssetSpec:
    return asset_spec(spec, {"sklearn"}, deps=deps, freshness=freshness).replace_attributes(skippable=True)


def scoring_assets(partitions_def: dg.PartitionsDefinition,
                   freshness: dg.FreshnessPolicy | None = None) -> list[dg.AssetsDefinition]:
    """Nightly scoring, alerts and the savings forecast, partitioned like gold."""

    @dg.multi_asset(
        name="gold_failure_risk",
        specs=[
            _scoring_spec(FAILURE_RISK, [gold.MACHINE_DAILY, gold.MACHINE_COMPONENT_DAILY], freshness)
            .merge_attributes(deps=[FAILURE_MODEL_KEY, COST_MODEL_KEY])
        ],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def failure_risk(context: dg.AssetExecutionContext, lake: LakeResource, mlflow: MLflowResource,
                     models: ModelSettings, scope: NightScope):
        """Score the nights' machines with the champions (skipped until a failure model is champion)."""
        dates, plants, the_lake = partitions.dates(context), scope.plant_ids, lake.lake()
        if plants == []:
            context.log.info("no plant in the run's scope: nothing to score")
            return
        if scope.history:
            context.log.info("a history run: its nights are not scored with today's champion")
            return
        try:
            champions = registry.load_champions(mlflow.settings())
        except LookupError as exc:
            context.log.warning("gold.failure_risk not scored: %s", exc)
            return
        playbook = Playbook.load(models.settings().playbook)
        rows = scoring.score_night(the_lake, dates, plants, champions=champions, playbook=playbook)
        slices = slices_for(FAILURE_RISK, dates, plants)
        version = scoring.write_risk(the_lake, rows, dates, plants, run_id=context.run_id)
        extra = {"model_version": champions.failure_version, "cost_model_version": champions.cost_version or "(none)"}
        yield materialized(the_lake, FAILURE_RISK, version, slices, extra=extra)

    @dg.multi_asset(
        name="gold_maintenance_alerts",
        specs=[_scoring_spec(MAINTENANCE_ALERTS, [FAILURE_RISK], freshness)],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def maintenance_alerts(context: dg.AssetExecutionContext, lake: LakeResource, models: ModelSettings,
                           scope: NightScope):
        """Raise the plants' alerts within their daily budget, then send every pending alert to the sink."""
        dates, plants, the_lake = partitions.dates(context), scope.plant_ids, lake.lake()
        if plants == [] or scope.history:  # history: no alert is raised or sent for nights long past
            return
        rows = alerts.alerts_for_nights(the_lake, dates, plants, budget=models.alert_budget)
        version = alerts.write_alerts(the_lake, rows, dates, plants, run_id=context.run_id)
        for alert in rows.slice(0, 20).to_pylist():
            context.log.info("alert %s: %s %s %s, P=%.2f, action %r, expected saving %.0f EUR", alert["alert_id"],
                             alert["plant_id"], alert["machine_id"], alert["component"], alert["failure_probability"],
                             alert["recommended_action"], alert["expected_saving_eur"])
        report = alert_sink.deliver_pending(the_lake, models.settings(), run_id=context.run_id)
        extra = {"alerts_raised": rows.num_rows, "delivered": report.delivered, "delivery_failed": report.failed,
                 "left_pending": report.not_attempted}
        yield materialized(the_lake, MAINTENANCE_ALERTS, version, slices_for(MAINTENANCE_ALERTS, dates, plants), extra)

    @dg.multi_asset(
        name="gold_savings_forecast",
        specs=[_scoring_spec(SAVINGS_FORECAST, [MAINTENANCE_ALERTS], freshness)],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
    )
    def savings_forecast(context: dg.AssetExecutionContext, lake: LakeResource, scope: NightScope):
        """Each night recomputes its month (every plant) from the month's alerts and scored days."""
        if scope.history:  # no night of a history run was scored: nothing to forecast from
            return
        dates, the_lake = partitions.dates(context), lake.lake()
        months = sorted({forecast.month_of(d) for d in dates})
        rows = forecast.forecast(the_lake, months)
        version = forecast.write_forecast(the_lake, rows, months, run_id=context.run_id)
        yield materialized(the_lake, SAVINGS_FORECAST, version, slices_for(SAVINGS_FORECAST, months, None))

    return [failure_risk, maintenance_alerts, savings_forecast]
