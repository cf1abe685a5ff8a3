"""Peak memory of a process tree: the RSS of a process and all its descendants (the Spark JVM, Python workers).

A background thread samples the tree every ``interval`` seconds (psutil when installed, else
``/proc``) and keeps every sample, so the peak of any time window (a stage, a Dagster step)
can be read afterwards.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

try:  # the bench extra installs it; /proc does the same job without it
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

PAGE = os.sysconf("SC_PAGE_SIZE")
GIB = 1024**3
MIB = 1024**2


def _children_proc(pid: int) -> list[int]:
    """Direct children of ``pid`` from /proc (every thread's children file)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def _rss_proc(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_pids(pid: int) -> list[int]:
    """``pid`` and every descendant."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            return [pid, *(c.pid for c in root.children(recursive=True))]
        except psutil.Error:
            return []
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children_proc(current)
    return pids


def tree_rss(pid: int | None = None) -> int:
    """Bytes resident in ``pid`` (default: this process) and all its descendants."""
    pid = pid or os.getpid()
    if psutil is not None:
        total = 0
        for p in tree_pids(pid):
            try:
                total += psutil.Process(p).memory_info().rss
            except psutil.Error:
                continue
        return total
    return sum(_rss_proc(p) for p in tree_pids(pid))


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_proc(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime, stime, cutime, cstime (fields 14-17 of stat; 12-15 after the command name)
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def tree_cpu(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its descendants, reaped children included.

    On a machine shared with other work this moves far less than wall time does.
    """
    return sum(_cpu_proc(p) for p in tree_pids(pid or os.getpid()))


def available() -> int:
    """Memory the kernel can still hand out (MemAvailable), in bytes."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


class TreeSampler:
    """Samples the RSS of a process tree in a background thread; ``peak(start, end)`` reads any window."""

    def __init__(self, pid: int | None = None, interval: float = 0.2):
        self.pid = pid or os.getpid()
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (time.time(), bytes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def __enter__(self) -> TreeSampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def sample(self) -> int:
        value = tree_rss(self.pid)
        self.samples.append((time.time(), value))
        return value

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def peak(self, start: float | None = None, end: float | None = None) -> int:
        """Largest sample in [start, end] (wall-clock seconds); the whole run without bounds."""
        values = [v for t, v in list(self.samples) if (start is None or t >= start) and (end is None or t <= end)]
        if not values and start is not None:  # a window shorter than the interval: the nearest earlier sample
            earlier = [v for t, v in list(self.samples) if t <= (end or start)]
            values = earlier[-1:]
        return max(values, default=0)

    @property
    def current(self) -> int:
        return self.samples[-1][1] if self.samples else 0
