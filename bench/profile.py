"""Profile one stage of a night: where its time goes, in Python (py-spy) and in the Spark JVM (Java Flight Recorder).

    python -m bench.profile [--stage silver] [--plants 16] [--machines 100] [--keep DIR]

Simulates one CSV night at the scale point into a temporary ``PLANTLAKE_HOME``, runs the
stages before ``--stage`` unprofiled, then runs ``--stage`` (the real Dagster job, one
selection, ephemeral instance) while

- ``py-spy record --idle --threads`` samples this process's Python stacks (the driver:
  Dagster, the assets' Python, delta-rs and pyarrow calls, GX, and waits on the JVM through
  py4j), and
- ``jcmd <jvm> JFR.start`` records the Spark JVM (executor threads' Java stacks),

and prints each step's time, the main thread's time by component, the hottest Python
functions, and the JVM's time by component and hottest methods. Needs the bench extra
(py-spy); the JVM part needs a JDK's ``jcmd`` and ``jfr`` next to ``java``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lakehouse.settings import home_environment

console = Console()

#: Python stack -> component, first match from the innermost frame outwards.
PYTHON_COMPONENTS = (
    ("py4j", "waiting on the Spark JVM (py4j)"),
    ("pyspark", "PySpark driver"),
    ("great_expectations", "Great Expectations (checks)"),
    ("deltalake", "delta-rs (commit, scan)"),
    ("polars", "Polars (landing reader)"),
    ("pyarrow", "pyarrow"),
    ("pandas", "pandas"),
    ("sources/", "plantlake sources (reader, decode)"),
    ("lakehouse/", "plantlake lakehouse"),
    ("dagster", "Dagster"),
)

#: JVM frame class prefix -> component, matched over the whole stack (innermost first).
JVM_COMPONENTS = (
    ("org.apache.spark.util.collection.unsafe.sort", "sorting (window / row_number)"),
    ("org.apache.spark.sql.execution.UnsafeExternalRowSorter", "sorting (window / row_number)"),
    ("org.apache.spark.sql.execution.window", "window functions"),
    ("org.apache.spark.sql.catalyst.expressions.UnsafeRow", "row copying (sort, exchange)"),
    ("org.apache.spark.sql.catalyst.expressions.codegen.Unsafe", "row copying (sort, exchange)"),
    ("org.apache.spark.sql.execution.aggregate", "hash aggregation"),
    ("org.xerial.snappy", "snappy compression"),
    ("io.airlift.compress", "compression"),
    ("org.apache.parquet.column.values", "Parquet encoding / decoding"),
    ("org.apache.parquet.hadoop.ColumnChunkPageWriteStore", "Parquet writing"),
    ("org.apache.parquet", "Parquet (other)"),
    ("org.apache.spark.sql.execution.datasources.parquet", "Parquet scan (vectorized reader)"),
    ("org.apache.spark.sql.execution.datasources", "file source (read / write)"),
    ("org.apache.spark.shuffle", "shuffle"),
    ("org.apache.spark.storage", "block manager / spills"),
    ("org.apache.spark.sql.execution.arrow", "Arrow conversion (toArrow)"),
    ("org.apache.arrow", "Arrow conversion (toArrow)"),
    ("GeneratedClass", "generated code (expressions, projections)"),
    ("org.apache.spark.sql.catalyst", "Catalyst (planning, expressions)"),
    ("org.apache.spark.sql.execution", "Spark SQL execution (other)"),
    ("org.apache.spark", "Spark (other)"),
    ("java.", "JDK"),
    ("sun.", "JDK"),
    ("jdk.", "JDK"),
)


GENERIC = ("java.", "sun.", "jdk.", "scala.", "shaded.parquet.it.unimi", "org.apache.spark.unsafe.")


def component(frames: list[str], table) -> str:
    """The component of the innermost frame that names one (JDK and collection frames only if nothing else does)."""
    for generic in (False, True):
        for frame in frames:
            if not generic and frame.startswith(GENERIC):
                continue
            for needle, name in table:
                if needle in frame:
                    return name
    return "other"


def children(pid: int) -> list[int]:
    from bench.memory import tree_pids

    return tree_pids(pid)[1:]


def jvm_pid() -> int | None:
    for pid in children(os.getpid()):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "java":
                return pid
        except OSError:
            continue
    return None


def jdk_tool(name: str) -> str | None:
    java = shutil.which("java")
    if java:
        candidate = Path(os.path.realpath(java)).parent / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def python_profile(raw: Path) -> tuple[Counter, Counter, int]:
    """From py-spy's raw (collapsed) output: the main thread's samples by component and by innermost function."""
    components: Counter = Counter()
    functions: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        if "MainThread" not in frames[0] and "main" not in frames[0].lower():
            continue
        n = int(count)
        total += n
        inner = list(reversed(frames[1:]))
        components[component(inner, PYTHON_COMPONENTS)] += n
        if inner:
            functions[inner[0]] += n
    return components, functions, total


def jvm_profile(jfr: Path, tool: str) -> tuple[Counter, Counter, int]:
    """From a JFR recording: execution samples by component and by top method."""
    out = subprocess.run([tool, "print", "--json", "--events", "jdk.ExecutionSample", str(jfr)],
                         capture_output=True, text=True, check=True).stdout
    events = json.loads(out)["recording"]["events"]
    components: Counter = Counter()
    methods: Counter = Counter()
    for event in events:
        trace = (event.get("values") or {}).get("stackTrace") or {}
        frames = [f"{f['method']['type']['name']}.{f['method']['name']}".replace("/", ".")
                  for f in trace.get("frames") or []]
        if not frames:
            continue
        components[component(frames, JVM_COMPONENTS)] += 1
        methods[frames[0]] += 1
    return components, methods, len(events)


def jvm_by_step(jfr: Path, tool: str, steps: list[dict]) -> dict[str, Counter]:
    """JVM execution samples by component, for each step (by the samples' start times)."""
    out = subprocess.run([tool, "print", "--json", "--events", "jdk.ExecutionSample", str(jfr)],
                         capture_output=True, text=True, check=True).stdout
    by_step: dict[str, Counter] = {}
    for event in json.loads(out)["recording"]["events"]:
        values = event.get("values") or {}
        when = dt.datetime.fromisoformat(values["startTime"]).timestamp()
        step = next((s["key"] for s in steps if s["start"] <= when <= s["end"]), None)
        frames = [f"{f['method']['type']['name']}.{f['method']['name']}".replace("/", ".")
                  for f in (values.get("stackTrace") or {}).get("frames") or []]
        if step and frames:
            by_step.setdefault(step, Counter())[component(frames, JVM_COMPONENTS)] += 1
    return by_step


def report(home: Path, steps: list[dict]) -> None:
    """Print the profile kept in ``home`` (python.txt from py-spy, jvm.jfr from JFR)."""
    raw, jfr, jfr_tool = home / "python.txt", home / "jvm.jfr", jdk_tool("jfr")
    if raw.exists():
        components, functions, total = python_profile(raw)
        console.print(share_table(f"Python main thread by component ({total} samples)", components, total))
        console.print(share_table("Python main thread: innermost functions", functions, total))
    else:
        console.print("[yellow]py-spy wrote nothing (is ptrace allowed here?)[/yellow]")
    if jfr.exists() and jfr_tool:
        components, methods, total = jvm_profile(jfr, jfr_tool)
        console.print(share_table(f"Spark JVM execution samples by component ({total} samples)", components, total))
        console.print(share_table("Spark JVM: hottest methods", methods, total))
        slowest = sorted(steps, key=lambda s: s["start"] - s["end"])[:3]
        if slowest:
            by_step = jvm_by_step(jfr, jfr_tool, slowest)
            for step in slowest:
                counts = by_step.get(step["key"], Counter())
                console.print(share_table(f"Spark JVM during {step['key']} ({step['end'] - step['start']:.1f} s, "
                                          f"{sum(counts.values())} samples)", counts, sum(counts.values()), top=8))
    else:
        console.print("[yellow]no JVM recording (needs a JDK's jcmd and jfr)[/yellow]")


def share_table(title: str, counts: Counter, total: int, top: int = 12) -> Table:
    table = Table(title=title)
    table.add_column("where")
    table.add_column("share", justify="right")
    for name, n in counts.most_common(top):
        table.add_row(name[:110], f"{100 * n / max(1, total):.1f} %")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="silver", choices=["landing", "silver", "gold", "scoring"])
    parser.add_argument("--plants", type=int, default=16)
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--rate", type=int, default=50, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="keep the recordings and the lake in this folder")
    parser.add_argument("--report", type=Path, help="only print the profile kept in this folder by --keep")
    args = parser.parse_args(argv)
    if args.report:
        steps = args.report / "steps.json"
        report(args.report, json.loads(steps.read_text()) if steps.exists() else [])
        return 0

    home = args.keep or Path(tempfile.mkdtemp(prefix="plantlake-profile-"))
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(home_environment(home), DAGSTER_HOME=str(home / "dagster"))
    os.environ.setdefault("PLANTLAKE_SPARK_UI", "false")

    import dagster as dg

    from bench.network import NIGHT, ScalePoint, simulate_nights
    from bench.pipeline import STAGES, run_stage
    from lakehouse.spark import session

    point = ScalePoint.of(args.plants, args.machines)
    console.print(f"profiling the {args.stage} stage of one night: {point.describe()}; work folder {home}")
    simulate_nights(point, str(home / "landing"))
    session().range(1).count()
    instance = dg.DagsterInstance.ephemeral()
    for stage in STAGES[: STAGES.index(args.stage)]:
        timing = run_stage(stage, NIGHT, instance)
        console.print(f"  {stage} (unprofiled): {timing.seconds:.1f} s")

    raw, jfr = home / "python.txt", home / "jvm.jfr"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    recorder = subprocess.Popen([spy, "record", "--pid", str(os.getpid()), "--rate", str(args.rate), "--format", "raw",
                                 "--output", str(raw), "--idle", "--threads", "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jcmd, java = jdk_tool("jcmd"), jvm_pid()
    if jcmd and java:
        subprocess.run([jcmd, str(java), "JFR.start", "name=bench", "settings=profile", f"filename={jfr}"],
                       capture_output=True, check=False)
    time.sleep(1)
    timing = run_stage(args.stage, NIGHT, instance)
    if jcmd and java:
        subprocess.run([jcmd, str(java), "JFR.stop", "name=bench"], capture_output=True, check=False)
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=60)

    steps = Table(title=f"{args.stage} at {point.name}: {timing.seconds:.1f} s, success {timing.success}")
    for name in ("step", "seconds"):
        steps.add_column(name)
    for step in sorted(timing.steps, key=lambda s: -s.seconds)[:15]:
        steps.add_row(step.key, f"{step.seconds:.1f}")
    console.print(steps)
    steps_json = [{"key": st.key, "start": st.start, "end": st.end} for st in timing.steps]
    (home / "steps.json").write_text(json.dumps(steps_json))
    report(home, steps_json)
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

