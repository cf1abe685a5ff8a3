"""``make bench`` and ``make bench-full``: a night of the pipeline measured stage by stage, against references.

    python -m bench.run quick [--points 1,4,16] [--no-history]     # make bench: at most 15 minutes on 2 cores
    python -m bench.run full                                        # make bench-full: the whole network, ~30 minutes
    python -m bench.run full --network 1x10 --results /tmp/r.csv    # the full plan's code path on a tiny network

Per scale point (plants x 100 machines, telemetry per minute, suppliers scaled alongside;
``full``: 122 x 800, 1,500 suppliers, 30,000 locations) one CSV night is simulated into a
fresh ``PLANTLAKE_HOME`` and run through the real Dagster job in process (ephemeral
instance), one run per stage: landing, silver, gold, scoring (``full`` runs each stage as its
assets, then its checks). Scoring needs a champion model: before the scale points one is
trained, once per benchmark run, on a small network of its own (45 nights landed as one
backfill, then the weekly ``retrain`` job: "training (weekly)"), and every worker reads it
from that run's MLflow store. Then, over that lake: the
files and sizes of every table, ``gold.machine_daily`` computed by DuckDB (checked equal to
Spark's) and by Spark, and DuckDB turning the same drop files into Parquet. Quick mode also
runs the history: night 1 of the smallest point as one run on an empty lake (the same night
as its stage runs), 29 more nights, then night 31 against night 1, each the first night of a
fresh process (``--whole`` adds the largest point's night as one run). Figures are appended
to ``bench/results.csv`` and printed.

Each plan runs in a worker process watched from here (:mod:`bench.guard`): a stage that
outgrows the memory limit or its time is killed and reported with the step it was in, and
the next stages still run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import memory
from bench.guard import Limits, WorkerResult, run_worker, worker_env
from bench.network import (
    FULL_NETWORK,
    HISTORY_NIGHTS,
    HISTORY_POINT,
    NIGHT,
    QUICK_POINTS,
    TRAINING_NETWORK,
    TRAINING_NIGHTS,
    ScalePoint,
    training_config,
)
from bench.pipeline import STAGES
from bench.results import RESULTS, Machine, Row, append, gib, rate
from lakehouse.settings import mlflow_environment

console = Console(width=None if sys.stdout.isatty() else 200)  # piped to a file: tables still readable
DAY = dt.timedelta(days=1)

TARGETS = {
    "spark_duckdb": 3.0,
    "landing_reference": 2.0,
    "history": 1.2,
    "full_minutes": 30.0,
    "full_gib": 8.0,
}


# -- running plans -------------------------------------------------------------------------
def run_plan(tasks: list[dict], workdir: Path, name: str, home: Path, limits: Limits,
             env: dict[str, str] | None = None) -> tuple[dict, list[dict]]:
    """Run ``tasks`` in worker processes (``env``: more environment, e.g. the champion's MLflow store); a killed
    task is reported and the ones after it still run."""
    records: dict[str, dict] = {}
    killed: list[dict] = []
    remaining = list(tasks)
    attempt = 0
    while remaining:
        attempt += 1
        result: WorkerResult = run_worker(remaining, workdir, f"{name}-{attempt}", worker_env(home, env), limits,
                                          on_record=lambda r: progress(name, r))
        records.update(result.records)
        if result.killed is None:
            break
        problem = dict(result.killed, log=str(result.log))
        killed.append(problem)
        console.print(f"[red]{name}: {problem['id'] or 'worker'} stopped[/red]: {problem['reason']}"
                      + (f" (in step {problem['step']})" if problem.get("step") else ""))
        done = {t["id"] for t in remaining if t["id"] in records}
        index = next((i for i, t in enumerate(remaining) if t["id"] == problem["id"]), None)
        if index is None or remaining[index]["task"] == "simulate":
            break
        remaining = [t for t in remaining[index + 1 :] if t["id"] not in done]
    return records, killed


def progress(name: str, record: dict) -> None:
    figure = record.get("run_seconds") or record.get("seconds")
    extra = ""
    if record["task"] == "machine_daily_reference":
        extra = f" (DuckDB {record.get('duckdb_seconds', 0):.1f} s, Spark {record.get('spark_seconds') or 0:.1f} s, " \
                f"equal: {record.get('equal')})"
    status = "" if record["status"] == "ok" else f" [red]{record['status']}[/red] {record.get('error') or ''}" \
        f"{'; '.join(record.get('failures') or [])[:300]}"
    console.print(f"  {name}: {record['id']}: {figure:.1f} s, peak {record['peak_rss'] / memory.GIB:.2f} GiB"
                  f"{extra}{status}")


def point_tasks(point: ScalePoint, home: Path, repeats: int, duckdb_memory: str | None,
                split: bool = False) -> list[dict]:
    night = NIGHT.isoformat()
    lake, landing = str(home / "lake"), str(home / "landing")
    tasks = [{"id": "simulate", "task": "simulate", "point": dataclasses.asdict(point), "start": night, "days": 1,
              "landing": landing}]
    tasks.append({"id": "spark start", "task": "spark"})
    for stage in STAGES:
        parts = ("assets", "checks") if split else (None,)
        tasks += [{"id": f"{stage} {part}" if part else stage, "task": "stage", "stage": stage, "part": part,
                   "night": night, "lake": lake, "landing": landing} for part in parts]
    tasks.append({"id": "lake files", "task": "lakestats", "lake": lake})
    tasks.append({"id": "machine_daily reference", "task": "machine_daily_reference", "start": night, "lake": lake,
                  "repeats": repeats, "duckdb_memory_limit": duckdb_memory})
    if not split:  # quick only: the forms are built in memory from the night's silver rows
        tasks.append({"id": "telemetry forms", "task": "telemetry_forms", "night": night, "lake": lake,
                      "out": str(home / "forms"), "repeats": repeats})
    tasks.append({"id": "landing reference", "task": "landing_reference", "dates": [night], "landing": landing,
                  "out": str(home / "reference"), "duckdb_memory_limit": duckdb_memory})
    return tasks


def whole_tasks(home: Path, label: str = "night (one run)") -> list[dict]:
    night = NIGHT.isoformat()
    return [{"id": "spark start", "task": "spark"},
            {"id": label, "task": "whole", "start": night, "end": night, "lake": str(home / "lake-whole"),
             "landing": str(home / "landing")}]


def history_tasks(home: Path) -> tuple[list[dict], list[dict], list[dict]]:
    """The 31 nights' drops; night 1 on an empty lake and nights 2..30 as one backfill; night 31.

    Three processes: night 1 and night 31 each come right after a Spark start in a fresh one,
    so neither inherits the other's warm-up (the simulator's imports, say).
    """
    lake, landing = str(home / "lake"), str(home / "landing")
    last = NIGHT + HISTORY_NIGHTS * DAY
    drops = [{"id": "simulate", "task": "simulate", "point": dataclasses.asdict(HISTORY_POINT),
              "start": NIGHT.isoformat(), "days": HISTORY_NIGHTS + 1, "landing": landing}]
    first = [
        {"id": "spark start", "task": "spark"},
        {"id": "night 1", "task": "whole", "start": NIGHT.isoformat(), "end": NIGHT.isoformat(), "lake": lake,
         "landing": landing},
        {"id": f"nights 2-{HISTORY_NIGHTS}", "task": "whole", "start": (NIGHT + DAY).isoformat(),
         "end": (last - DAY).isoformat(), "lake": lake, "landing": landing},
    ]
    second = [
        {"id": "spark start", "task": "spark"},
        {"id": f"night {HISTORY_NIGHTS + 1}", "task": "whole", "start": last.isoformat(), "end": last.isoformat(),
         "lake": lake, "landing": landing},
    ]
    return drops, first, second


def champion_tasks(home: Path) -> list[dict]:
    """A small network's nights as one backfill, then the weekly retrain job on them (the champion)."""
    lake, landing = str(home / "lake"), str(home / "landing")
    nights = training_config(landing, NIGHT)
    return [
        {"id": "simulate", "task": "simulate", "training_before": NIGHT.isoformat(), "landing": landing},
        {"id": "spark start", "task": "spark"},
        {"id": "training nights", "task": "whole", "start": nights.start.isoformat(), "end": nights.end.isoformat(),
         "lake": lake, "landing": landing, "log_level": "WARNING"},
        {"id": "training (weekly)", "task": "retrain", "end": nights.end.isoformat(), "lake": lake,
         "landing": landing, "log_level": "WARNING"},
    ]


