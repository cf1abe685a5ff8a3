"""``plantlake ui`` (what ``make ui`` starts) serves the code location, and the nightly job launched the way the
UI launches it, run by its Dagster daemon, does what ``plantlake run`` does: one start of the servers.

``plantlake ui`` runs ``dagster dev`` (the webserver, ``dagster-daemon`` and one code server) on
``workspace.yaml`` and the MLflow UI, on 127.0.0.1, against a fresh ``DAGSTER_HOME``. Once they
answer, the webserver's listing (every asset, check, schedule, sensor and freshness policy) and
the freshness its daemon evaluates are read. Then one night of a tiny network is launched through
the webserver's GraphQL API with the mutation the UI's launchpad sends (``launchPipelineExecution``,
the night as the ``dagster/partition`` tag); the daemon dequeues it and the code server starts the
run's process. While it runs, the processes under ``plantlake ui`` are watched for Spark driver JVMs.
The same night is run in this process with ``run_nights`` on a lake of its own, and the two lakes
are compared. A SIGTERM then stops every server. (The webserver's listing and ``plantlake ui``'s
start and stop were tests/test_webserver.py, with a start of the servers of their own.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest

from bench.daemon import ProcessWatch
from lakehouse.delta import Lake
from lakehouse.settings import environment, get_settings, home_environment, plantlake_home
from lakehouse.snapshot import contents, differences
from orchestration import runs
from orchestration.definitions import defs
from orchestration.ui import start, stop
from tests.pipeline import START, check_results, materialized, run, tiny_network
from tests.servers import free_port, listening, outside_address, venv_command, wait_for_port

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
LISTING = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  schedules { name } sensors { name }
  assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } }
    internalFreshnessPolicy { ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone } } } } } } }"""
FRESHNESS = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  assetNodes { assetKey { path } freshnessStatusInfo { freshnessStatus } } } } } }"""


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    assert "errors" not in answer, answer["errors"]
    return answer["data"]


def served(port: int) -> dict:
    [repo] = graphql(port, LISTING)["repositoriesOrError"]["nodes"]
    return {
        "assets": {"/".join(n["assetKey"]["path"]) for n in repo["assetNodes"]},
        "checks": {f"{'/'.join(n['assetKey']['path'])}:{c['name']}" for n in repo["assetNodes"]
                   for c in n["assetChecksOrError"].get("checks", [])},
        "schedules": {s["name"] for s in repo["schedules"]},
        "sensors": {s["name"] for s in repo["sensors"]},
        "freshness": {"/".join(n["assetKey"]["path"]): n["internalFreshnessPolicy"] for n in repo["assetNodes"]
                      if n["internalFreshnessPolicy"]},
    }


def freshness_status(port: int) -> dict[str, str | None]:
    [repo] = graphql(port, FRESHNESS)["repositoriesOrError"]["nodes"]
    return {"/".join(n["assetKey"]["path"]): (n["freshnessStatusInfo"] or {}).get("freshnessStatus")
            for n in repo["assetNodes"]}


def code_location() -> dict:
    """What the webserver must list: the code location built for this process's settings."""
    graph = defs().resolve_asset_graph()
    return {
        "assets": {k.to_user_string() for k in graph.get_all_asset_keys()},
        "checks": {f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys},
        "schedules": {s.name for s in defs().schedules},
        "sensors": {s.name for s in defs().sensors},
        "freshness": {  # the nightly gold tables: expected between the nightly run and 4 hours later, daily
            k.to_user_string(): {"deadlineCron": f"0 {(get_settings().orchestration.nightly_hour + 4) % 24} * * *",
                                 "lowerBoundDeltaSeconds": 4 * 3600, "timezone": "UTC"}
            for k in graph.get_all_asset_keys() if graph.get(k).group_name == "gold"
        },
    }


@dataclass
class UiStart:
    """``plantlake ui`` before the run: what its servers answered."""
    listed: dict
    expected: dict
    mlflow_health: bytes
    freshness: dict[str, str | None]
    outside_answers: list[int]  # ports that answered on the machine's network address
    processes: list[str]  # the command lines under plantlake ui
    log: str


@dataclass
class DaemonRun:
    ui: UiStart
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
    exit_code: int | None  # of plantlake ui after a SIGTERM
    still_listening: list[int]


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


