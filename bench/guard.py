"""Run a plan in a worker process and keep it inside the memory and time it is given.

The worker (:mod:`bench.worker`) runs in its own process group. A thread here samples the
RSS of its whole tree; when it passes ``memory_limit`` bytes, when the machine's available
memory falls under ``memory_floor`` (other processes count too: the kernel's OOM killer
must never be the one to decide), or when a task runs longer than ``task_timeout``
seconds, the group is killed and the task that was running is reported with the reason
and the Dagster step it was in (from the worker's log).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import memory
from lakehouse.settings import home_environment


@dataclass
class Limits:
    memory_limit: int
    memory_floor: int = 1536 * memory.MIB
    task_timeout: float = 3600.0


@dataclass
class WorkerResult:
    records: dict[str, dict] = field(default_factory=dict)  # task id -> its end record
    killed: dict | None = None  # the task that was running when the worker was stopped, and why
    returncode: int | None = None
    log: Path | None = None
    peak_rss: int = 0


DONE_RE = re.compile(r' - ([0-9a-f-]{36}) - .*Finished execution of step "([^"]+)" in ([0-9.]+)(ms|s|m\d+s|h\d+m)\.')
START_RE = re.compile(r' - ([0-9a-f-]{36}) - .*Started execution of step "([^"]+)"')


def _seconds(value: str, unit: str) -> float:
    if unit == "ms":
        return float(value) / 1000
    if unit == "s":
        return float(value)
    if unit.startswith("m"):
        return float(value) * 60 + float(unit[1:-1])
    return float(value) * 3600 + float(unit[1:-1]) * 60


def steps_from_log(log: Path) -> tuple[str | None, list[tuple[str, float]]]:
    """The step the last run was in when the log ends, and that run's finished steps with their seconds
    (Dagster's own log lines: what survives a worker that was killed)."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 20_000_000))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None, []
    starts = START_RE.findall(text)
    if not starts:
        return None, []
    run_id, last = starts[-1]
    done = [(step, _seconds(value, unit)) for rid, step, value, unit in DONE_RE.findall(text) if rid == run_id]
    running = last if last not in {step for step, _ in done} else None
    return running, done


def run_worker(tasks: list[dict], workdir: Path, name: str, env: dict[str, str], limits: Limits,
               on_record=None) -> WorkerResult:
    """Run ``tasks`` in a fresh worker process; returns every finished task's record and what was killed, if any."""
    workdir.mkdir(parents=True, exist_ok=True)
    plan, out, log = workdir / f"{name}.plan.json", workdir / f"{name}.jsonl", workdir / f"{name}.log"
    plan.write_text(json.dumps(tasks, indent=1, default=str))
    out.unlink(missing_ok=True)
    result = WorkerResult(log=log)
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.worker", str(plan), str(out)],
            env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
    reason: list[str] = []
    current: dict = {}
    seen = 0

    def read_records() -> None:
        nonlocal seen
        if not out.exists():
            return
        lines = out.read_text().splitlines()
        for line in lines[seen:]:
            record = json.loads(line)
            if record["event"] == "begin":
                current.clear()
                current.update(record)
            else:
                current.clear()
                result.records[record["id"]] = record
                if on_record:
                    on_record(record)
        seen = len(lines)

    sampler = memory.TreeSampler(process.pid, interval=0.5)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and process.poll() is None:
            rss = sampler.sample()
            why = None
            if rss > limits.memory_limit:
                why = (f"memory: the process tree reached {rss / memory.GIB:.1f} GiB, over the limit of "
                       f"{limits.memory_limit / memory.GIB:.1f} GiB")
            elif memory.available() < limits.memory_floor:
                why = (f"memory: the machine had less than {limits.memory_floor / memory.MIB:.0f} MiB available "
                       f"(the process tree held {rss / memory.GIB:.1f} GiB)")
            elif current.get("time") and time.time() - current["time"] > limits.task_timeout:
                why = f"time: the task ran longer than {limits.task_timeout / 60:.0f} minutes"
            if why:
                reason.append(why)
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the worker's own group: it, the JVM, Python workers
                except ProcessLookupError:
                    pass
                return
            stop.wait(0.5)

    watcher = threading.Thread(target=watch, name="bench-guard", daemon=True)
    watcher.start()
    while process.poll() is None:
        read_records()
        time.sleep(1)
    stop.set()
    watcher.join(timeout=5)
    read_records()
    result.returncode = process.returncode
    result.peak_rss = sampler.peak()
    if current or process.returncode != 0:
        running = dict(current) if current else {}
        step, finished = steps_from_log(log)
        why = reason[0] if reason else f"the worker exited with code {process.returncode} (see {log})"
        if process.returncode == -signal.SIGKILL and not reason:
            why = "killed by the system (out of memory?)"
        result.killed = {
            "id": running.get("id"), "task": running.get("task"), "reason": why, "step": step,
            "finished_steps": finished,
            "seconds": time.time() - running["time"] if running.get("time") else None,
            "peak_rss": sampler.peak(running.get("time")) if running.get("time") else sampler.peak(),
        }
    return result


def worker_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a worker: a plantlake home of its own, no Spark UI, telemetry off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANTLAKE_", "DAGSTER_", "MLFLOW_"))}
    env.update(
        home_environment(home),
        DAGSTER_HOME=str(home / "dagster"),
        PLANTLAKE_SPARK_UI=os.environ.get("PLANTLAKE_SPARK_UI", "false"),
        PYTHONUNBUFFERED="1",
    )
    for name in ("PLANTLAKE_SPARK_DRIVER_MEMORY", "PLANTLAKE_SPARK_MASTER", "PLANTLAKE_SPARK_CORES"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update(extra or {})
    return env
