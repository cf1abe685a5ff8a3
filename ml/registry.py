"""MLflow at the edge: experiments, runs, registered models, aliases and the promotion gate.

Tracking and registry URIs come from ``lakehouse.settings`` (a SQLite file under
PLANTLAKE_HOME by default, any MLflow server through MLFLOW_TRACKING_URI). Experiments
plantlake creates keep their artifacts under ``mlflow_artifacts_uri`` (a folder or S3),
set explicitly so nothing lands in ``./mlruns``. Models are saved with skops (no pickle)
and loaded with the explicit list of trusted types of :mod:`ml.estimators`.

MLflow (and scikit-learn) are imported when a store is first opened, not with this module: the
Dagster code location imports it, and a nightly run with no model trained yet never needs them.

The gate: every new version gets the alias ``challenger``; it takes ``champion`` only if
the rule of :mod:`ml.gate` says so: it beats the baseline, and the champion (re-scored on
the challenger's own holdout) by more than the margin, each by an interval above it. Every
decision is appended to ``ops.model_promotions`` with the scores and their intervals, and
shown in MLflow: the run's tags and description, the registered version's description and
tags, the comparison plot.

What the MLflow UI shows (docs/models.md, MLflow): each experiment has a description, the
kind "machine learning" and a shared view of the runs table (:data:`HEADLINE`, opened by
:func:`view_path`); each run lists the Delta tables it read as dataset inputs.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from lakehouse import storage
from lakehouse.delta import Lake
from lakehouse.settings import Settings, get_settings, restored_environment
from ml.gate import Evidence, judge
from ml.scoring import Champions
from ml.tables import MODEL_PROMOTIONS

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = logging.getLogger(__name__)

FAILURE_MODEL = "plantlake-failure"
COST_MODEL = "plantlake-failure-cost"
CHAMPION, CHALLENGER = "champion", "challenger"

#: What each registered model (and its experiment) is: their descriptions in the MLflow UI.
DESCRIPTIONS = {
    FAILURE_MODEL: (
        "P(unplanned failure of a machine within the next H days) per machine and day, and the likely "
        "component, from gold.machine_daily features (plantlake `ml/`, docs/models.md). Every run is a "
        "rolling-origin backtest; its last fold's holdout is what the promotion gate judges. Each run also "
        "trains the baseline: a logistic regression on the daily sensor means and spreads. A version "
        "becomes `champion` only if it beats the baseline, and the champion by more than the margin, each "
        "by a 95 % interval (bootstrap over machines) above it."),
    COST_MODEL: (
        "EUR cost of an unplanned failure per machine and component: predicted downtime hours x the "
        "machine's downtime cost per hour + predicted repair cost (plantlake `ml/`, docs/models.md). The "
        "baseline is each component's median cost. A version becomes `champion` only if its MAE is not worse "
        "than the baseline's (the 95 % interval of the difference reaches above 0) and beats the champion's by an "
        "interval above 0."),
}

#: MLflow 3's UI treats an experiment of this kind as classic machine learning (training runs, models).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}

#: The runs table's headline columns per experiment, shown first in the shared view :data:`VIEW_KEY`.
HEADLINE = {
    FAILURE_MODEL: ("pr_auc", "pr_auc_low", "pr_auc_high", "baseline_pr_auc", "base_rate", "precision_at_budget",
                    "precision_at_budget_ceiling", "catch_rate", "lead_time_days", "failures", "promoted"),
    COST_MODEL: ("mae_eur", "mae_eur_low", "mae_eur_high", "baseline_mae_eur", "failures", "promoted"),
}
VIEW_KEY = "headline"


def view_state(experiment: str) -> dict[str, Any]:
    """The runs table's state: the headline metrics as columns, in this order, newest run first."""
    columns = ["attributes.`Models`", "attributes.`Dataset`",
               *(f"metrics.`{name}`" for name in HEADLINE.get(experiment, ()))]
    return {"selectedColumns": columns, "columnOrder": columns, "orderByKey": "attributes.start_time",
            "orderByAsc": False}


