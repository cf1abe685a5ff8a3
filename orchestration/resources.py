"""Dagster resources: the lake, Spark, MLflow, the models' settings, the alert sink, and a run's plants.

They are built from the one settings object (:func:`resources`), so the Dagster UI shows the
configuration a run uses. In ``production`` (``PLANTLAKE_ENV``) the lake, landing zone, Spark
master and MLflow tracking server are read from the environment when a run starts
(``dg.EnvVar``) and must be set; secrets (the webhook token) are always ``dg.EnvVar``, shown by
name only. S3 credentials stay with the storage layer, which reads the standard ``AWS_*`` variables.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pyspark.sql import SparkSession

from lakehouse.catalog import NETWORK, TableSpec
from lakehouse.delta import Lake
from lakehouse.settings import MLSettings, Settings, get_settings
from lakehouse.spark import session
from sources.contracts import CONTRACTS, PLANT, SHIP_TO_MASTERS
from sources.landing import SUPPLIERS


class LakeResource(dg.ConfigurableResource):
    """The lake and the landing zone (folders or ``s3://`` prefixes; empty: the settings'), and the sizes
    landing and checks work in."""

    lake_uri: str = ""
    landing_uri: str = ""
    landing_buffer_rows: int = 2_000_000
    landing_threads: int = 2
    check_part_rows: int = 4_000_000

    def settings(self) -> Settings:
        return get_settings()

    def lake(self) -> Lake:
        return Lake(self.lake_uri or None, self.settings())

    @property
    def landing(self) -> str:
        return self.landing_uri or self.settings().landing_uri


class SparkResource(dg.ConfigurableResource):
    """The Spark session of the run: ``local[*]``, a cluster master; ``SPARK_REMOTE`` (Spark Connect) wins."""

    master: str = "local[*]"

    def session(self) -> SparkSession:
        return session(get_settings().replace(spark_master=self.master))


class MLflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry (empty: the settings')."""

    tracking_uri: str = ""

    def settings(self) -> Settings:
        settings = get_settings()
        return settings.replace(mlflow_tracking_uri=self.tracking_uri) if self.tracking_uri else settings


class ModelSettings(dg.ConfigurableResource):
    """What training, scoring and alerting work with: the horizon, the daily alert budget, the playbook,
    and the alert webhook (its token a secret, read from the environment when used)."""

    horizon_days: int = 7
    alert_budget: int = 3
    playbook: str = ""  # empty: the playbook shipped with plantlake
    webhook_url: str = ""
    webhook_token: str = ""
    webhook_attempts: int = 4
    webhook_backoff_s: float = 0.5
    webhook_backoff_max_s: float = 8.0
    webhook_timeout_s: float = 10.0

    def settings(self) -> MLSettings:
        values = self.model_dump(exclude={"playbook", "webhook_url", "webhook_token"})
        return get_settings().ml.model_copy(update={
            **values,
            "playbook": Path(self.playbook) if self.playbook else None,
            "webhook_url": self.webhook_url or None,
            "webhook_token": self.webhook_token or None,
        })


class NightScope(dg.ConfigurableResource):
    """The plants a run is limited to (run config); empty means every plant and the suppliers.

    ``suppliers`` in the list stands for the supplier drop.
    """

    plants: list[str] = []
    reland: bool = False  # land every complete drop of the run's nights again, not only pending ones
    history: bool = False  # the nights are history: built through gold, not scored or alerted on

    @property
    def sources(self) -> set[str] | None:
        """Landing-zone sources to land (plant ids and/or ``suppliers``), or None for all."""
        return set(self.plants) or None

    @property
    def plant_ids(self) -> list[str] | None:
        """Plants whose slices plant-level tables replace: None for every plant, [] for none."""
        if not self.plants:
            return None
        return sorted(p for p in self.plants if p != SUPPLIERS)

    def plants_of_feed(self, feed: str) -> list[str] | None:
        """The plants whose bronze rows of ``feed`` a run reads: None for all. A supplier drop in scope brings the
        ship-to plants it declares or derives, whichever plants they are."""
        if CONTRACTS[feed].scope != PLANT or (feed in SHIP_TO_MASTERS and SUPPLIERS in self.plants):
            return None
        return self.plant_ids

    def plants_of(self, spec: TableSpec) -> list[str] | None:
        """The plants a run replaces in ``spec``: None for all (a network-wide table, or no limit)."""
        return None if spec.scope == NETWORK else self.plant_ids


def resources(settings: Settings) -> dict[str, object]:
    """The resources of the code location, from ``settings``."""
    orchestration, ml = settings.orchestration, settings.ml
    production = orchestration.deployment == "production"

    def named(variable: str, value: str):
        return dg.EnvVar(variable) if production else value

    lake = LakeResource(
        lake_uri=named("PLANTLAKE_LAKE_URI", settings.lake_uri),
        landing_uri=named("PLANTLAKE_LANDING_URI", settings.landing_uri),
        landing_buffer_rows=orchestration.landing_buffer_rows,
        landing_threads=orchestration.landing_threads,
        check_part_rows=orchestration.check_part_rows,
    )
    models = ModelSettings(
        horizon_days=ml.horizon_days,
        alert_budget=ml.alert_budget,
        playbook=str(ml.playbook or ""),
        webhook_url=ml.webhook_url or "",
        webhook_token=dg.EnvVar("PLANTLAKE_ALERT_WEBHOOK_TOKEN") if ml.webhook_token else "",
        webhook_attempts=ml.webhook_attempts,
        webhook_backoff_s=ml.webhook_backoff_s,
        webhook_backoff_max_s=ml.webhook_backoff_max_s,
        webhook_timeout_s=ml.webhook_timeout_s,
    )
    return {
        "lake": lake,
        "spark": SparkResource(master=named("PLANTLAKE_SPARK_MASTER", settings.spark_master)),
        "mlflow": MLflowResource(tracking_uri=named("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri)),
        "models": models,
        "scope": NightScope.configure_at_launch(),
    }
