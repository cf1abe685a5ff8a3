"""``make bench``: the nightly job run by a real ``dagster-daemon`` against the same night run by ``plantlake run``.

    python -m bench.daemon [--network 16x100] [--workdir DIR] [--keep] [--results PATH]

One CSV night of a scale point (16 plants x 100 machines by default, the same night as
``bench.run``'s points) is simulated once, then processed twice, each time on an empty lake of
its own with the same landing zone:

* **in process**: ``plantlake run --date NIGHT``, the command (process start to exit), which
  runs the job in its own process (``orchestration.runs.run_nights``);
* **through the daemon**: a fresh ``DAGSTER_HOME`` (telemetry off, Dagster's default run
  coordinator and launcher), ``dagster-daemon run -w workspace.yaml`` started and ready, then
  ``dagster job launch -j nightly --tags '{"dagster/partition": NIGHT}'``: the daemon dequeues
  the run and its code server starts the run worker, as for a scheduled run. Timed from the
  run's creation to its end (the CLI's own start, which loads the workspace, is not the run's).

For each: wall time, the Dagster run's own duration (start to end, from its instance), the peak
RSS of the run's processes (``plantlake run`` and its children; for the daemon, the run worker
the code server started and its children, and also the whole tree with the daemon and its code
servers: the daemon reloads its workspace now and then, with two code servers alive for a
while), and the Spark driver JVMs started. The tables of both lakes are compared (row counts of
every table, every row of gold). No champion model is trained: the scoring assets skip on both
paths alike. Figures are printed and appended to ``bench/results.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import memory
from bench.guard import worker_env
from bench.network import NIGHT, ScalePoint, simulate_nights
from bench.results import Machine, Row, append, gib

ROOT = Path(__file__).resolve().parents[1]
console = Console(width=None if sys.stdout.isatty() else 200)

#: What a Spark driver's JVM has on its command line when pyspark starts a local session.
SPARK_DRIVER = ("org.apache.spark.deploy.SparkSubmit", "pyspark-shell")
#: The short-lived JVM ``spark-class`` runs first to build the driver's command line (same arguments).
SPARK_LAUNCHER = "org.apache.spark.launcher.Main"
#: Daemon run / in-process run, wall time (the issue's target).
TARGET_RATIO = 1.2


def is_spark_driver(cmdline: list[str]) -> bool:
    return (bool(cmdline) and os.path.basename(cmdline[0]) == "java" and SPARK_LAUNCHER not in cmdline
            and all(word in cmdline for word in SPARK_DRIVER))


#: On the command line of the process Dagster's code server starts for a run (multiprocessing's spawn).
RUN_WORKER = "--multiprocessing-fork"


@dataclass
class ProcessWatch:
    """Samples the processes under ``root`` in a thread: the RSS of the whole tree and of the run's processes,
    and every Spark driver JVM seen.

    With ``run_marker``, the run's processes are those under (and including) a process whose command
    line holds it: a daemon's run worker, not the daemon and the code servers it replaces now and
    then. Without, the whole tree is the run (``plantlake run``).
    """

    root: int
    interval: float = 0.2
    run_marker: str | None = RUN_WORKER
    peak_all: int = 0
    peak_run: int = 0
    drivers: dict[int, str] = field(default_factory=dict)  # pid -> the process that started it
    at_peak: dict[str, int] = field(default_factory=dict)  # the run's processes at its peak: name -> RSS
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProcessWatch:
        self._thread = threading.Thread(target=self._run, name="bench-daemon-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def sample(self) -> None:
        import psutil

        processes = {}
        for pid in memory.tree_pids(self.root):
            try:
                process = psutil.Process(pid)
                processes[pid] = (process.memory_info().rss, process.cmdline(), process.ppid())
            except psutil.Error:
                continue
        run = set(processes) if self.run_marker is None else set()
        for pid, (_, cmdline, _) in processes.items():
            if self.run_marker is not None and self.run_marker in cmdline:
                run.update(memory.tree_pids(pid))
            parent = processes.get(processes[pid][2])
            # a process the driver forks (Hadoop's shell commands) shows the driver's command line until it execs
            forked = parent is not None and is_spark_driver(parent[1])
            if pid not in self.drivers and is_spark_driver(cmdline) and not forked:
                self.drivers[pid] = " ".join(parent[1])[:300] if parent else "?"
        self.peak_all = max(self.peak_all, sum(rss for rss, _, _ in processes.values()))
        in_run = {self._label(pid, cmdline): rss for pid, (rss, cmdline, _) in processes.items() if pid in run}
        if sum(in_run.values()) > self.peak_run:
            self.peak_run, self.at_peak = sum(in_run.values()), in_run

    def _label(self, pid: int, cmdline: list[str]) -> str:
        if pid in self.drivers:
            return "Spark driver"
        if self.run_marker is not None and self.run_marker in cmdline:
            return "run worker"
        words = [os.path.basename(word) for word in cmdline[:4]]
        return f"{' '.join(words)[:60]} (pid {pid})"

    def describe_peak(self, largest: int = 3) -> str:
        biggest = sorted(self.at_peak.items(), key=lambda item: -item[1])[:largest]
        return "at the peak: " + ", ".join(f"{name} {gib(rss)} GiB" for name, rss in biggest)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


@dataclass
class Measured:
    wall_s: float
    run_s: float | None
    peak: int
    drivers: int
    status: str
    peak_all: int | None = None
    detail: str = ""

    def line(self) -> str:
        return (f"{self.wall_s:.1f} s (Dagster run {self.run_s or 0:.1f} s), peak {gib(self.peak)} GiB, "
                f"{self.drivers} Spark driver JVM(s): {self.status}")


def run_record(dagster_home: Path, run_id: str | None = None):
    """The (only, or ``run_id``'s) run record of an instance."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        records = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]) if run_id else None)
    return records[0] if records else None


def _run_seconds(record) -> float | None:
    return record.end_time - record.start_time if record and record.start_time and record.end_time else None


def in_process(night: dt.date, home: Path, env: dict[str, str], log: Path) -> Measured:
    """``plantlake run --date NIGHT`` as a command, its process tree watched."""
    started = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "plantlake"), "run", "--date", night.isoformat()],
                                env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        with ProcessWatch(proc.pid, run_marker=None) as watch:
            code = proc.wait()
    wall = time.perf_counter() - started
    record = run_record(home / "dagster")
    status = "ok" if code == 0 and record and record.dagster_run.status.value == "SUCCESS" else f"exit {code}"
    return Measured(wall, _run_seconds(record), watch.peak_run, len(watch.drivers), status,
                    detail=watch.describe_peak())


