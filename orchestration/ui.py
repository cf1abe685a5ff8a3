"""`plantlake ui`: the Dagster UI (and the MLflow UI for a local tracking store), bound to 127.0.0.1.

Both run as child processes in their own sessions with default signal handlers (a
background ``dagster dev`` otherwise ignores SIGTERM) and are stopped by their own process
groups: SIGTERM, a bounded wait, then SIGKILL for whatever is left.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from lakehouse.processes import wait_for_group
from lakehouse.settings import get_settings
from orchestration.runs import dagster_home

ROOT = Path(__file__).resolve().parents[1]


def _default_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as sink:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=_default_signals,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop a UI and the processes it started (its own session: webserver, daemon, code server, workers)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        pass
    wait_for_group(proc.pid, timeout, every=0.2)  # the leader's children exit after it
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # whatever is left of the group
    except ProcessLookupError:
        pass
    proc.wait(10)


def ui_env() -> dict[str, str]:
    """The environment of the UI processes: telemetry off, the same settings as the CLI (the same home, so the
    same settings file, whatever folder Dagster's processes start in)."""
    env = dict(os.environ)
    env["DAGSTER_HOME"] = str(dagster_home())
    env.setdefault("PLANTLAKE_HOME", str(get_settings().home))
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("DO_NOT_TRACK", "true")
    # MLflow's server starts eight job-runner processes for its GenAI features (scorers, prompt optimisation),
    # which plantlake does not use: about 2 GB and 25 s of CPU at every start (docs/models.md)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    return env


def commands(host: str, port: int, mlflow_port: int) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    settings = get_settings()
    cmds = {
        "dagster": [str(bin_dir / "dagster"), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", host, "-p", str(port)]
    }
    if settings.mlflow_tracking_uri.startswith(("sqlite:", "file:", "/")):
        cmds["mlflow"] = [
            str(bin_dir / "mlflow"),
            "ui",
            "--backend-store-uri",
            settings.mlflow_tracking_uri,
            "--host",
            host,
            "--port",
            str(mlflow_port),
            # one server process: its default of four each import MLflow (about 18 s of CPU apiece at every
            # start) to serve one user's browser over a SQLite store that takes one writer at a time
            "--workers",
            "1",
        ]
    return cmds


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def serve(host: str, port: int, mlflow_port: int, console: Console) -> None:
    """Run both UIs until Ctrl-C or SIGTERM, then stop them."""
    signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM stops the UIs too, not only this process
    settings = get_settings()
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = ui_env()
    cmds = commands(host, port, mlflow_port)
    if "mlflow" in cmds:  # the runs this UI's daemon starts link their models to this MLflow UI
        env.setdefault("PLANTLAKE_MLFLOW_UI_URL", f"http://{host}:{mlflow_port}")
    procs = {name: start(cmd, env, logs / f"{name}-ui.log") for name, cmd in cmds.items()}
    console.print(f"Dagster UI: http://{host}:{port}  (logs: {logs / 'dagster-ui.log'})")
    if "mlflow" in procs:
        # the machine-learning screens: MLflow's UI opens on GenAI's unless the address asks (docs/models.md)
        console.print(f"MLflow UI:  http://{host}:{mlflow_port}/#/experiments?workflowType=machine_learning  "
                      f"(logs: {logs / 'mlflow-ui.log'})")
    else:
        console.print(f"MLflow UI:  your tracking server, {settings.mlflow_tracking_uri}")
    console.print("Press Ctrl-C to stop.")
    try:
        while all(p.poll() is None for p in procs.values()):
            time.sleep(1)
        for name, p in procs.items():
            if p.poll() is not None:
                console.print(f"[red]{name} UI exited with {p.returncode}; see {logs / f'{name}-ui.log'}[/red]")
    except KeyboardInterrupt:
        pass
    finally:
        for p in procs.values():
            stop(p)
