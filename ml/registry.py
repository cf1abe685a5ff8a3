"""MLflow at the edge: experiments, runs, registered models, aliases and the promotion gate.

Tracking and registry URIs come from ``lakehouse.settings`` (a SQLite file under
PLANTLAKE_HOME by default, any MLflow server through MLFLOW_TRACKING_URI). Experiments
plantlake creates keep their artifacts under ``mlflow_artifacts_uri`` (a folder or S3),
set explicitly so nothing lands in ``./mlruns``. Models are saved with skops (no pickle)
and loaded with the explicit list of trusted types of :mod:`ml.estimators`.

The gate: every new version gets the alias ``challenger``; it takes ``champion`` only if
it beats the champion on the challenger's own holdout (the champion is re-scored on it),
and the very first version becomes champion. Every decision is appended to
``ops.model_promotions`` with both scores.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow  # ml/__init__ has switched MLflow's telemetry off before this import
import pandas as pd
import pyarrow as pa
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient

from lakehouse import storage
from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings, restored_environment
from ml.estimators import SKOPS_TRUSTED_TYPES
from ml.scoring import Champions
from ml.tables import MODEL_PROMOTIONS

log = logging.getLogger(__name__)

FAILURE_MODEL = "plantlake-failure"
COST_MODEL = "plantlake-failure-cost"
CHAMPION, CHALLENGER = "champion", "challenger"


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def client(settings: Settings | None = None) -> MlflowClient:
    """Point MLflow (fluent API and a client) at the configured tracking server and registry.

    MLflow also exports the URI as MLFLOW_TRACKING_URI for subprocesses; plantlake's settings
    read that variable, so the process environment is put back as it was: a later run under
    another PLANTLAKE_HOME must not inherit this one's tracking store.
    """
    settings = settings or get_settings()
    uri = settings.mlflow_tracking_uri
    with restored_environment(("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")):
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    if uri.startswith("sqlite:///") and uri not in _initialized:
        _initialize_sqlite(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


_initialized: set[str] = set()


def _initialize_sqlite(uri: str) -> None:
    """Create or migrate a SQLite tracking store under a file lock, once per process.

    MLflow creates its tables with Alembic migrations when a client first opens the store;
    nightly runs that start together on a fresh PLANTLAKE_HOME (a sensor run and a schedule
    run, say) would all migrate, and the losers fail with "Online migration expected to
    match one row". With the lock the first process migrates and the others find it done.
    """
    db = Path(uri[len("sqlite:///"):])
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _initialized.add(uri)


def artifact_location(name: str, settings: Settings | None = None) -> str:
    """Where experiment ``name`` keeps its artifacts: ``<mlflow_artifacts_uri>/<name>`` as a URI."""
    settings = settings or get_settings()
    root = settings.mlflow_artifacts_uri
    if storage.is_s3(root):
        return storage.join(root, name)
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve().as_uri()


def experiment_id(mlflow_client: MlflowClient, name: str, settings: Settings | None = None) -> str:
    """The experiment's id, created with its artifact location under the configured artifact root."""
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_location(name, settings),
                                               tags={"plantlake": "true"})
    except MlflowException:  # created by a concurrent run
        return mlflow_client.get_experiment_by_name(name).experiment_id


def version_by_alias(mlflow_client: MlflowClient, name: str, alias: str):
    """The registered version holding ``alias``, or None (no model, or no such alias yet)."""
    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_version(name: str, version: str | int):
    """A registered version as its scikit-learn estimator (skops, trusted types from :mod:`ml.estimators`)."""
    import skops.io

    local = mlflow.artifacts.download_artifacts(f"models:/{name}/{version}")
    conf = _flavor(Path(local))
    path = Path(local) / conf.get("pickled_model", "model.skops")
    if conf.get("serialization_format") != "skops":
        raise MlflowException(f"{name} version {version} is not saved with skops; plantlake loads only skops models")
    return skops.io.load(path, trusted=SKOPS_TRUSTED_TYPES)


def _flavor(model_dir: Path) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load((model_dir / "MLmodel").read_text()) or {}).get("flavors", {}).get("sklearn", {})


def load_champions(settings: Settings | None = None, alias: str = CHAMPION) -> Champions:
    """The failure model and the cost model holding ``alias``, ready to score gold.machine_daily rows.

    The alias is resolved to a version first and that version is loaded, so the version
    written next to every score is exactly the one that produced it. Without a failure
    champion this raises; without a cost champion, costs and savings are left empty.
    """
    mlflow_client = client(settings)
    failure = version_by_alias(mlflow_client, FAILURE_MODEL, alias)
    if failure is None:
        raise LookupError(f"no registered model {FAILURE_MODEL!r} with alias {alias!r}: train one first "
                          "(ml.train.train_all or the failure_model asset)")
    cost = version_by_alias(mlflow_client, COST_MODEL, alias)
    return Champions(
        failure=load_version(FAILURE_MODEL, failure.version),
        failure_version=str(failure.version),
        cost=load_version(COST_MODEL, cost.version) if cost is not None else None,
        cost_version=str(cost.version) if cost is not None else None,
    )


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str
    model_uri: str