def training_name() -> str:
    return f"{TRAINING_NETWORK['plants']}x{TRAINING_NETWORK['machines_per_plant']} training"


def train_champion(mode: str, workdir: Path, limits: Limits) -> tuple[dict[str, str] | None, list[Row]]:
    """Train the champion every scale point scores with (once per benchmark run; an earlier run's champion in
    the same ``--workdir`` is reused). Returns the workers' MLflow environment (None: no champion) and rows."""
    home = workdir / "champion"
    marker = home / "champion.json"
    env = mlflow_environment(home)
    if marker.exists():
        console.print(f"champion: reusing {json.loads(marker.read_text())} from {home}")
        return env, []
    console.rule(f"champion: {TRAINING_NIGHTS} nights of {TRAINING_NETWORK['plants']} plants x "
                 f"{TRAINING_NETWORK['machines_per_plant']} machines (10-minute telemetry), then the retrain job")
    records, killed = run_plan(champion_tasks(home), workdir, "champion", home, limits, env)
    sim, nights, train = (records.get(k) for k in ("simulate", "training nights", "training (weekly)"))
    rows: list[Row] = []
    ok = bool(train and train["status"] == "ok")
    if train:
        champions = train.get("champions") or {}
        setup = []
        if sim:
            setup.append(f"{sim['rows']:,} rows simulated in {sim['seconds']:.1f} s")
        if nights:
            seconds = nights.get("run_seconds") or nights["seconds"]
            setup.append(f"{TRAINING_NIGHTS} nights as one backfill {seconds:.1f} s ({nights['status']})")
        detail = ", ".join(f"{name} v{version}" for name, version in champions.items() if version) or "no champion"
        rows.append(Row(mode, training_name(), "training (weekly)", train["seconds"], train.get("cpu_seconds"),
                        gib(train["peak_rss"]), status="ok" if ok else train["status"],
                        detail=f"champion: {detail}; before it (setup, not a figure): {', '.join(setup)}"
                        + (f"; {_failure_detail(train)}" if not ok else "")))
    for problem in killed:
        rows.append(Row(mode, training_name(), problem["id"] or "worker", problem.get("seconds"), None,
                        gib(problem.get("peak_rss")), status="killed", detail=problem["reason"]))
    if not ok:
        console.print("[red]champion: no champion model; the scoring stage will skip (it measures nothing)[/red]")
        return None, rows
    marker.write_text(json.dumps(train.get("champions")))
    console.print(f"  training (weekly): {train['seconds']:.1f} s, champion {train.get('champions')}")
    return env, rows


