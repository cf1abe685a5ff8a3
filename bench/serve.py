"""``plantlake serve`` figures (part of ``make bench``, not asserted): start-up, a dashboard query, commit to visible.

    python -m bench.serve [--plants 122] [--days 365] [--poll 10]

A lake of ``gold.oee_plant_daily`` for the whole network (122 plants, a year of nights, one
commit per night as the pipeline writes it) in a fresh ``PLANTLAKE_HOME``; then

* time to first answer: from starting ``plantlake serve`` to the first row of a gold table
  through PyHive;
* a typical dashboard query (OEE per plant per week over the last 90 days, the ratio of
  sums) through the server, against the same query in ``plantlake sql`` (DuckDB, in process
  and as the command);
* commit to visible: a night's slice replaced, until an open connection sees it (at the
  default poll of 10 s the wait is the poll's phase, so several commits are timed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.settings import Settings, home_environment
from lakehouse.sql import query as duckdb_query

SPEC = catalog.get("gold.oee_plant_daily")
SERVER_SQL = """SELECT plant_id, date_trunc('week', date) AS week,
       SUM(oee * planned_minutes) / SUM(planned_minutes) AS oee
FROM gold.oee_plant_daily WHERE date >= date_sub((SELECT max(date) FROM gold.oee_plant_daily), 90)
GROUP BY plant_id, date_trunc('week', date) ORDER BY plant_id, week"""
DUCKDB_SQL = """SELECT plant_id, date_trunc('week', date) AS week,
       SUM(oee * planned_minutes) / SUM(planned_minutes) AS oee
FROM gold.oee_plant_daily WHERE date >= (SELECT max(date) FROM gold.oee_plant_daily) - INTERVAL 90 DAY
GROUP BY plant_id, date_trunc('week', date) ORDER BY plant_id, week"""


def night(day: dt.date, plants: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = plants
    planned = np.full(n, 960.0)
    run = planned * rng.uniform(0.7, 0.95, n)
    total = (run * rng.uniform(0.8, 1.2, n)).astype(np.int64)
    good = (total * rng.uniform(0.95, 0.999, n)).astype(np.int64)
    availability, performance, quality = run / planned, rng.uniform(0.8, 0.95, n), good / np.maximum(total, 1)
    return pa.table({
        "date": [day] * n, "plant_id": [f"P{i:03d}" for i in range(n)], "lines": np.full(n, 8, np.int64),
        "planned_minutes": planned, "run_minutes": run, "total_count": total, "good_count": good,
        "availability": availability, "performance": performance, "quality": quality,
        "oee": availability * performance * quality,
    }, schema=SPEC.schema)


def connect(port: int, timeout: float):
    from pyhive import hive

    logging.getLogger("thrift.transport.TSocket").setLevel(logging.CRITICAL)  # "could not connect" until it listens
    deadline = time.monotonic() + timeout
    while True:
        try:
            return hive.connect(host="127.0.0.1", port=port, database="gold", username="bench")
        except Exception:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plants", type=int, default=122)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--poll", type=float, default=10.0)
    parser.add_argument("--commits", type=int, default=3)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="plantlake-bench-serve-"))
    env = {**os.environ, **home_environment(home), "PLANTLAKE_SPARK_UI": "false"}
    lake = Lake(str(home / "lake"), Settings.from_env(env))
    last = dt.date(2026, 6, 30)
    days = [last - dt.timedelta(days=i) for i in range(args.days)][::-1]
    t0 = time.perf_counter()
    for i, day in enumerate(days):
        lake.append(SPEC, night(day, args.plants, i))
    print(f"lake: {SPEC.name}, {args.plants} plants x {args.days} nights ({len(days)} commits) "
          f"written in {time.perf_counter() - t0:.1f}s", flush=True)

    port = 10000 + os.getpid() % 20000
    figures: list[tuple[str, str]] = []
    started = time.perf_counter()
    server = subprocess.Popen([str(Path(sys.executable).parent / "plantlake"), "serve", "--port", str(port),
                               "--poll", str(args.poll)], env=env, stdout=subprocess.DEVNULL,
                              stderr=(home / "serve.err").open("wb"))
    try:
        cursor = connect(port, 300).cursor()
        cursor.execute("SELECT * FROM gold.oee_plant_daily LIMIT 1")
        cursor.fetchall()
        ready = time.perf_counter() - started
        figures.append(("time to first answer after `plantlake serve` starts", f"{ready:.1f} s"))

        def through_server():
            cursor.execute(SERVER_SQL)
            return cursor.fetchall()

        first, _ = timed(through_server, 1)
        median, rows = timed(through_server, 5)
        in_process, expected = timed(lambda: duckdb_query(lake, DUCKDB_SQL), 5)
        assert len(rows) == expected.num_rows, (len(rows), expected.num_rows)
        command = [str(Path(sys.executable).parent / "plantlake"), "sql", DUCKDB_SQL, "--format", "csv"]
        t0 = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli = time.perf_counter() - t0
        figures += [
            ("OEE per plant per week, 90 days, through the server (first / median of 5)",
             f"{first:.2f} s / {median:.2f} s ({len(rows)} rows)"),
            ("the same query with DuckDB (`lakehouse.sql.query`, median of 5)", f"{in_process:.2f} s"),
            ("the same query as the `plantlake sql` command (process start included)", f"{cli:.2f} s"),
        ]

        latencies = []
        for k in range(args.commits):
            day = days[-1 - k]
            changed = night(day, args.plants, 10_000 + k)
            cursor.execute(f"SELECT sum(good_count) FROM gold.oee_plant_daily WHERE date = DATE'{day}'")
            before = cursor.fetchone()[0]
            committed = time.perf_counter()
            lake.replace_slice(SPEC, changed, day)
            while True:
                cursor.execute(f"SELECT sum(good_count) FROM gold.oee_plant_daily WHERE date = DATE'{day}'")
                if cursor.fetchone()[0] != before:
                    break
                time.sleep(0.05)
            latencies.append(time.perf_counter() - committed)
        figures.append((f"commit to visible at --poll {args.poll:g} (median / max of {args.commits})",
                        f"{statistics.median(latencies):.1f} s / {max(latencies):.1f} s"))
    finally:
        server.terminate()
        server.wait(60)
    width = max(len(name) for name, _ in figures)
    print("\nplantlake serve")
    for name, value in figures:
        print(f"  {name:<{width}}  {value}")


if __name__ == "__main__":
    main()
