"""`plantlake ui` starts the Dagster webserver on the code location of workspace.yaml and the MLflow UI, and
stops both: one test, one start of the servers (the webserver's listing was once a test of its own)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.settings import environment, get_settings
from orchestration import runs
from orchestration.definitions import defs
from tests.servers import free_port, stop, venv_command, wait_for_port

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[1]
QUERY = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  schedules { name } sensors { name }
  assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks { checks { name } } }
    internalFreshnessPolicy { ... on CronFreshnessPolicy { deadlineCron lowerBoundDeltaSeconds timezone } } } } } } }"""
FRESHNESS = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
  assetNodes { assetKey { path } freshnessStatusInfo { freshnessStatus } } } } } }"""


def listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def outside_address() -> str | None:
    """This machine's address on its network (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def served(port: int) -> dict:
    [repo] = graphql(port, QUERY)["repositoriesOrError"]["nodes"]
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


def expected() -> dict:
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


@pytest.fixture
def dagster_home(tmp_path):
    with environment({"DAGSTER_HOME": str(tmp_path / "dagster")}):
        return runs.dagster_home()  # as plantlake writes it for a new instance


def test_plantlake_ui_serves_dagster_and_mlflow_on_localhost_and_stops_them(dagster_home, tmp_path):
    """`plantlake ui`: the Dagster webserver (``dagster dev -w workspace.yaml``) lists every asset, check,
    schedule, sensor and freshness policy of the code location, its daemon evaluates freshness, MLflow's UI
    answers, both only on 127.0.0.1, and a SIGTERM stops them all."""
    port, mlflow_port = free_port(), free_port()
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:  # gold/oee_daily materialized just now
        instance.report_runless_asset_event(dg.AssetMaterialization(["gold", "oee_daily"], partition="2026-01-05"))
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "PLANTLAKE_HOME": str(tmp_path / "home"),
           "FRESHNESS_DAEMON_INTERVAL_SECONDS": "2"}
    log = tmp_path / "ui.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [venv_command("plantlake"), "ui", "--port", str(port), "--mlflow-port",
             str(mlflow_port)], cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, proc, 120, "dagster dev", log)
        wait_for_port(mlflow_port, proc, 120, "mlflow ui", log)
        listed = served(port)
        assert listed == expected()
        assert {"nightly_schedule"} <= listed["schedules"]
        assert {"landing_sensor", "run_failure_recorder"} <= listed["sensors"]
        assert {"gold/machine_daily", "gold/maintenance_alerts"} <= set(listed["freshness"])
        with urllib.request.urlopen(f"http://127.0.0.1:{mlflow_port}/health", timeout=30) as response:
            assert response.read().strip() == b"OK"
        assert f"http://127.0.0.1:{port}" in log.read_text()
        # The daemon of `dagster dev` evaluates the gold freshness policy: fresh since its last deadline once
        # materialized, unknown until then; tables without the policy are not evaluated.
        deadline = time.monotonic() + 120
        while freshness_status(port)["gold/oee_daily"] != "HEALTHY" and time.monotonic() < deadline:
            time.sleep(0.5)
        status = freshness_status(port)
        assert status["gold/oee_daily"] == "HEALTHY", log.read_text()[-3000:]
        assert status["gold/machine_daily"] == "UNKNOWN"
        assert status["silver/telemetry"] is None  # no policy: no freshness status
        outside = outside_address()
        if outside:  # bound to 127.0.0.1: nothing answers on the machine's network address
            for p in (port, mlflow_port):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    assert s.connect_ex((outside, p)) != 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
        assert not listening(port) and not listening(mlflow_port)  # the children were stopped too
    finally:
        stop(proc)