# -- figures -------------------------------------------------------------------------------
def _steps(record: dict) -> list[dict]:
    return (record.get("run") or {}).get("steps") or []


def _step_seconds(record: dict, predicate) -> float:
    return sum(s["end"] - s["start"] for s in _steps(record) if predicate(s))


def _stage_split(record: dict) -> str:
    totals: dict[str, float] = {}
    for s in _steps(record):
        totals[s["stage"]] = totals.get(s["stage"], 0.0) + s["end"] - s["start"]
    return ", ".join(f"{k} {v:.1f} s" for k, v in totals.items())


def _status(record: dict) -> str:
    return record["status"] if record["status"] != "ok" else "ok"


def _failure_detail(record: dict) -> str:
    return "; ".join(record.get("failures") or []) or record.get("error") or ""


def combine(records: dict, killed: list[dict]) -> None:
    """A stage run as two parts (assets, then checks) becomes one stage record, as if it ran as one."""
    for stage in STAGES:
        parts = [records.get(f"{stage} {p}") for p in ("assets", "checks")]
        stopped = [k for k in killed if k.get("id") in (f"{stage} assets", f"{stage} checks")]
        if stage in records or not (any(parts) or stopped):
            continue
        done = [p for p in parts if p]
        steps = [s for p in done for s in _steps(p)]
        for k in stopped:  # steps that finished before the worker was stopped, from Dagster's log
            seen = {s["key"] for s in steps}  # the log also holds the steps of the parts that did finish
            steps += [{"key": key, "stage": stage, "check": "__" in key, "start": 0.0, "end": seconds,
                       "peak_rss": 0} for key, seconds in k.get("finished_steps") or [] if key not in seen]
        first = done[0] if done else {}
        records[stage] = {
            **{k: v for k, v in first.items() if k.endswith("_rows")},
            "id": stage, "task": "stage",
            "status": "killed" if stopped else ("ok" if all(p["status"] == "ok" for p in done) else "failed"),
            "seconds": sum(p["seconds"] for p in done) + sum(k.get("seconds") or 0 for k in stopped),
            "run_seconds": sum(p.get("run_seconds") or 0 for p in done) + sum(k.get("seconds") or 0 for k in stopped),
            "peak_rss": max([p["peak_rss"] for p in done] + [k.get("peak_rss") or 0 for k in stopped]),
            "cpu_seconds": sum(p.get("cpu_seconds") or 0 for p in done) or None,
            "run": {"steps": steps},
            "failures": [f for p in done for f in p.get("failures") or []]
            + [f"{k['id']} stopped: {k['reason']}" + (f" in step {k['step']}" if k.get("step") else "")
               for k in stopped],
        }


