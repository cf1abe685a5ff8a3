"""The demo's promotion gate on the days it could run (not part of ``make bench``: a whole demo per day).

    python -m bench.demo_gate [--days 7] [--until YYYY-MM-DD] [--workdir DIR]

The simulator draws a date's behaviour from the date itself, so the 60 nights ``make demo``
processes, and with them whether its first failure model passes the promotion gate (no champion:
no alerts, and ``make bi`` has nothing to show), depend on the day it runs. For each of ``--days``
days ending ``--until`` (default: today), in a fresh ``PLANTLAKE_HOME`` and a process of its own,
this runs the demo's network as ``plantlake demo`` does (simulation, one backfill, the retrain job,
the scoring) and reads the gate's decision from the failure model's materialization in Dagster.
Rows go to ``bench/results.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from bench.history import ROOT, home_env
from bench.results import Machine, Row, append
from lakehouse.settings import get_settings
from orchestration import demo
from orchestration.assets.models import FAILURE_MODEL_KEY
from orchestration.demo_network import DemoNetwork
from orchestration.runs import instance

log = logging.getLogger("bench.demo_gate")


def decide(today: dt.date) -> dict:
    """In this process's ``PLANTLAKE_HOME``: the demo as if run on ``today``, then the gate's decision."""
    network = DemoNetwork()
    start, end = demo.nights(network.days, today)
    console = Console(quiet=True)
    demo.first_partition(get_settings().home, start, console)
    demo.simulate_network(network, start, console)
    ran = demo.process(start, end, console, network.scored_days)
    event = instance().get_latest_materialization_event(FAILURE_MODEL_KEY)
    if event is None:
        raise SystemExit(f"the demo of {today} trained no failure model (its runs succeeded: {ran})")
    metadata = event.asset_materialization.metadata
    return {"first": start.isoformat(), "last": end.isoformat(), "runs_succeeded": ran,
            "promoted": metadata["promoted"].value, "decision": metadata["decision"].value}


def one_day(today: dt.date, home: Path) -> dict:
    """``decide`` in a process of its own: every day gets a new Spark session, Dagster instance and MLflow store."""
    if home.exists():  # a second demo in one home would train a challenger against the first one's champion
        raise SystemExit(f"{home} exists: give another --workdir")
    first, _ = demo.nights(DemoNetwork().days, today)
    done = subprocess.run([sys.executable, "-m", "bench.demo_gate", "--as-of", today.isoformat()], cwd=ROOT,
                          env=home_env(home, first), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the demo of {today} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=7, help="How many days to try (7: every weekday once).")
    parser.add_argument("--until", type=dt.date.fromisoformat, default=dt.datetime.now(dt.UTC).date(),
                        help="The last day tried; the demo run on a day processes the nights up to the day before.")
    parser.add_argument("--workdir", type=Path, help="Keep the homes here (default: a temporary folder).")
    parser.add_argument("--results", type=Path, help="Append the rows here (default: bench/results.csv).")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, help=argparse.SUPPRESS)  # one day, in this process
    args = parser.parse_args()
    if args.as_of:
        logging.basicConfig(level=logging.WARNING)
        print(json.dumps(decide(args.as_of)))
        return
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)  # this benchmark's lines, not those of the libraries the demo's module imports
    machine = Machine.now()
    rows = []
    with tempfile.TemporaryDirectory(prefix="plantlake-demo-gate-") as scratch:
        workdir = args.workdir or Path(scratch)
        for back in range(args.days - 1, -1, -1):
            today = args.until - dt.timedelta(days=back)
            started = time.perf_counter()
            outcome = one_day(today, workdir / today.isoformat())
            log.info("%s (%s)  %s  %s", today, today.strftime("%a"),
                     "promoted" if outcome["promoted"] else "NOT promoted", outcome["decision"])
            rows.append(Row("demo gate", f"demo run on {today}", "first failure model",
                            wall_s=round(time.perf_counter() - started, 1),
                            status="promoted" if outcome["promoted"] else "not promoted",
                            detail=f"nights {outcome['first']}..{outcome['last']}: {outcome['decision']}"
                                   + ("" if outcome["runs_succeeded"] else " (a run of the demo failed)")))
    append(rows, machine, **({"path": args.results} if args.results else {}))
    promoted = sum(row.status == "promoted" for row in rows)
    log.info("promoted on %d of %d days", promoted, len(rows))


if __name__ == "__main__":
    main()