def _view_tag(experiment: str) -> str:
    """:func:`view_state` as MLflow 3.17's UI stores a saved view (its *Views* menu lists it as "Headline")."""
    now = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    return json.dumps({"name": VIEW_KEY.capitalize(), "createdAt": now, "updatedAt": now,
                       "state": json.dumps(view_state(experiment))})


def view_path(experiment_id: str) -> str:
    """The MLflow UI path (after the server address) of the experiment's headline view, in the ML workflow.

    The runs tab itself: the experiment's own address redirects to it and drops the view's key.
    """
    return f"/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}&workflowType=machine_learning"


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "skops", "pandas", "numpy", "scipy")]


def client(settings: Settings | None = None) -> MlflowClient:
    """Point MLflow (fluent API and a client) at the configured tracking server and registry.

    MLflow also exports the URI as MLFLOW_TRACKING_URI for subprocesses; plantlake's settings
    read that variable, so the process environment is put back as it was: a later run under
    another PLANTLAKE_HOME must not inherit this one's tracking store.
    """
    import mlflow  # ml/__init__ has switched MLflow's telemetry off before this import
    from mlflow.tracking import MlflowClient

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
    from mlflow.tracking import MlflowClient

    db = _sqlite_file(uri)
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models(max_results=1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    _initialized.add(uri)


def _sqlite_file(uri: str) -> Path:
    """The database file of a ``sqlite:///`` tracking URI."""
    return Path(uri[len("sqlite:///"):])


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
    from mlflow.exceptions import MlflowException

    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_location(name, settings),
                                               tags={"plantlake": "true", **experiment_tags(name)})
    except MlflowException:  # created by a concurrent run
        return mlflow_client.get_experiment_by_name(name).experiment_id


VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"


def experiment_tags(name: str) -> dict[str, str]:
    """The description, kind and headline view plantlake gives its experiments."""
    tags = {**EXPERIMENT_KIND, VIEW_TAG: _view_tag(name)}
    if name in DESCRIPTIONS:
        tags["mlflow.note.content"] = DESCRIPTIONS[name]
    return tags


def _describe_experiment(mlflow_client: MlflowClient, exp_id: str, name: str) -> None:
    """Bring an experiment's tags up to date (experiments created before plantlake set them have none)."""
    current = mlflow_client.get_experiment(exp_id).tags
    for key, value in experiment_tags(name).items():
        if key == VIEW_TAG and _saved_state(current.get(key)) == view_state(name):
            continue  # the same view, saved earlier: keep its dates
        if current.get(key) != value:
            mlflow_client.set_experiment_tag(exp_id, key, value)


def _saved_state(tag: str | None) -> Any:
    try:
        return json.loads(json.loads(tag)["state"]) if tag else None
    except (ValueError, KeyError, TypeError):
        return None


def version_by_alias(mlflow_client: MlflowClient, name: str, alias: str):
    """The registered version holding ``alias``, or None (no model, or no such alias yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return mlflow_client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_version(registered) -> Any:
    """A registered version (an MLflow ``ModelVersion``) as its scikit-learn estimator, loaded once per process.

    A version's artifacts never change, and the run that logged it tells it from a version of the same
    number in a registry deleted and made again: nights run one after another in one process (the soak,
    the tests) score with what the first one loaded, while the alias is resolved every time."""
    import mlflow

    return _load(mlflow.get_registry_uri(), registered.name, str(registered.version), registered.run_id)


@functools.lru_cache(maxsize=4)
def _load(uri: str, name: str, version: str, run_id: str) -> Any:
    """The version's skops file, with the trusted types of :mod:`ml.estimators` (``uri`` and ``run_id`` are
    the cache's key)."""
    import mlflow
    import skops.io
    from mlflow.exceptions import MlflowException

    from ml.estimators import SKOPS_TRUSTED_TYPES

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
    A local SQLite store that does not exist yet holds no model: that raises at once, without
    creating the store (nightly runs before the first training do not migrate one).
    """
    missing = LookupError(f"no registered model {FAILURE_MODEL!r} with alias {alias!r}: train one first "
                          "(ml.train.train_all or the failure_model asset)")
    uri = (settings or get_settings()).mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not _sqlite_file(uri).exists():
        raise missing
    mlflow_client = client(settings)
    failure = version_by_alias(mlflow_client, FAILURE_MODEL, alias)
    if failure is None:
        raise missing
    cost = version_by_alias(mlflow_client, COST_MODEL, alias)
    return Champions(
        failure=load_version(failure),
        failure_version=str(failure.version),
        cost=load_version(cost) if cost is not None else None,
        cost_version=str(cost.version) if cost is not None else None,
    )


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str
    model_uri: str
    experiment_id: str = ""


@dataclass(frozen=True)
class TableInput:
    """A Delta table a run read: logged as the run's dataset input (name, URI and version on the run page)."""

    table: str
    uri: str
    version: int
    context: str = "training"  # "training": the rows the model learnt from; "source": what those were built from