def point_rows(mode: str, point: ScalePoint, records: dict, killed: list[dict]) -> list[Row]:
    scale = point.name
    rows: list[Row] = []
    combine(records, killed)
    sim = records.get("simulate")
    if sim:
        rows.append(Row(mode, scale, "simulate", sim["seconds"], sim.get("cpu_seconds"), gib(sim["peak_rss"]),
                        sim["rows"],
                        rate(sim["rows"], sim["seconds"]), sim["bytes"] / sim["rows"], bytes=sim["bytes"],
                        detail=f"{sim['drops']} CSV drops, {sim['telemetry_rows']:,} telemetry rows"))
    spark = records.get("spark start")
    if spark:
        rows.append(Row(mode, scale, "spark start", spark["seconds"], spark.get("cpu_seconds"), gib(spark["peak_rss"]),
                        status=_status(spark)))
    tables = {t["table"]: t for t in (records.get("lake files") or {}).get("tables", [])}
    bronze = [t for name, t in tables.items() if name.startswith("bronze.")]
    bronze_bytes, bronze_rows = sum(t["bytes"] for t in bronze), sum(t["rows"] for t in bronze)
    telemetry_in = (records.get("landing") or {}).get("bronze_telemetry_rows")
    for stage in STAGES:
        rec = records.get(stage)
        if rec is None:
            continue
        seconds = rec.get("run_seconds") or rec["seconds"]
        assets = _step_seconds(rec, lambda s: not s["check"])
        checks = _step_seconds(rec, lambda s: s["check"])
        detail = f"assets {assets:.1f} s, checks {checks:.1f} s" if _steps(rec) else _failure_detail(rec)
        row = Row(mode, scale, stage, seconds, rec.get("cpu_seconds"), gib(rec["peak_rss"]), status=_status(rec),
                  detail=detail)
        if stage == "landing":
            row.rows = rec.get("bronze_rows")
            row.rows_per_s = rate(row.rows, seconds)
            row.bytes_per_row = bronze_bytes / bronze_rows if bronze_rows else None
            row.bytes = bronze_bytes or None
            op = _step_seconds(rec, lambda s: s["key"] == "landing")
            row.detail = f"landing op {op:.1f} s ({rate(row.rows, op) or 0:,.0f} rows/s), bronze checks {checks:.1f} s"
        elif stage == "scoring":
            scored, alerts = rec.get("gold_failure_risk_rows"), rec.get("gold_maintenance_alerts_rows")
            row.rows, row.rows_per_s = scored, rate(scored, seconds)
            if not _steps(rec):
                row.status = "missing"
            elif not scored:
                row.status = "not scored"
                row.detail += "; no machine scored: no champion model, the scoring assets skipped"
            else:
                row.detail = f"{scored:,} machines scored, {alerts or 0:,} alerts raised; {row.detail}"
        else:
            row.rows = telemetry_in
            row.rows_per_s = rate(telemetry_in, seconds)
        if rec["status"] != "ok" and _steps(rec):
            row.detail += "; " + _failure_detail(rec)
        for part in ("assets", "checks"):
            if f"{stage} {part}" in records:
                sub = records[f"{stage} {part}"]
                row.detail += f"; {part} run {sub.get('run_seconds') or 0:.1f} s, peak {gib(sub['peak_rss'])} GiB"
        rows.append(row)
    stage_records = [records[s] for s in STAGES if s in records and _steps(records[s])]
    if stage_records:
        total = sum(r.get("run_seconds") or 0 for r in stage_records)
        peak = max(r["peak_rss"] for r in stage_records)
        cpu = sum(r.get("cpu_seconds") or 0 for r in stage_records) or None
        rows.append(Row(mode, scale, "night (stage runs)", total, cpu, gib(peak), telemetry_in,
                        rate(telemetry_in, total),
                        status="ok" if not killed and len(stage_records) == len(STAGES)
                        and all(r["status"] == "ok" for r in stage_records) else "partial",
                        detail=f"{total / point.plants:.1f} s per plant; " + ", ".join(
                            f"{r['id']} {r.get('run_seconds', 0):.1f} s" for r in stage_records)))
    whole = records.get("night (one run)")
    if whole:
        seconds = whole.get("run_seconds") or whole["seconds"]
        rows.append(Row(mode, scale, "night (one run)", seconds, whole.get("cpu_seconds"), gib(whole["peak_rss"]),
                        whole.get(
            "bronze_telemetry_rows"), rate(whole.get("bronze_telemetry_rows"), seconds), status=_status(whole),
            detail=f"{seconds / point.plants:.1f} s per plant; {_stage_split(whole)}"))
    ref = records.get("machine_daily reference")
    if ref and "duckdb_seconds" in ref:
        gold = records.get("gold") or {}
        step = _step_seconds(gold, lambda s: s["key"] in ("gold_machine_sensor_daily", "gold_machine_daily"))
        ratio = ref["spark_seconds"] / ref["duckdb_seconds"] if ref.get("equal") and ref.get("spark_seconds") else None
        cpu = (f"; CPU Spark {ref['spark_cpu']:.1f} s / DuckDB {ref['duckdb_cpu']:.1f} s = "
               f"{ref['spark_cpu'] / max(ref['duckdb_cpu'], 0.01):.1f}" if ref.get("spark_cpu") else "")
        detail = (f"Spark {ref['spark_seconds']:.2f} s / DuckDB {ref['duckdb_seconds']:.2f} s "
                  f"(best of {len(ref['duckdb_times'])}){cpu}; pipeline steps gold_machine_sensor_daily + "
                  f"gold_machine_daily {step:.1f} s")
        if not ref.get("equal"):
            detail = "DuckDB's rows differ from Spark's, its time does not count: " + "; ".join(ref["mismatches"][:3])
        rows.append(Row(mode, scale, "machine_daily: Spark / DuckDB", ref["spark_seconds"], ref.get("spark_cpu"),
                        gib(ref["peak_rss"]),
                        ref["rows"], ratio=ratio, target=f"<= {TARGETS['spark_duckdb']:g}",
                        status="equal" if ref.get("equal") else "MISMATCH", detail=detail))
    elif ref:
        rows.append(Row(mode, scale, "machine_daily: Spark / DuckDB", status="error", detail=ref.get("error", "")))
    rows += form_rows(mode, scale, records.get("telemetry forms"))
    land = records.get("landing reference")
    landing = records.get("landing")
    if land and "rows" in land and landing:
        op = _step_seconds(landing, lambda s: s["key"] == "landing")
        stage_seconds = landing.get("run_seconds") or 0
        rows.append(Row(mode, scale, "landing / reference", op, None, gib(land["peak_rss"]), land["rows"],
                        rate(land["rows"], land["seconds"]), land["bytes_out"] / max(1, land["rows"]),
                        files=land["files_out"], bytes=land["bytes_out"], ratio=op / land["seconds"],
                        target=f"<= {TARGETS['landing_reference']:g}",
                        status="ok" if land["rows"] == land["manifest_rows"] else "rows differ",
                        detail=f"landing op {op:.1f} s / DuckDB CSV -> Parquet {land['seconds']:.2f} s "
                               f"(DuckDB CPU {land.get('cpu_seconds') or 0:.1f} s); "
                               f"whole landing stage (with bronze checks) {stage_seconds / land['seconds']:.1f}x"))
    elif land:
        rows.append(Row(mode, scale, "landing / reference", status="error", detail=land.get("error", "")))
    for problem in killed:
        finished = ", ".join(f"{k} {v:.0f} s" for k, v in problem.get("finished_steps") or [])
        rows.append(Row(mode, scale, problem["id"] or "worker", problem.get("seconds"), None,
                        gib(problem.get("peak_rss")), status="killed", detail=problem["reason"]
                        + (f"; in step {problem['step']}" if problem.get("step") else "")
                        + (f"; finished before: {finished}" if finished else "")))
    return rows


