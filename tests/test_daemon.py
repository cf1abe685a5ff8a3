"""The nightly job launched the way the UI launches it, run by a real Dagster daemon, does what ``plantlake run``
does: one night of a tiny network, the same tables, every asset and check green, one Spark JVM.

``dagster dev`` (the webserver, ``dagster-daemon`` and one code server: what ``make ui`` starts)
serves ``workspace.yaml`` on 127.0.0.1 against a fresh ``DAGSTER_HOME``. The run is launched
through the webserver's GraphQL API with the mutation the UI's launchpad sends
(``launchPipelineExecution``, the night as the ``dagster/partition`` tag); the daemon dequeues
it and the code server starts the run's process. While it runs, the processes under ``dagster
dev`` are watched for Spark driver JVMs. The same night is run in this process with
``run_nights`` on a lake of its own, and the two lakes are compared.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from bench.daemon import ProcessWatch
from lakehouse.delta import Lake
from lakehouse.settings import environment, home_environment, plantlake_home
from lakehouse.snapshot import contents, differences
from orchestration import runs
from orchestration.ui import start, stop
from tests.pipeline import START, check_results, materialized, run, tiny_network
from tests.servers import free_port, venv_command, wait_for_port

pytestmark = [pytest.mark.server, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[1]
NIGHT = START
LAUNCH = """mutation Launch($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  } }"""
RUN = """query Run($runId: ID!) { runOrError(runId: $runId) { __typename
  ... on Run { status tags { key value } } } }"""
REPOSITORY = """{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name }
  sensors { name sensorState { status ticks(limit: 5) { status } } }
  schedules { name scheduleState { status } } } } } }"""
CHECK_HISTORY = """query History($assetKey: AssetKeyInput!) { assetCheckExecutions(assetKey: $assetKey,
  checkName: "expectations", limit: 20) { runId status partition } }"""


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


@dataclass
class DaemonRun:
    run_id: str
    status: str
    tags: dict[str, str]
    events: list[dg.EventLogEntry]
    spark_drivers: dict[int, str]  # pid -> the process that started it
    lake: Lake
    expected: dg.ExecuteInProcessResult
    expected_lake: Lake
    repository: dict
    check_history: list[dict]


def launch(port: int, night: dt.date) -> str:
    [repo] = graphql(port, REPOSITORY)["repositoriesOrError"]["nodes"]
    params = {
        "selector": {"repositoryLocationName": repo["location"]["name"], "repositoryName": repo["name"],
                     "pipelineName": "nightly"},
        "runConfigData": {},
        "mode": "default",
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": night.isoformat()}]},
    }
    result = graphql(port, LAUNCH, {"executionParams": params})["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def wait_for(port: int, run_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = graphql(port, RUN, {"runId": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return run
        time.sleep(1)
    raise AssertionError(f"run {run_id} did not finish within {timeout:.0f} s: {run['status']}")


@pytest.fixture(scope="module")
def daemon_run(tmp_path_factory) -> DaemonRun:
    work = tmp_path_factory.mktemp("daemon")
    landing = work / "landing"
    tiny_network(landing, days=1)
    home = work / "home"
    with environment({"DAGSTER_HOME": str(work / "dagster")}):
        dagster_home = runs.dagster_home()  # a new instance, configured as plantlake configures one
    port = free_port()
    # the nightly schedule is due in 12 hours: no scheduled run joins the test's
    settings = {"PLANTLAKE_FIRST_DATE": NIGHT.isoformat(), "PLANTLAKE_LANDING_URI": str(landing),
                "PLANTLAKE_NIGHTLY_HOUR": str((dt.datetime.now(dt.UTC).hour + 12) % 24)}
    env = {**os.environ, **home_environment(home), **settings, "DAGSTER_HOME": str(dagster_home)}
    log = work / "dagster-dev.log"
    server = start([venv_command("dagster"), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1",
                    "-p", str(port)], env, log)
    try:
        # the same night in this process, on a lake of its own, while the servers load the code location
        with plantlake_home(work / "in-process"), environment(settings):
            expected = run(NIGHT, instance=dg.DagsterInstance.ephemeral())
            expected_lake = Lake()
        wait_for_port(port, server, 300, "dagster dev", log)
        with ProcessWatch(server.pid, interval=0.5) as watch:
            run_id = launch(port, NIGHT)
            finished = wait_for(port, run_id, 600)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            events = instance.all_logs(run_id)
        repository = graphql(port, REPOSITORY)["repositoriesOrError"]["nodes"][0]
        history = graphql(port, CHECK_HISTORY, {"assetKey": {"path": ["gold", "oee_daily"]}})["assetCheckExecutions"]
    finally:
        stop(server)
    return DaemonRun(run_id, finished["status"], {t["key"]: t["value"] for t in finished["tags"]}, events,
                     watch.drivers, Lake(str(home / "lake")), expected, expected_lake, repository, history)


def of_type(events: list[dg.EventLogEntry], event_type: dg.DagsterEventType) -> list:
    """What the run's events of ``event_type`` say (a materialization, a check's evaluation)."""
    return [e.dagster_event.event_specific_data for e in events
            if e.dagster_event and e.dagster_event.event_type == event_type]


def test_the_daemon_runs_the_night_green_with_the_assets_and_checks_of_plantlake_run(daemon_run):
    assert daemon_run.status == "SUCCESS"
    assert daemon_run.tags["dagster/partition"] == NIGHT.isoformat()
    keys = {m.materialization.asset_key.to_user_string()
            for m in of_type(daemon_run.events, dg.DagsterEventType.ASSET_MATERIALIZATION)}
    checks = {f"{e.asset_key.to_user_string()}:{e.check_name}": e.passed
              for e in of_type(daemon_run.events, dg.DagsterEventType.ASSET_CHECK_EVALUATION)}
    assert daemon_run.expected.success
    assert keys == materialized(daemon_run.expected) and "gold/oee_daily" in keys
    assert checks == check_results(daemon_run.expected)
    assert checks and all(checks.values()), [name for name, passed in checks.items() if not passed]


def test_the_daemon_s_tables_are_those_of_plantlake_run(daemon_run):
    got, expected = contents(daemon_run.lake), contents(daemon_run.expected_lake)
    assert "gold.oee_daily" in got and len(got) == len(expected)
    assert differences(got, expected) == []


def test_the_daemon_s_run_starts_exactly_one_spark(daemon_run):
    """The in-process executor: every Spark step of the run shares one session, whatever launched it (the
    default multiprocess executor started one JVM per Spark step)."""
    assert len(daemon_run.spark_drivers) == 1, daemon_run.spark_drivers


def test_each_night_records_its_own_row_count_and_check_result(daemon_run):
    """The materialization of a night carries that night's rows; the check's history has this night's result,
    not a skipped row beside an unpartitioned one."""
    materialized_now = of_type(daemon_run.events, dg.DagsterEventType.ASSET_MATERIALIZATION)
    [materialization] = [m.materialization for m in materialized_now
                         if m.materialization.asset_key == dg.AssetKey(["gold", "oee_daily"])]
    assert materialization.partition == NIGHT.isoformat()
    rows = daemon_run.lake.count("gold.oee_daily", filters=[("date", "=", NIGHT)])
    assert rows > 0 and materialization.metadata["dagster/row_count"].value == rows
    assert materialization.metadata["table_uri"].value == Path(daemon_run.lake.uri("gold.oee_daily")).as_uri()
    runs = [h for h in daemon_run.check_history if h["runId"] == daemon_run.run_id]
    assert runs == [{"runId": daemon_run.run_id, "status": "SUCCEEDED", "partition": NIGHT.isoformat()}]


def test_the_daemon_runs_the_landing_sensor_and_the_schedules(daemon_run):
    sensors = {s["name"]: s["sensorState"] for s in daemon_run.repository["sensors"]}
    assert sensors["landing_sensor"]["status"] == "RUNNING"
    assert sensors["landing_sensor"]["ticks"], "the daemon never evaluated the landing sensor"
    assert {s["name"]: s["scheduleState"]["status"] for s in daemon_run.repository["schedules"]} == {
        "nightly_schedule": "RUNNING", "retrain_schedule": "RUNNING", "maintenance_schedule": "RUNNING"}
