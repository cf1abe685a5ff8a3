"""Figures of a benchmark run: rows appended to ``bench/results.csv`` and the tables printed at the end."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from bench import memory

RESULTS = Path(__file__).parent / "results.csv"


@dataclass
class Row:
    """One figure set: a stage (or a reference, a ratio, a table) at one scale point."""

    mode: str
    scale: str
    stage: str
    wall_s: float | None = None
    cpu_s: float | None = None  # CPU seconds of the process tree: steadier than wall time on a busy machine
    peak_rss_gib: float | None = None
    rows: int | None = None
    rows_per_s: float | None = None
    bytes_per_row: float | None = None
    files: int | None = None
    bytes: int | None = None
    ratio: float | None = None
    target: str = ""
    status: str = "ok"
    detail: str = ""


@dataclass(frozen=True)
class Machine:
    date: str
    commit: str
    cores: int
    memory_gib: float
    load_1m: float

    @classmethod
    def now(cls) -> Machine:
        return cls(
            date=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            commit=git_commit(),
            cores=os.cpu_count() or 0,
            memory_gib=round(memory.total() / memory.GIB, 1),
            load_1m=round(os.getloadavg()[0], 2),
        )


def git_commit() -> str:
    """Short commit of the working tree, ``-dirty`` when it has uncommitted changes; ``unknown`` outside git."""
    root = Path(__file__).parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


COLUMNS = [f.name for f in fields(Machine)] + [f.name for f in fields(Row)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def append(rows: list[Row], machine: Machine, path: Path = RESULTS) -> None:
    """Append ``rows`` to the results file (with its header when new)."""
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != COLUMNS:  # an older layout: rewrite it with today's columns (missing figures empty)
            with path.open(newline="") as f:
                old = list(csv.DictReader(f))
            with path.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(COLUMNS)
                writer.writerows([[r.get(c) or "" for c in COLUMNS] for r in old])
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(COLUMNS)
        for row in rows:
            values = {**asdict(machine), **asdict(row)}
            writer.writerow([_cell(values[c]) for c in COLUMNS])


def gib(value: int | None) -> float | None:
    return None if value is None else round(value / memory.GIB, 2)


def rate(rows: int | None, seconds: float | None) -> float | None:
    if not rows or not seconds:
        return None
    return rows / seconds