def form_rows(mode: str, scale: str, record: dict | None) -> list[Row]:
    """The telemetry storage forms against the wide form of before the registry (bench/telemetry_form.py): the
    ratio is of CPU seconds (steadier than wall time on a shared machine)."""
    if not record or "forms" not in record:
        return [Row(mode, scale, "telemetry forms", status="error", detail=record.get("error", ""))] if record else []
    forms = record["forms"]
    wide = forms["wide"]["silver_cpu"] + forms["wide"]["gold_cpu"]
    out = []
    for name, f in forms.items():
        cpu = f["silver_cpu"] + f["gold_cpu"]
        out.append(Row(mode, scale, f"telemetry form: {name}", f["silver_seconds"] + f["gold_seconds"], cpu,
                       rows=f["rows"], bytes_per_row=f["bytes_per_value"], bytes=f["bytes"],
                       ratio=cpu / wide if wide else None,
                       detail=f"{f['bytes_per_value']:.2f} B per sensor value ({f['bytes'] / 2**20:.1f} MiB); Spark "
                              f"CPU: silver dedup + write {f['silver_cpu']:.1f} s, gold daily stats "
                              f"{f['gold_cpu']:.1f} s; {record['values']:,} values of {record['sensors']} sensors "
                              f"in {record['readings']:,} readings; ratio = its CPU / the wide form's"))
    return out


