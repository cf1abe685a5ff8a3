"""Dagster resources: the lake, Spark, MLflow, and the plants a run is limited to.

Resources are chosen by environment (``PLANTLAKE_ENV``): ``local`` takes every value from
the settings' defaults; ``production`` requires the lake, landing zone, Spark master and MLflow tracking
server to be named in the environment. Secrets never appear here: S3 credentials are read by
the storage layer from the standard ``AWS_*`` variables.
"""

from __future__ import annotations

import dataclasses

import dagster as dg
from pyspark.sql import SparkSession

from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings
from lakehouse.spark import session
from orchestration.environment import current
from sources.landing import SUPPLIERS


class LakeResource(dg.ConfigurableResource):
    """The lake and the landing zone: local folders or ``s3://`` prefixes (empty: from the settings)."""

    lake_uri: str = ""
    landing_uri: str = ""

    def settings(self) -> Settings:
        return get_settings()

    def lake(self) -> Lake:
        return Lake(self.lake_uri or None, self.settings())

    @property
    def landing(self) -> str:
        return self.landing_uri or self.settings().landing_uri


class SparkResource(dg.ConfigurableResource):
    """The Spark session of the run: ``local[*]``, a cluster master, or Spark Connect (empty: from the settings)."""

    master: str = ""

    def session(self) -> SparkSession:
        settings = get_settings()
        if self.master:
            settings = dataclasses.replace(settings, spark_master=self.master)
        return session(settings)


class MLflowResource(dg.ConfigurableResource):
    """MLflow tracking and model registry (empty: from the settings, a SQLite file under PLANTLAKE_HOME)."""

    tracking_uri: str = ""

    def settings(self) -> Settings:
        settings = get_settings()
        if self.tracking_uri:
            settings = dataclasses.replace(settings, mlflow_tracking_uri=self.tracking_uri)
        return settings


class NightScope(dg.ConfigurableResource):
    """The plants a run is limited to (run config); empty means every plant and the suppliers.

    ``suppliers`` in the list stands for the supplier drop.
    """

    plants: list[str] = []
    reland: bool = False  # land every complete drop of the run's nights again, not only pending ones

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


def resources(env: str | None = None) -> dict[str, object]:
    env = env or current().deployment
    if env == "local":
        lake, spark, mlflow = LakeResource(), SparkResource(), MLflowResource()
    elif env == "production":
        lake = LakeResource(lake_uri=dg.EnvVar("PLANTLAKE_LAKE_URI"), landing_uri=dg.EnvVar("PLANTLAKE_LANDING_URI"))
        spark = SparkResource(master=dg.EnvVar("PLANTLAKE_SPARK_MASTER"))
        mlflow = MLflowResource(tracking_uri=dg.EnvVar("MLFLOW_TRACKING_URI"))
    else:
        raise ValueError(f"PLANTLAKE_ENV must be 'local' or 'production', not {env!r}")
    return {"lake": lake, "spark": spark, "mlflow": mlflow, "scope": NightScope.configure_at_launch()}
