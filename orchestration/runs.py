"""Running the nightly job in this process (``plantlake run``, ``plantlake demo``).

Runs are recorded in the Dagster instance under ``$PLANTLAKE_HOME/dagster`` (unless
``DAGSTER_HOME`` says otherwise), so the UI started by ``make ui`` shows them.
"""

import datetime as dt
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from lakehouse.settings import Settings, environment, get_settings
from orchestration.eventlog import BATCH_ENVIRONMENT

log = logging.getLogger(__name__)

#: What plantlake wrote before its event log stored batches (rewritten as DAGSTER_YAML when found).
_FIRST_DAGSTER_YAML = """\
# Written by plantlake: a local instance with telemetry off.
telemetry:
  enabled: false
"""
DAGSTER_YAML = """\
# Written by plantlake: a local instance with telemetry off, whose event log writes a run's
# per-night materializations in one transaction (orchestration/eventlog.py).
telemetry:
  enabled: false
event_log_storage:
  module: orchestration.eventlog
  class: BatchedSqliteEventLogStorage
  config:
    base_dir: {events}
"""


def dagster_home() -> Path:
    """The Dagster instance folder (``DAGSTER_HOME``, else ``$PLANTLAKE_HOME/dagster``), configured as
    :func:`configured` says. Read at each call, never written back into the environment: a process that
    moves to another ``PLANTLAKE_HOME`` gets that home's instance."""
    return configured(Path(os.environ.get("DAGSTER_HOME") or _own_folder()))


def _own_folder() -> Path:
    return get_settings().home / "dagster"