def table_rows(mode: str, point: ScalePoint, records: dict) -> list[Row]:
    out = []
    for t in (records.get("lake files") or {}).get("tables", []):
        out.append(Row(mode, point.name, f"table {t['table']}", rows=t["rows"],
                       bytes_per_row=t["bytes_per_row"] or None, files=t["files"], bytes=t["bytes"],
                       status="small files" if t["small_files"] else "ok",
                       detail=f"{t['partitions']} partitions, at most {t['max_files_per_partition']} files in one, "
                              f"{t['small_files']} small (< 32 MiB, in a partition of several), "
                              f"mean file {t['mean_file_bytes'] / memory.MIB:.1f} MiB, {t['log_files']} log entries"))
    return out


def history_rows(records: dict, killed: list[dict]) -> list[Row]:
    scale = f"{HISTORY_POINT.name} history"
    rows = []
    last = f"night {HISTORY_NIGHTS + 1}"
    for name in ("night 1", f"nights 2-{HISTORY_NIGHTS}", last):
        rec = records.get(name)
        if rec:
            seconds = rec.get("run_seconds") or rec["seconds"]
            rows.append(Row("quick", scale, name, seconds, rec.get("cpu_seconds"), gib(rec["peak_rss"]),
                            rec.get("bronze_telemetry_rows"),
                            rate(rec.get("bronze_telemetry_rows"), seconds), status=_status(rec),
                            detail=_stage_split(rec) or _failure_detail(rec)))
    first, later = records.get("night 1"), records.get(last)
    if first and later and first.get("run_seconds") and later.get("run_seconds"):
        split1, split31 = {}, {}
        for rec, split in ((first, split1), (later, split31)):
            for s in _steps(rec):
                split[s["stage"]] = split.get(s["stage"], 0.0) + s["end"] - s["start"]
        per_stage = ", ".join(f"{k} {split31.get(k, 0) / v:.2f}" for k, v in split1.items() if v)
        cpu = ""
        if first.get("cpu_seconds") and later.get("cpu_seconds"):
            cpu = (f"; CPU {later['cpu_seconds']:.0f} s / {first['cpu_seconds']:.0f} s = "
                   f"{later['cpu_seconds'] / first['cpu_seconds']:.2f}")
        rows.append(Row("quick", scale, f"night {HISTORY_NIGHTS + 1} / night 1", later["run_seconds"],
                        later.get("cpu_seconds"), ratio=later["run_seconds"] / first["run_seconds"],
                        target=f"<= {TARGETS['history']:g}",
                        detail=f"{later['run_seconds']:.1f} s / {first['run_seconds']:.1f} s{cpu}; by stage: "
                               f"{per_stage}"))
    for problem in killed:
        rows.append(Row("quick", scale, problem["id"] or "worker", problem.get("seconds"), None,
                        gib(problem.get("peak_rss")), status="killed", detail=problem["reason"]))
    return rows