def log_run(
    *,
    experiment: str,
    model_name: str,
    model: Any,
    input_example: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: list[Path],
    table_versions: Mapping[str, int | None],
    run_name: str,
    dagster_run_id: str | None = None,
    partition: str | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> LoggedModel:
    """One MLflow run: params, metrics, plots, the model (signature, input example) and its new registered version.

    ``table_versions`` (Delta version of every table read) are logged as params
    ``delta_version.<table>`` and the Dagster run and partition, when given, as tags.
    """
    mlflow_client = client(settings)
    exp_id = experiment_id(mlflow_client, experiment, settings)
    all_tags = {"plantlake.model": model_name, **(tags or {})}
    if dagster_run_id:
        all_tags["dagster.run_id"] = dagster_run_id
    if partition:
        all_tags["dagster.partition"] = partition
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=all_tags) as run:
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        mlflow.log_params({f"delta_version.{t}": ("missing" if v is None else v) for t, v in table_versions.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))})
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="evaluation")
        output = model.predict(input_example)
        info = mlflow.sklearn.log_model(
            sk_model=model,
            name="model",
            signature=infer_signature(input_example, output),
            input_example=input_example,
            serialization_format="skops",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pip_requirements=_requirements(),
            registered_model_name=model_name,
        )
    version = str(info.registered_model_version)
    for key, value in metrics.items():
        if value is not None and math.isfinite(float(value)):
            mlflow_client.set_model_version_tag(model_name, version, key, f"{float(value):.6g}")
    mlflow_client.set_model_version_tag(model_name, version, "mlflow_run_id", run.info.run_id)
    log.info("%s: run %s registered version %s", model_name, run.info.run_id, version)
    return LoggedModel(run.info.run_id, version, f"models:/{model_name}/{version}")


def _param(value: Any) -> Any:
    if isinstance(value, list | tuple):
        text = ",".join(map(str, value))
        return text if len(text) <= 500 else f"{len(value)} items"
    return value


@dataclass(frozen=True)
class Decision:
    """One promotion decision, as recorded in ops.model_promotions."""

    model_name: str
    challenger_version: str
    champion_version: str | None
    metric: str
    challenger_score: float
    champion_score: float | None
    promoted: bool
    reason: str
    holdout: str
    mlflow_run_id: str
    dagster_run_id: str | None
    decided_at: dt.datetime

    def row(self) -> dict[str, Any]:
        return {"date": self.decided_at.date(), "decided_at": self.decided_at, "model_name": self.model_name,
                "challenger_version": self.challenger_version, "champion_version": self.champion_version,
                "metric": self.metric, "challenger_score": self.challenger_score,
                "champion_score": self.champion_score, "promoted": self.promoted, "reason": self.reason,
                "holdout": self.holdout, "mlflow_run_id": self.mlflow_run_id, "dagster_run_id": self.dagster_run_id}


def promote(
    *,
    model_name: str,
    logged: LoggedModel,
    metric: str,
    challenger_score: float,
    score_champion: Callable[[Any], float],
    higher_is_better: bool,
    holdout: str,
    lake: Lake | None = None,
    dagster_run_id: str | None = None,
    settings: Settings | None = None,
) -> Decision:
    """The gate: alias ``challenger`` on the new version; ``champion`` too if it beats the champion on this holdout.

    ``score_champion(model)`` scores the current champion on the challenger's holdout. A
    champion that cannot be scored there (e.g. it needs features that no longer exist) is
    replaced, and the reason says so. The decision is appended to ops.model_promotions
    when ``lake`` is given.
    """
    mlflow_client = client(settings)
    mlflow_client.set_registered_model_alias(model_name, CHALLENGER, logged.version)
    current = version_by_alias(mlflow_client, model_name, CHAMPION)
    champion_version = str(current.version) if current is not None else None
    champion_score: float | None = None
    if current is None:
        promoted, reason = True, "first version: no champion yet"
    elif champion_version == logged.version:
        promoted, reason = True, "already champion"
    else:
        try:
            champion_score = float(score_champion(load_version(model_name, champion_version)))
        except Exception as exc:  # noqa: BLE001 - any failure to score means it cannot be compared
            promoted, reason = True, f"champion v{champion_version} could not be scored on this holdout: {exc}"
        else:
            if not math.isfinite(champion_score):
                promoted, reason = True, f"champion v{champion_version} scored {champion_score} on this holdout"
            else:
                better = (challenger_score > champion_score) if higher_is_better else (
                    challenger_score < champion_score)
                word = "higher" if higher_is_better else "lower"
                promoted = bool(better)
                reason = (f"{metric} {challenger_score:.4f} vs champion v{champion_version} {champion_score:.4f} on "
                          f"the same holdout: {'better' if better else 'not better'} ({word} is better)")
    if promoted:
        mlflow_client.set_registered_model_alias(model_name, CHAMPION, logged.version)
    decision = Decision(model_name, logged.version, champion_version, metric, float(challenger_score), champion_score,
                        promoted, reason, holdout, logged.run_id, dagster_run_id, dt.datetime.now(dt.UTC))
    log.info("%s v%s: %s (%s)", model_name, logged.version, "promoted to champion" if promoted else "stays challenger",
             reason)
    if lake is not None:
        record_decision(lake, decision)
    return decision


def record_decision(lake: Lake, decision: Decision) -> int:
    row = decision.row()
    return lake.append(MODEL_PROMOTIONS, pa.Table.from_pylist([row], schema=MODEL_PROMOTIONS.schema))
