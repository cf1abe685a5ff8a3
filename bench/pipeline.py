"""The nightly pipeline as the benchmark runs it: the real Dagster job in process, per stage or whole.

A stage is a selection of the nightly job's assets (their checks come along), every one of
them daily-partitioned (a run of one night cannot hold an unpartitioned asset):

- ``landing``: drops -> bronze (the ``landing`` op, its reconciliation, the bronze checks);
- ``silver``: every ``silver/*`` asset and check (Spark);
- ``gold``: every ``gold/*`` asset and check except the scoring assets (Spark);
- ``scoring``: exactly the nightly scoring assets ``gold/failure_risk``,
  ``gold/maintenance_alerts`` and ``gold/savings_forecast`` (they skip without a champion
  model: ``bench.run`` trains one first).

Never part of a night: the external asset ``landing/drops`` (the landing zone itself,
unpartitioned), the weekly training assets of group ``models`` (``gold/failure_training_set``,
``models/*``: job ``retrain``) and the weekly table maintenance.

Every run goes to an ephemeral Dagster instance; step start and end times come from its
event log, so a run's time splits into its steps (the in-process executor runs them one
after the other) and each step gets the peak memory sampled while it ran.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field

import dagster as dg

from bench.memory import TreeSampler
from lakehouse.settings import get_settings
from orchestration.runs import run_config, run_nights

STAGES = ("landing", "silver", "gold", "scoring")
#: The nightly scoring assets (group gold, in the nightly job): the scoring stage is exactly these.
SCORING_KEYS = tuple(dg.AssetKey(["gold", name]) for name in ("failure_risk", "maintenance_alerts",
                                                                "savings_forecast"))
#: Groups that are never part of a night: the landing zone (external), weekly training, weekly maintenance.
NOT_NIGHTLY_GROUPS = ("landing", "models", "maintenance")
LAYER_STAGES = {"bronze": "landing", "ops": "landing", "silver": "silver", "gold": "gold"}


def definitions() -> dg.Definitions:
    from orchestration.definitions import build_definitions  # loaded only when a run is asked for

    return build_definitions(get_settings())


def nightly_partitions() -> dg.PartitionsDefinition:
    return definitions().resolve_job_def("nightly").partitions_def


def stage_of_key(key: dg.AssetKey, group: str | None = None) -> str | None:
    """The stage an asset belongs to (None: not part of a night, e.g. training or table maintenance)."""
    if group in NOT_NIGHTLY_GROUPS:
        return None
    if key in SCORING_KEYS:
        return "scoring"
    return LAYER_STAGES.get(key.path[0])


def _daily(node) -> bool:
    return node.partitions_def == nightly_partitions()


def stage_keys() -> dict[str, list[dg.AssetKey]]:
    """The night's assets by stage: the nightly job's materializable, daily-partitioned assets."""
    defs = definitions()
    nightly = set(defs.resolve_job_def("nightly").asset_layer.executable_asset_keys)
    graph = defs.resolve_asset_graph()
    out: dict[str, list[dg.AssetKey]] = {stage: [] for stage in STAGES}
    for key in sorted(graph.materializable_asset_keys):
        node = graph.get(key)
        stage = stage_of_key(key, node.group_name)
        if stage is not None and key in nightly and _daily(node):
            out[stage].append(key)
    return out


def unstaged_nightly_assets() -> list[str]:
    """Assets of the nightly job that no stage runs (a new layer the benchmark does not know yet)."""
    defs = definitions()
    nightly = set(defs.resolve_job_def("nightly").asset_layer.executable_asset_keys)
    staged = {key for keys in stage_keys().values() for key in keys}
    return sorted(key.to_user_string() for key in nightly - staged)


def op_stages() -> dict[str, str]:
    """Step (op) name -> stage, for every asset and check op of the code location."""
    defs = definitions()
    graph = defs.resolve_asset_graph()
    by_key = {key: stage for stage, keys in stage_keys().items() for key in keys}
    out = {}
    for key in graph.materializable_asset_keys:
        if key in by_key:
            out[graph.get(key).assets_def.node_def.name] = by_key[key]
    for check in graph.asset_check_keys:
        if check.asset_key in by_key:
            out["__".join(check.asset_key.path) + "_" + check.name] = by_key[check.asset_key]
    return out


def stage_of_step(step_key: str, stages: dict[str, str] | None = None) -> str:
    return (stages or op_stages()).get(step_key, "other")


def is_check(step_key: str) -> bool:
    return "__" in step_key


def scoring_assets_present() -> list[str]:
    return sorted(k.to_user_string() for k in stage_keys()["scoring"])


@dataclass
class Step:
    key: str
    stage: str
    check: bool
    start: float
    end: float
    ok: bool
    peak_rss: int = 0

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class RunTiming:
    """One Dagster run: wall time, outcome, its steps, what failed."""

    label: str
    start: float
    end: float
    success: bool
    steps: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    peak_rss: int = 0

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def stage_seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for step in self.steps:
            out[step.stage] = out.get(step.stage, 0.0) + step.seconds
        return out

    def to_json(self) -> dict:
        data = asdict(self)
        data["seconds"] = self.seconds
        return data


def _steps(instance: dg.DagsterInstance, run_id: str, sampler: TreeSampler | None) -> list[Step]:
    starts: dict[str, float] = {}
    steps = []
    stages = op_stages()
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
            start = starts[event.step_key]
            steps.append(Step(event.step_key, stage_of_step(event.step_key, stages), is_check(event.step_key), start,
                              entry.timestamp, event.event_type_value == "STEP_SUCCESS",
                              sampler.peak(start, entry.timestamp) if sampler else 0))
    return steps


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    from orchestration.runs import failures

    return failures(result)


def _timed(label: str, instance: dg.DagsterInstance, sampler: TreeSampler | None, execute) -> RunTiming:
    start = time.time()
    try:
        result = execute()
    except Exception as exc:  # a run that cannot even start (bad selection, missing model): say why
        end = time.time()
        return RunTiming(label, start, end, False, [], [f"{type(exc).__name__}: {exc}"],
                         sampler.peak(start, end) if sampler else 0)
    end = time.time()
    return RunTiming(label, start, end, result.success, _steps(instance, result.run_id, sampler), _failures(result),
                     sampler.peak(start, end) if sampler else 0)


def run_checks(stage: str, night: dt.date, sampler: TreeSampler | None = None) -> RunTiming:
    """The stage's Great Expectations checks, one after the other, called directly (the body of each
    Dagster check: read back the night's slice, validate it) with a context holding the night's partition.

    Dagster cannot run a job of checks alone here (their assets' partitions are not in such a job), so
    ``bench.run full`` runs a stage as its assets (a Dagster run) and then these calls: a check that cannot
    hold its slice in memory is then measured, and stopped, apart from the assets it checks.
    """
    import types

    from orchestration.resources import NightScope

    keys = set(stage_keys()[stage])
    # A context of the night's partition; without an op context the check records one result, not one per night.
    op = types.SimpleNamespace(has_partition_key=False, has_partition_key_range=False)
    context = types.SimpleNamespace(has_partition_key_range=False, partition_key=night.isoformat(),
                                    op_execution_context=op)
    timing = RunTiming(f"{stage} checks", time.time(), 0.0, True)
    defs = definitions()
    lake = defs.resources["lake"]
    for check in defs.asset_checks:
        [check_key] = list(check.check_keys)
        if check_key.asset_key not in keys:
            continue
        step = "__".join(check_key.asset_key.path) + "_" + check_key.name
        start = time.time()
        try:
            results = list(check.node_def.compute_fn.decorated_fn(context, lake, NightScope()))  # one per night
            ok = bool(results) and all(result.passed for result in results)
            for result in results:
                if not result.passed:
                    timing.failures.append(f"check {check_key.asset_key.to_user_string()}:{check_key.name} did not "
                                           f"pass ({result.description or ''})")
        except Exception as exc:  # MemoryError and friends: measured, reported, the next check still runs
            ok = False
            timing.failures.append(f"step {step} failed: {type(exc).__name__}: {exc}")
        end = time.time()
        timing.steps.append(Step(step, stage, True, start, end, ok, sampler.peak(start, end) if sampler else 0))
    timing.end = time.time()
    timing.success = all(step.ok for step in timing.steps)
    timing.peak_rss = sampler.peak(timing.start, timing.end) if sampler else 0
    return timing


def assets_job(stage: str) -> dg.JobDefinition:
    """The stage's assets as a job of daily partitions, with the checks their own ops carry (the
    reconciliation of ``landing``); the separate checks run apart (:func:`run_checks`).

    There is deliberately no job of the checks alone: a job that selects no asset has no
    partitions (Dagster drops the job's ``partitions_def``) and fails to start with "There is
    no PartitionsDefinition shared by all the provided assets".
    """
    defs = definitions()
    daily = nightly_partitions()
    graph = defs.resolve_asset_graph()
    keys = stage_keys()[stage]
    internal = {check for key in keys for check in graph.get(key).assets_def.check_keys}
    job = dg.define_asset_job(f"bench_{stage}_assets", partitions_def=daily,
                              selection=dg.AssetSelection.assets(*keys).without_checks()
                              | dg.AssetSelection.checks(*internal))
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)
    if resolved.partitions_def != daily:
        raise ValueError(f"the {stage} assets job is not daily-partitioned: {resolved.partitions_def}")
    return resolved


def run_stage(
    stage: str,
    night: dt.date,
    instance: dg.DagsterInstance,
    sampler: TreeSampler | None = None,
    log_level: str = "WARNING",
    part: str | None = None,
) -> RunTiming:
    """One stage of one night: the nightly job limited to the stage's assets and their checks, or with
    ``part`` ``assets`` or ``checks`` only one of the two (see :func:`run_checks`)."""
    keys = stage_keys()[stage]
    label = f"{stage} {part}" if part else stage
    if not keys:
        now = time.time()
        return RunTiming(label, now, now, False, failures=["no asset of this stage in the code location"])
    selection: list[dg.AssetKey] | None = keys
    if part == "checks":
        return run_checks(stage, night, sampler)
    if part is not None:
        job = assets_job(stage)
        selection = None
    else:
        job = definitions().resolve_job_def("nightly")  # stage_keys: the nightly job's assets only

    def execute():
        return job.execute_in_process(
            partition_key=night.isoformat(),
            asset_selection=selection,
            instance=instance,
            run_config=run_config(log_level=log_level),
            tags={"plantlake/trigger": "bench"},
            raise_on_error=False,
        )

    return _timed(label, instance, sampler, execute)


def run_whole(
    start: dt.date,
    end: dt.date,
    instance: dg.DagsterInstance,
    sampler: TreeSampler | None = None,
    label: str = "night",
    log_level: str = "WARNING",
) -> RunTiming:
    """The nightly job for ``start``..``end`` as one run, as ``plantlake run`` does it."""
    return _timed(label, instance, sampler,
                  lambda: run_nights(start, end, dagster_instance=instance, log_level=log_level))