# -- printing ------------------------------------------------------------------------------
def _fmt(value, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    return format(value, spec)


def print_rows(rows: list[Row], title: str) -> None:
    table = Table(title=title, show_lines=False)
    for name in ("scale", "stage", "wall s", "CPU s", "peak GiB", "rows", "rows/s", "B/row", "ratio", "target",
                 "status", "detail"):
        table.add_column(name, overflow="fold", max_width=60 if name == "detail" else None)
    for r in rows:
        table.add_row(r.scale, r.stage, _fmt(r.wall_s), _fmt(r.cpu_s), _fmt(r.peak_rss_gib, ".2f"), _fmt(r.rows, ",d"),
                      _fmt(r.rows_per_s, ",.0f"), _fmt(r.bytes_per_row, ".1f"), _fmt(r.ratio, ".2f"), r.target,
                      r.status, r.detail)
    console.print(table)


def print_tables(rows: list[Row], title: str) -> None:
    table = Table(title=title)
    for name in ("table", "files", "partitions", "most in one", "small", "MiB", "rows", "B/row", "log entries"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for r in rows:
        if not r.rows and not r.files:
            continue
        numbers = dict(re.findall(r"(\d+) (partitions|log entries)", r.detail))
        numbers = {v: k for k, v in numbers.items()}
        most = re.search(r"at most (\d+) files", r.detail)
        small = re.search(r"(\d+) small", r.detail)
        table.add_row(r.stage.removeprefix("table "), str(r.files), numbers.get("partitions", ""),
                      most.group(1) if most else "", small.group(1) if small else "",
                      f"{(r.bytes or 0) / memory.MIB:.1f}", f"{r.rows:,}", _fmt(r.bytes_per_row, ".1f"),
                      numbers.get("log entries", ""))
    console.print(table)


def print_steps(records: dict, title: str, top: int = 12) -> None:
    steps = []
    for stage in STAGES:
        steps += _steps(records.get(stage) or {})
    steps.sort(key=lambda s: s["start"] - s["end"])
    table = Table(title=title)
    for name in ("step", "stage", "seconds", "peak GiB"):
        table.add_column(name)
    for s in steps[:top]:
        table.add_row(s["key"], s["stage"], f"{s['end'] - s['start']:.1f}", f"{s['peak_rss'] / memory.GIB:.2f}")
    console.print(table)


def print_targets(rows: list[Row], mode: str) -> None:
    table = Table(title="targets (tracked, not asserted)")
    for name in ("target", "measured", "met"):
        table.add_column(name)

    def add(name: str, value: float | None, limit: float, unit: str = "", fmt: str = ".2f") -> None:
        met = "-" if value is None else ("yes" if value <= limit else f"no ({value / limit:.1f}x the target)")
        table.add_row(f"{name} <= {limit:g}{unit}", _fmt(value, fmt) + (unit if value is not None else ""), met)

    def ratio(stage: str) -> tuple[str | None, float | None]:
        found = [r for r in rows if r.stage == stage and r.ratio is not None]
        return (found[-1].scale, found[-1].ratio) if found else (None, None)

    scale, value = ratio("machine_daily: Spark / DuckDB")
    add(f"Spark / DuckDB machine_daily ({scale})", value, TARGETS["spark_duckdb"])
    scale, value = ratio("landing / reference")
    add(f"landing / reference ({scale})", value, TARGETS["landing_reference"])
    if mode == "quick":
        add("night 31 / night 1", ratio(f"night {HISTORY_NIGHTS + 1} / night 1")[1], TARGETS["history"])
    else:
        night = [r for r in rows if r.stage == "night (stage runs)"]
        minutes = night[-1].wall_s / 60 if night and night[-1].wall_s else None
        peak = max((r.peak_rss_gib or 0 for r in rows if r.stage in (*STAGES, "night (stage runs)")), default=None)
        scale = night[-1].scale if night else None
        name = "full network" if scale in (None, FULL_NETWORK.name) else f"{scale} (NOT the full network)"
        if night and night[-1].status != "ok":  # a stage was stopped or failed: its time is not the night's
            table.add_row(f"{name} night <= {TARGETS['full_minutes']:g} min", f"{_fmt(minutes, '.1f')} min so far",
                          "no: the night did not complete (see the stages above)")
        else:
            add(f"{name} night", minutes, TARGETS["full_minutes"], " min", ".1f")
        add(f"{name} peak memory", peak, TARGETS["full_gib"], " GiB", ".1f")
    console.print(table)


# -- main ----------------------------------------------------------------------------------
def measure_point(mode: str, point: ScalePoint, workdir: Path, limits: Limits, repeats: int, whole: bool,
                  duckdb_memory: str | None, only: set[str] | None = None,
                  env: dict[str, str] | None = None) -> tuple[list[Row], list[Row], dict]:
    home = workdir / point.name
    console.rule(f"{point.describe()}")
    tasks = point_tasks(point, home, repeats, duckdb_memory, split=mode == "full")
    if only:  # measure some tasks again over the lake an earlier run left in --workdir
        tasks = [t for t in tasks if t["id"] in only]
        whole = whole and "night (one run)" in only
    records, killed = run_plan(tasks, workdir, point.name, home, limits, env)
    if whole:
        more, more_killed = run_plan(whole_tasks(home), workdir, f"{point.name}-whole", home, limits, env)
        records["night (one run)"] = more.get("night (one run)")
        killed += more_killed
        if records["night (one run)"] is None:
            del records["night (one run)"]
    return point_rows(mode, point, records, killed), table_rows(mode, point, records), records


def measure_history(workdir: Path, limits: Limits, env: dict[str, str] | None = None) -> list[Row]:
    home = workdir / "history"
    console.rule(f"history: {HISTORY_NIGHTS} nights of {HISTORY_POINT.describe()}, then night {HISTORY_NIGHTS + 1}")
    records: dict = {}
    killed: list = []
    for number, tasks in enumerate(history_tasks(home)):
        done, stopped = run_plan(tasks, workdir, f"history-{number}", home, limits, env)
        records.update(done)  # history_rows reads only the nights
        killed += stopped
    return history_rows(records, killed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["quick", "full"])
    parser.add_argument("--points", default="1,4,16", help="quick: plants per scale point (x 100 machines)")
    parser.add_argument("--no-history", action="store_true", help="quick: skip the 30-night history")
    parser.add_argument("--whole", action="store_true", help="quick: also run the largest point's night as one run "
                        "(the history's night 1 is the smallest point's night as one run)")
    parser.add_argument("--workdir", type=Path, help="where lakes and landing zones go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (lakes, drops, worker logs)")
    parser.add_argument("--memory-limit", type=float, help="GiB the process tree may use before it is stopped "
                        "(default: 80%% of the machine, at most 16: twice the full network's target)")
    parser.add_argument("--task-timeout", type=float, help="minutes one task may run (default 20 quick, 60 full)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="CSV the figures are appended to")
    parser.add_argument("--network", help="full: run the full plan on a smaller network, PLANTSxMACHINES "
                        "(e.g. 1x10: its code path in a few minutes; write its figures elsewhere with --results)")
    parser.add_argument("--no-champion", action="store_true", help="do not train a champion first (the scoring "
                        "stage then skips: it measures nothing)")
    parser.add_argument("--only", help="comma-separated task ids (e.g. 'silver checks,gold checks') to measure "
                        "again over the lakes an earlier run kept in --workdir")
    args = parser.parse_args(argv)
    only = {t.strip() for t in args.only.split(",")} if args.only else None
    if only and not args.workdir:
        parser.error("--only measures over an earlier run's lakes: give its --workdir")
    full_network = FULL_NETWORK
    if args.network:
        match = re.fullmatch(r"(\d+)x(\d+)", args.network)
        if args.mode != "full" or not match:
            parser.error("--network PLANTSxMACHINES (e.g. 1x10) goes with full")
        full_network = ScalePoint.of(int(match.group(1)), int(match.group(2)))

    machine = Machine.now()
    limit = args.memory_limit * memory.GIB if args.memory_limit else min(0.8 * memory.total(), 16 * memory.GIB)
    timeout = (args.task_timeout or (20 if args.mode == "quick" else 60)) * 60
    limits = Limits(memory_limit=int(limit), task_timeout=timeout)
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="plantlake-bench-"))).resolve()
    started = time.monotonic()
    console.print(f"plantlake bench {args.mode}: commit {machine.commit}, {machine.cores} cores, "
                  f"{machine.memory_gib} GiB, load {machine.load_1m}; work folder {workdir}; process tree limit "
                  f"{limit / memory.GIB:.1f} GiB, {timeout / 60:.0f} min per task")
    rows: list[Row] = []
    history: list[Row] = []
    try:
        env = None
        if not args.no_champion and (not only or any("scoring" in t or "night" in t for t in only)
                                     or (workdir / "champion" / "champion.json").exists()):
            env, training = train_champion(args.mode, workdir, limits)
            rows += training
        if args.mode == "quick":
            points = [ScalePoint.of(int(p)) for p in args.points.split(",")] if args.points else list(QUICK_POINTS)
            tables, largest = [], {}
            for point in points:
                point_rows_, tables, largest = measure_point("quick", point, workdir, limits, repeats=2,
                                                             whole=args.whole and point is points[-1],
                                                             duckdb_memory=None, only=only, env=env)
                rows += point_rows_
            rows += tables
            history = [] if args.no_history or only else measure_history(workdir, limits, env)
            rows += history
        else:
            point_rows_, tables, largest = measure_point("full", full_network, workdir, limits, repeats=1,
                                                         whole=False, duckdb_memory=f"{int(limit / memory.GIB / 2)}GB",
                                                         only=only, env=env)
            rows += point_rows_ + tables
    finally:
        elapsed = time.monotonic() - started
        if rows:
            rows.append(Row(args.mode, "-", "benchmark wall time", elapsed, detail=f"load at start {machine.load_1m}, "
                            f"at end {round(__import__('os').getloadavg()[0], 2)}"))
            append(rows, machine, args.results)
        if not args.keep and args.workdir is None:  # a --workdir is the caller's: kept
            shutil.rmtree(workdir, ignore_errors=True)
    figures = [r for r in rows if not r.stage.startswith("table ")]
    print_rows([r for r in figures if r.scale != "-" and "history" not in r.scale], "stages, references, scaling")
    if history:
        print_rows(history, "history")
    print_tables([r for r in rows if r.stage.startswith("table ")],
                 f"files and sizes ({tables[0].scale if tables else ''})")
    print_steps(largest, "slowest steps of the largest scale point")
    print_targets(rows, args.mode)
    console.print(f"figures appended to {args.results}; {elapsed / 60:.1f} minutes in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