def _log_inputs(tables: Sequence[TableInput]) -> None:
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    if not tables:
        return
    datasets = [MetaDataset(DeltaDatasetSource(path=t.uri, delta_table_version=t.version),
                            name=f"{t.table}@v{t.version}") for t in tables]
    mlflow.log_inputs(datasets=datasets, contexts=[t.context for t in tables],
                      tags_list=[{"delta_table": t.table, "delta_version": str(t.version)} for t in tables])


def log_run(
    *,
    experiment: str,
    model_name: str,
    model: Any,
    input_example: pd.DataFrame,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    artifacts: list[Path],
    inputs: Sequence[TableInput],
    run_name: str,
    baseline: tuple[Any, pd.DataFrame] | None = None,
    dagster_run_id: str | None = None,
    partition: str | None = None,
    tags: Mapping[str, str] | None = None,
    settings: Settings | None = None,
) -> LoggedModel:
    """One MLflow run: settings and hyper-parameters as params, the headline metrics, the evaluation files, the
    tables read as dataset inputs, the model (signature, input example) and its new registered version.

    ``baseline`` (the estimator and its input example, or None), when given, is logged beside the model
    as ``baseline``, not registered. The Dagster run and partition, when given, are tags.
    """
    import mlflow
    from mlflow.models import infer_signature

    from ml.estimators import SKOPS_TRUSTED_TYPES

    mlflow_client = client(settings)
    exp_id = experiment_id(mlflow_client, experiment, settings)
    _describe_experiment(mlflow_client, exp_id, experiment)
    all_tags = {"plantlake.model": model_name, **(tags or {})}
    if dagster_run_id:
        all_tags["dagster.run_id"] = dagster_run_id
    if partition:
        all_tags["dagster.partition"] = partition
    saved = {"serialization_format": "skops", "skops_trusted_types": SKOPS_TRUSTED_TYPES,
             "pip_requirements": _requirements()}
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=all_tags) as run:
        logged = {k: _param(v) for k, v in params.items()}
        log.debug("run %s of %s: params %s, tags %s", run.info.run_id, model_name, logged, all_tags)
        mlflow.log_params(logged)
        _log_inputs(inputs)
        for path in artifacts:
            mlflow.log_artifact(str(path), artifact_path="evaluation")
        if baseline is not None:  # before the metrics: MLflow links the run's metrics so far to a logged model
            other, example = baseline
            signature = infer_signature(example, other.predict(example)) if example is not None else None
            mlflow.sklearn.log_model(sk_model=other, name="baseline", input_example=example, signature=signature,
                                     **saved)
        mlflow.log_metrics({k: round(v, 4) for k, v in finite(metrics).items()})  # 4 decimals: a readable table
        info = mlflow.sklearn.log_model(sk_model=model, name="model", input_example=input_example,
                                        signature=infer_signature(input_example, model.predict(input_example)),
                                        registered_model_name=model_name, **saved)
    version = str(info.registered_model_version)
    mlflow_client.update_registered_model(model_name, description=DESCRIPTIONS.get(model_name, ""))
    for key, value in finite(metrics).items():  # the figures; their intervals are in the version's description
        if not key.endswith(("_low", "_high")):
            mlflow_client.set_model_version_tag(model_name, version, key, f"{value:.6g}")
    mlflow_client.set_model_version_tag(model_name, version, "mlflow_run_id", run.info.run_id)
    log.info("%s: run %s registered version %s", model_name, run.info.run_id, version)
    return LoggedModel(run.info.run_id, version, f"models:/{model_name}/{version}", exp_id)