def configured(home: Path) -> Path:
    """``home`` as a Dagster instance folder: created with telemetry off and the batching event log if it has
    no ``dagster.yaml`` (or holds what plantlake wrote before)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() == _FIRST_DAGSTER_YAML:
        config.write_text(DAGSTER_YAML.format(events=home.resolve() / "history" / "runs"))
    return home


def instance() -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(dagster_home()))


def local_instance(home: Path | None = None) -> dg.DagsterInstance:
    """An instance in ``home`` (default: ``$PLANTLAKE_HOME/dagster``), configured as ``plantlake run``'s
    (:func:`configured`), whatever ``DAGSTER_HOME`` says: for runs whose history is kept beside a lake of
    their own (the tests' backfills, the soak's champion)."""
    return dg.DagsterInstance.from_config(str(configured(home or _own_folder())))


#: Dagster's opt-in for a run over many partitions: one "materialization planned" event per asset
#: instead of one per asset and night (SQLite writes each slowly: docs/performance.md, The demo).
#: Its price: a failed run's partitions are not marked failed in the UI.
ONE_PLANNED_EVENT_PER_ASSET = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


#: The nights of a range run, shown in the Dagster UI's run list (a run of one night shows its partition).
NIGHTS_TAG = "plantlake/nights"


def run_config(plants: Sequence[str] | None = None, reland: bool = False, log_level: str = "INFO",
               history: bool = False) -> dict:
    return {
        "resources": {"scope": {"config": {"plants": list(plants or []), "reland": reland, "history": history}}},
        "loggers": {"console": {"config": {"log_level": log_level}}},
    }


def run_nights(
    start: dt.date,
    end: dt.date | None = None,
    plants: Sequence[str] | None = None,
    *,
    reland: bool = False,
    job_name: str = "nightly",
    log_level: str = "INFO",
    dagster_instance: dg.DagsterInstance | None = None,
    assets: Sequence[dg.AssetKey] | None = None,
    planned_per_asset: bool = False,
    history: bool = False,
    settings: Settings | None = None,
) -> dg.ExecuteInProcessResult:
    """Run ``job_name`` (or only its ``assets``) for the nights ``start``..``end`` as one run.

    A backfill is one run, not one per night. ``planned_per_asset`` takes Dagster's opt-in
    (``ONE_PLANNED_EVENT_PER_ASSET``) for this run only: callers that report failures themselves.
    ``history`` marks nights loaded as history: they are landed and built through gold, but not
    scored with today's champion, and no alert is raised or sent for them (docs/pipeline.md).
    """
    from orchestration.definitions import build_definitions  # loaded only when a run is asked for

    end = end or start
    if end < start:
        raise ValueError(f"--to {end} is before --date {start}")
    tags = {"plantlake/trigger": "cli"}
    if plants:
        tags["plantlake/plants"] = ",".join(plants)
    job = build_definitions(settings or get_settings()).resolve_job_def(job_name)
    kwargs: dict = {
        "run_config": run_config(plants, reland, log_level, history),
        "instance": dagster_instance or instance(),
        "raise_on_error": False,
        "asset_selection": list(assets) if assets else None,
    }
    if start == end:
        kwargs["partition_key"] = start.isoformat()
    else:
        tags["dagster/asset_partition_range_start"] = start.isoformat()
        tags["dagster/asset_partition_range_end"] = end.isoformat()
        tags[NIGHTS_TAG] = f"{start}..{end}"  # the run list hides Dagster's range tags, shows this one
    log.info("running %s for %s..%s (plants: %s)", job_name, start, end, ", ".join(plants or []) or "all")
    with environment({**BATCH_ENVIRONMENT, **(ONE_PLANNED_EVENT_PER_ASSET if planned_per_asset else {})}):
        return job.execute_in_process(tags=tags, **kwargs)


def upstream_of(tables: Sequence[str], job_name: str = "nightly",
                settings: Settings | None = None) -> list[dg.AssetKey]:
    """The assets of ``job_name`` that build ``tables`` ("gold.machine_daily"...), for ``run_nights(assets=...)``:
    a run that prepares what one reader needs (a training window: ``ml.train.TRAINING_INPUTS``) and nothing else.
    The landing step is taken whole: it lands every feed of a drop at once."""
    from orchestration.definitions import build_definitions

    graph = build_definitions(settings or get_settings()).resolve_job_def(job_name).asset_layer.asset_graph
    wanted = dg.AssetSelection.assets(*(dg.AssetKey(name.split(".")) for name in tables))
    return sorted(k for k in wanted.upstream().required_multi_asset_neighbors().resolve(graph)
                  if graph.get(k).is_executable)


#: Checks that fail the run although they do not block what is downstream: a drop that landed (almost) nothing.
RUN_FAILING_CHECKS = {"quarantine_share"}


def succeeded(result: dg.ExecuteInProcessResult) -> bool:
    """The run succeeded and no check of :data:`RUN_FAILING_CHECKS` failed (a night that lands nothing fails)."""
    failed_checks = {
        event.event_specific_data.check_name
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed
    }
    return result.success and not failed_checks & RUN_FAILING_CHECKS


def backfill(start: dt.date, end: dt.date, tables: Sequence[str] = (), *,
             dagster_instance: dg.DagsterInstance | None = None) -> list[str]:
    """Every night from ``start`` to ``end`` as one run, for callers that need the tables, not the run's log:
    the assets that build ``tables`` (all of the job's when none: :func:`upstream_of`), one "materialization
    planned" event per asset, recorded in ``dagster_instance`` (default: :func:`local_instance`). The failed
    steps and checks, if any."""
    if dagster_instance is None:
        with local_instance() as own:
            return backfill(start, end, tables, dagster_instance=own)
    return failures(run_nights(start, end, dagster_instance=dagster_instance, log_level="WARNING",
                               planned_per_asset=True, assets=upstream_of(tables) if tables else None))


def failures(result: dg.ExecuteInProcessResult) -> list[str]:
    """Readable lines for the failed steps and failed checks of a run, each once (a check of a range of nights
    records its result for every night)."""
    lines = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = getattr(event.event_specific_data, "error", None)
            lines.append(f"step {event.step_key} failed: {error.message.strip() if error else event.message}")
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                lines.append(
                    f"check {evaluation.asset_key.to_user_string()}:{evaluation.check_name} did not pass "
                    f"({evaluation.description or ''})"
                )
    return list(dict.fromkeys(lines))


def skipped(result: dg.ExecuteInProcessResult) -> list[str]:
    """Why assets of a run were not materialized, as they recorded it (an observation with a ``skipped`` entry)."""
    from orchestration.assets.models import SKIPPED

    lines = []
    for event in result.all_events:
        if event.event_type_value == "ASSET_OBSERVATION":
            observation = event.event_specific_data.asset_observation
            if SKIPPED in observation.metadata:
                lines.append(f"{observation.asset_key.to_user_string()} skipped: "
                             f"{observation.metadata[SKIPPED].value}")
    return lines


def retrain(*, log_level: str = "INFO", dagster_instance: dg.DagsterInstance | None = None,
            end_date: dt.date | None = None, settings: Settings | None = None) -> dg.ExecuteInProcessResult:
    """Run the retrain job in this process: the training set, both models and the promotion gate."""
    from orchestration.definitions import build_definitions

    config: dict = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    if end_date:
        training = {"config": {"end_date": end_date.isoformat()}}
        config["ops"] = {name: training for name in ("failure_training_set", "models__failure_model",
                                                      "models__failure_cost_model")}
    log.info("retraining the models%s", f" on the window ending {end_date}" if end_date else "")
    return build_definitions(settings or get_settings()).resolve_job_def("retrain").execute_in_process(
        run_config=config, instance=dagster_instance or instance(), raise_on_error=False,
        tags={"plantlake/trigger": "cli"})