def daemon_ready(dagster_home: Path, timeout: float, proc: subprocess.Popen, log: Path) -> None:
    """Wait until the daemon's run queue has a heartbeat (its workspace is loaded and it dequeues runs)."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"dagster-daemon exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            if "QUEUED_RUN_COORDINATOR" in instance.get_daemon_heartbeats():
                return
        time.sleep(1)
    raise RuntimeError(f"dagster-daemon not ready within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def through_daemon(night: dt.date, home: Path, env: dict[str, str], logs: Path, timeout: float) -> Measured:
    """The nightly job for ``night`` launched onto a fresh instance whose ``dagster-daemon`` runs it."""
    from lakehouse.settings import environment
    from orchestration.runs import dagster_home as new_instance
    from orchestration.ui import start, stop

    with environment({"DAGSTER_HOME": env["DAGSTER_HOME"]}):
        dagster_home = new_instance()  # configured as plantlake configures an instance (telemetry off)
    bin_dir = Path(sys.executable).parent
    daemon_log = logs / "dagster-daemon.log"
    daemon = start([str(bin_dir / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], env, daemon_log)
    try:
        daemon_ready(dagster_home, 300, daemon, daemon_log)
        run_id = str(uuid.uuid4())
        with ProcessWatch(daemon.pid) as watch:
            subprocess.run([str(bin_dir / "dagster"), "job", "launch", "-w", str(ROOT / "workspace.yaml"),
                            "-j", "nightly", "--run-id", run_id,
                            "--tags", json.dumps({"dagster/partition": night.isoformat()})],
                           env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
            record = wait_for_run(dagster_home, run_id, timeout)
    finally:
        stop(daemon)
    status = record.dagster_run.status.value if record else "missing"
    wall = record.end_time - record.create_timestamp.timestamp() if record and record.end_time else timeout
    return Measured(wall, _run_seconds(record), watch.peak_run, len(watch.drivers),
                    "ok" if status == "SUCCESS" else status, peak_all=watch.peak_all, detail=watch.describe_peak())


def wait_for_run(dagster_home: Path, run_id: str, timeout: float):
    deadline = time.monotonic() + timeout
    record = None
    while time.monotonic() < deadline:
        record = run_record(dagster_home, run_id)
        if record and record.dagster_run.is_finished:
            return record
        time.sleep(1)
    return record


def compare_lakes(first: str, second: str) -> list[str]:
    """Differences between two lakes: every table's row count, every row of gold (lakehouse.snapshot)."""
    from lakehouse import catalog
    from lakehouse.delta import Lake
    from lakehouse.snapshot import contents, differences

    a, b = Lake(first), Lake(second)
    found = [f"{spec.name}: {a.count(spec)} rows against {b.count(spec)}" for spec in catalog.tables()
             if a.exists(spec) != b.exists(spec) or (a.exists(spec) and a.count(spec) != b.count(spec))]
    return found + differences(contents(a, ("gold",)), contents(b, ("gold",)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.daemon", description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="16x100", help="PLANTSxMACHINES of the night (default 16x100)")
    parser.add_argument("--workdir", type=Path, help="where the landing zone and both lakes go (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--timeout", type=float, default=60.0, help="minutes the daemon's run may take")
    parser.add_argument("--results", type=Path, help="CSV the figures are appended to (default bench/results.csv)")
    args = parser.parse_args(argv)
    match = re.fullmatch(r"(\d+)x(\d+)", args.network)
    if not match:
        parser.error("--network is PLANTSxMACHINES, e.g. 16x100")
    point = ScalePoint.of(int(match.group(1)), int(match.group(2)))
    machine = Machine.now()
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="plantlake-bench-daemon-"))).resolve()
    landing = workdir / "landing"
    console.rule(f"the nightly job through dagster-daemon and in process: {point.describe()}")
    console.print(f"commit {machine.commit}, {machine.cores} cores, load {machine.load_1m}; work folder {workdir}")
    rows: list[Row] = []
    try:
        started = time.perf_counter()
        summary = simulate_nights(point, str(landing))
        console.print(f"simulated {sum(summary.rows.values()):,} rows in {time.perf_counter() - started:.1f} s")
        homes = {name: workdir / name for name in ("in-process", "daemon")}
        envs = {name: worker_env(home, {"PLANTLAKE_LANDING_URI": str(landing)}) for name, home in homes.items()}
        for home in homes.values():
            home.mkdir(parents=True, exist_ok=True)
        console.print("in process: plantlake run ...")
        local = in_process(NIGHT, homes["in-process"], envs["in-process"], homes["in-process"] / "run.log")
        console.print(f"  {local.line()}")
        console.print("through the daemon: dagster-daemon run, dagster job launch ...")
        daemon = through_daemon(NIGHT, homes["daemon"], envs["daemon"], homes["daemon"], args.timeout * 60)
        console.print(f"  {daemon.line()}")
        same = compare_lakes(envs["in-process"]["PLANTLAKE_LAKE_URI"], envs["daemon"]["PLANTLAKE_LAKE_URI"])
        rows = figures(point, local, daemon, same)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    show(rows)
    append(rows, machine, **({"path": args.results} if args.results else {}))
    return 0 if all(r.status in ("ok", "same tables") for r in rows) else 1