def finite(metrics: Mapping[str, float | None]) -> dict[str, float]:
    """The metrics that are numbers (MLflow takes no NaN; a figure without data is left out)."""
    return {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(float(v))}


def _param(value: Any) -> Any:
    if isinstance(value, list | tuple):
        text = ",".join(map(str, value))
        return text if len(text) <= 500 else f"{len(value)} items"
    return value


def annotate_run(run_id: str, *, note: str, artifacts: Sequence[Path] = (), settings: Settings | None = None) -> None:
    """Add to a finished run what is only known after the gate: its description (Markdown) and files."""
    mlflow_client = client(settings)
    mlflow_client.set_tag(run_id, "mlflow.note.content", note)
    for path in artifacts:
        mlflow_client.log_artifact(run_id, str(path), artifact_path="evaluation")


@dataclass(frozen=True)
class Decision:
    """One promotion decision as ops.model_promotions records it: the scores, their intervals, the rule's reason."""

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
    evidence: Evidence | None = None
    margin: float = 0.0

    def row(self) -> dict[str, Any]:
        e = self.evidence
        intervals = {"challenger": e and e.challenger, "champion": e and e.champion, "baseline": e and e.baseline,
                     "gain_vs_champion": e and e.vs_champion, "gain_vs_baseline": e and e.vs_baseline}

        def number(value: float | None) -> float | None:
            return value if value is not None and math.isfinite(value) else None

        bounds = {f"{name}_{end}": number(getattr(interval, end)) if interval else None
                  for name, interval in intervals.items() for end in ("low", "high")}
        return {"date": self.decided_at.date(), "decided_at": self.decided_at, "model_name": self.model_name,
                "challenger_version": self.challenger_version, "champion_version": self.champion_version,
                "metric": self.metric, "challenger_score": self.challenger_score,
                "champion_score": self.champion_score, "promoted": self.promoted, "reason": self.reason,
                "holdout": self.holdout, "mlflow_run_id": self.mlflow_run_id, "dagster_run_id": self.dagster_run_id,
                **bounds, "baseline_score": number(e.baseline.value) if e else None,
                "gain_vs_champion": number(e.vs_champion.value) if e and e.vs_champion else None,
                "gain_vs_baseline": number(e.vs_baseline.value) if e else None,
                "margin": self.margin, "holdout_failures": e.failures if e else None}

    def describe(self) -> str:
        """The decision in Markdown: for the registered version's description and the run's."""
        verdict = "**promoted to champion**" if self.promoted else "**stays challenger**"
        return f"Promotion gate: {verdict} ({self.reason}). Holdout: {self.holdout}."