def ui_start(port: int, mlflow_port: int, server, log: Path) -> UiStart:
    """Wait for both servers, read the listing, and wait for the daemon's freshness verdict on gold/oee_daily."""
    wait_for_port(port, server, 300, "dagster dev", log)
    wait_for_port(mlflow_port, server, 120, "mlflow ui", log)
    listed = served(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{mlflow_port}/health", timeout=30) as response:
        health = response.read().strip()
    deadline = time.monotonic() + 120
    while freshness_status(port)["gold/oee_daily"] != "HEALTHY" and time.monotonic() < deadline:
        time.sleep(0.5)
    outside = outside_address()
    answered = [p for p in (port, mlflow_port) if outside and listening(p, outside)]
    processes = [" ".join(p.cmdline()) for p in psutil.Process(server.pid).children(recursive=True)]
    return UiStart(listed, code_location(), health, freshness_status(port), answered, processes, log.read_text())


@pytest.fixture(scope="module")
def daemon_run(tmp_path_factory) -> DaemonRun:
    work = tmp_path_factory.mktemp("daemon")
    landing = work / "landing"
    tiny_network(landing, days=1)
    home = work / "home"
    with environment({"DAGSTER_HOME": str(work / "dagster")}):
        dagster_home = runs.dagster_home()  # a new instance, configured as plantlake configures one
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:  # gold/oee_daily materialized just now
        instance.report_runless_asset_event(dg.AssetMaterialization(["gold", "oee_daily"], partition="2026-01-04"))
    port, mlflow_port = free_port(), free_port()
    # the nightly schedule is due in 12 hours: no scheduled run joins the test's
    settings = {"PLANTLAKE_FIRST_DATE": (NIGHT - dt.timedelta(days=1)).isoformat(),
                "PLANTLAKE_LANDING_URI": str(landing),
                "PLANTLAKE_NIGHTLY_HOUR": str((dt.datetime.now(dt.UTC).hour + 12) % 24)}
    env = {**os.environ, **home_environment(home), **settings, "DAGSTER_HOME": str(dagster_home),
           "FRESHNESS_DAEMON_INTERVAL_SECONDS": "2"}
    log = work / "plantlake-ui.log"
    server = start([venv_command("plantlake"), "ui", "--port", str(port), "--mlflow-port", str(mlflow_port)], env,
                   log)
    exit_code = None
    try:
        # the same night in this process, on a lake of its own, while the servers load the code location
        with plantlake_home(work / "in-process"), environment(settings):
            expected = run(NIGHT, instance=dg.DagsterInstance.ephemeral())
            expected_lake = Lake()
            ui = ui_start(port, mlflow_port, server, log)  # listed and expected under the servers' settings
        with ProcessWatch(server.pid, interval=0.5) as watch:
            run_id = launch(port, NIGHT)
            finished = wait_for(port, run_id, 600)
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            events = instance.all_logs(run_id)
        repository = graphql(port, REPOSITORY)["repositoriesOrError"]["nodes"][0]
        history = graphql(port, CHECK_HISTORY, {"assetKey": {"path": ["gold", "oee_daily"]}})["assetCheckExecutions"]
        server.send_signal(signal.SIGTERM)  # as Ctrl-C in a terminal: plantlake ui stops what it started
        exit_code = server.wait(60)
    finally:
        stop(server)
    return DaemonRun(ui, run_id, finished["status"], {t["key"]: t["value"] for t in finished["tags"]}, events,
                     watch.drivers, Lake(str(home / "lake")), expected, expected_lake, repository, history,
                     exit_code, [p for p in (port, mlflow_port) if listening(p)])


def test_plantlake_ui_lists_the_code_location_with_its_freshness_policies(daemon_run):
    """The webserver lists every asset, check, schedule, sensor and freshness policy of the code location."""
    listed = daemon_run.ui.listed
    assert listed == daemon_run.ui.expected
    assert {"nightly_schedule"} <= listed["schedules"]
    assert {"landing_sensor", "run_failure_recorder"} <= listed["sensors"]
    assert {"gold/machine_daily", "gold/maintenance_alerts"} <= set(listed["freshness"])


def test_the_ui_s_daemon_evaluates_the_gold_freshness_policy(daemon_run):
    """Fresh since its last deadline once materialized, unknown until then; tables without the policy are not
    evaluated (read before the night's run)."""
    status = daemon_run.ui.freshness
    assert status["gold/oee_daily"] == "HEALTHY", daemon_run.ui.log[-3000:]
    assert status["gold/machine_daily"] == "UNKNOWN"
    assert status["silver/telemetry"] is None  # no policy: no freshness status


def test_plantlake_ui_serves_mlflow_too_only_on_localhost_and_a_sigterm_stops_them_all(daemon_run):
    ui = daemon_run.ui
    assert ui.mlflow_health == b"OK"
    assert "http://127.0.0.1:" in ui.log
    assert ui.outside_answers == []  # bound to 127.0.0.1: nothing answers on the machine's network address
    assert any("mlflow" in p for p in ui.processes)
    assert not [p for p in ui.processes if "huey" in p or "jobs._job_runner" in p]  # GenAI's job runners: off
    assert not [p for p in ui.processes if "--multiprocessing-fork" in p]  # MLflow's server: one process, no workers
    assert daemon_run.exit_code == 0
    assert daemon_run.still_listening == []  # the children were stopped too


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