def figures(point: ScalePoint, local: Measured, daemon: Measured, differences: list[str]) -> list[Row]:
    scale = point.name
    ratio = daemon.wall_s / local.wall_s if local.wall_s else None
    peak_ratio = daemon.peak / local.peak if local.peak else None
    return [
        Row("daemon", scale, "night: plantlake run (in process)", local.wall_s, None, gib(local.peak),
            status=local.status,
            detail=f"Dagster run {local.run_s or 0:.1f} s; {local.drivers} Spark driver JVM(s); {local.detail}"),
        Row("daemon", scale, "night: dagster-daemon run", daemon.wall_s, None, gib(daemon.peak), status=daemon.status,
            detail=f"from the run's creation to its end; Dagster run {daemon.run_s or 0:.1f} s; "
                   f"{daemon.drivers} Spark driver JVM(s); peak of the run's processes, "
                   f"{gib(daemon.peak_all)} GiB with the daemon and its code servers; {daemon.detail}"),
        Row("daemon", scale, "daemon / in process", daemon.wall_s, ratio=ratio, target=f"<= {TARGET_RATIO:g}",
            status="same tables" if not differences else "TABLES DIFFER",
            detail=f"wall {daemon.wall_s:.1f} s / {local.wall_s:.1f} s; peak {gib(daemon.peak)} / {gib(local.peak)} "
                   f"GiB = {peak_ratio or 0:.2f}" + ("; " + "; ".join(differences[:3]) if differences else "")),
    ]


def show(rows: list[Row]) -> None:
    table = Table(title="the nightly job: dagster-daemon against plantlake run")
    for name in ("scale", "what", "wall s", "peak GiB", "ratio", "target", "status", "detail"):
        table.add_column(name, overflow="fold", max_width=70 if name == "detail" else None)
    for r in rows:
        table.add_row(r.scale, r.stage, f"{r.wall_s:.1f}" if r.wall_s is not None else "-",
                      f"{r.peak_rss_gib:.2f}" if r.peak_rss_gib is not None else "-",
                      f"{r.ratio:.2f}" if r.ratio is not None else "-", r.target, r.status, r.detail)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