def promote(
    *,
    model_name: str,
    logged: LoggedModel,
    evidence_for: Callable[[Any | None], Evidence],
    holdout: str,
    purpose: str,
    margin: float = 0.0,
    must_beat_baseline: bool = True,
    lake: Lake | None = None,
    dagster_run_id: str | None = None,
    settings: Settings | None = None,
) -> Decision:
    """The gate: alias ``challenger`` on the new version; ``champion`` too if :func:`ml.gate.judge` says so.

    ``evidence_for(champion_model)`` scores the challenger, the baseline and the champion
    (``None``: there is none) on the challenger's holdout. A champion that cannot be scored
    there (e.g. it needs features that no longer exist) is judged as absent, and the reason
    says so; ``must_beat_baseline``: see :func:`ml.gate.judge`. The decision is appended to
    ops.model_promotions when ``lake`` is given, and shown in MLflow: the run's tags and metric
    ``promoted``, the version's description (``purpose``: what the model predicts, then the
    decision) and tags.
    """
    mlflow_client = client(settings)
    mlflow_client.set_registered_model_alias(model_name, CHALLENGER, logged.version)
    current = version_by_alias(mlflow_client, model_name, CHAMPION)
    champion_version = str(current.version) if current is not None else None
    note = ""
    if champion_version == logged.version:
        evidence = evidence_for(None)
        promoted, reason = True, "already champion"
    else:
        champion = None
        if champion_version is not None:
            try:
                champion = load_version(current)
                evidence = evidence_for(champion)
            except Exception as exc:  # noqa: BLE001 - any failure to score means it cannot be compared
                champion, note = None, f"champion v{champion_version} could not be scored on this holdout ({exc}); "
        if champion is None:
            evidence = evidence_for(None)
        verdict = judge(evidence, margin=margin, champion_version=champion_version if champion is not None else None,
                        must_beat_baseline=must_beat_baseline)
        promoted, reason = verdict.promoted, note + verdict.reason
    if promoted:
        mlflow_client.set_registered_model_alias(model_name, CHAMPION, logged.version)
    decision = Decision(model_name, logged.version, champion_version, evidence.metric, evidence.challenger.value,
                        evidence.champion.value if evidence.champion else None, promoted, reason, holdout,
                        logged.run_id, dagster_run_id, dt.datetime.now(dt.UTC), evidence, margin)
    log.info("%s v%s: %s (%s)", model_name, logged.version, "promoted to champion" if promoted else "stays challenger",
             reason)
    if lake is not None:
        record_decision(lake, decision)
    _show_decision(mlflow_client, decision, purpose)
    return decision


def _show_decision(mlflow_client: MlflowClient, decision: Decision, purpose: str) -> None:
    """The decision on the run (tags, metric ``promoted``) and on the registered version (description, tags)."""
    from mlflow.entities import Metric, RunTag

    tags = {"plantlake.gate.promoted": str(decision.promoted).lower(), "plantlake.gate.reason": decision.reason[:5000],
            "plantlake.gate.champion_version": decision.champion_version or "(none)"}
    now = int(decision.decided_at.timestamp() * 1000)
    mlflow_client.log_batch(decision.mlflow_run_id, metrics=[Metric("promoted", float(decision.promoted), now, 0)],
                            tags=[RunTag(k, v) for k, v in tags.items()])
    name, version = decision.model_name, decision.challenger_version
    mlflow_client.update_model_version(name, version, description=f"{purpose}\n\n{decision.describe()}")
    tags = {**tags, "plantlake.gate.holdout": decision.holdout}
    for key in ("plantlake.gate.promoted", "plantlake.gate.champion_version", "plantlake.gate.holdout"):
        mlflow_client.set_model_version_tag(name, version, key, tags[key])  # the reason: in the description


def record_decision(lake: Lake, decision: Decision) -> int:
    _add_new_columns(lake)
    return lake.append(MODEL_PROMOTIONS, pa.Table.from_pylist([decision.row()], schema=MODEL_PROMOTIONS.schema))


def _add_new_columns(lake: Lake) -> None:
    """Give an ops.model_promotions written before the gate had intervals the nullable columns added since.

    delta-rs refuses to append rows with columns the table lacks; the old rows read null in them.
    """
    from deltalake.schema import Field

    if not lake.exists(MODEL_PROMOTIONS):
        return
    table = lake.delta_table(MODEL_PROMOTIONS)
    have = set(table.schema().to_arrow().names)
    missing = [field for field in MODEL_PROMOTIONS.schema if field.name not in have]
    if not missing:
        return
    try:
        table.alter.add_columns([Field.from_arrow(field.with_nullable(True)) for field in missing])
    except Exception:  # another run added them first
        if {f.name for f in missing} - set(lake.delta_table(MODEL_PROMOTIONS).schema().to_arrow().names):
            raise
    log.info("%s: added the columns %s", MODEL_PROMOTIONS.name, ", ".join(f.name for f in missing))
