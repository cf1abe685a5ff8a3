"""Loading history (part of ``make bench``, not asserted): years of an imported export as one run.

    python -m bench.history [--lines 10000] [--days 2100] [--years 10] [--no-azure] [--workdir DIR]

Two points, each in a fresh ``PLANTLAKE_HOME``, each as a user runs it (the console scripts):

* a supplier export of the SCMS shape (``sources.simulator.scms``: ten years, about 10,000
  delivery lines of 72 vendors on about 2,100 delivery days, USD with a rates table):
  ``plantlake import --mapping scms_deliveries``, then ``plantlake run --date D --to D2
  --history`` over every night of it; target 10 minutes on 2 cores;
* the Azure PdM plant export (``/work/shared/datasets/azure_pdm``, 20 machines of hourly
  telemetry; the telemetry there covers Q1 2015 only, the other files the whole of 2015 and
  maintenance from mid-2014): ``plantlake import --mapping azure_pdm``, then one history run over
  all its nights (2014-06-01 to 2016-01-01); target 5 minutes.

Each time is the command's wall time (Spark's start included). Rows go to ``bench/results.csv``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Machine, Row, append
from sources.simulator import scms

log = logging.getLogger("bench.history")
ROOT = Path(__file__).resolve().parents[1]
AZURE = ROOT.parent / "shared" / "datasets" / "azure_pdm"
SCMS_FIRST, AZURE_FIRST, AZURE_LAST = dt.date(2006, 5, 8), dt.date(2014, 6, 1), dt.date(2016, 1, 1)


def plantlake(args: list[str], env: dict[str, str]) -> float:
    """Run a ``plantlake`` command; its wall time. A failure stops the benchmark with the command's output."""
    start = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).parent / "plantlake"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"plantlake {' '.join(args)} failed after {seconds:.0f} s:\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-3000:]}")
    return seconds


def home_env(home: Path, first: dt.date, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANTLAKE_", "DAGSTER_", "MLFLOW_"))}
    return {**env, "PLANTLAKE_HOME": str(home), "PLANTLAKE_FIRST_DATE": first.isoformat(),
            "PLANTLAKE_LOG_LEVEL": "WARNING", "PLANTLAKE_SPARK_UI": "false", **more}


def supplier_history(workdir: Path, lines: int, days: int, years: int) -> list[Row]:
    last = SCMS_FIRST + dt.timedelta(days=round(years * 365.25))
    source = workdir / "scms"
    scms.write_export(source, lines, SCMS_FIRST, last, days)
    rates = scms.write_rates(workdir / "usd_eur.csv", SCMS_FIRST, last)
    env = home_env(workdir / "scms_home", SCMS_FIRST, PLANTLAKE_FX_RATES=str(rates))
    scale = f"{lines} lines, {days} nights, {years} years"
    imported = plantlake(["import", "--mapping", "scms_deliveries", "--source", str(source)], env)
    ran = plantlake(["run", "--date", SCMS_FIRST.isoformat(), "--to", last.isoformat(), "--history"], env)
    target = 600.0
    return [
        Row("history", scale, "supplier import", wall_s=round(imported, 1), rows=lines,
            rows_per_s=round(lines / imported)),
        Row("history", scale, "supplier history run", wall_s=round(ran, 1), rows=lines, target="<= 600 s",
            status="ok" if imported + ran <= target else "missed",
            detail=f"{(last - SCMS_FIRST).days + 1} nights in the run"),
    ]


def azure_history(workdir: Path) -> list[Row]:
    env = home_env(workdir / "azure_home", AZURE_FIRST)
    imported = plantlake(["import", "--mapping", "azure_pdm", "--source", str(AZURE)], env)
    ran = plantlake(["run", "--date", AZURE_FIRST.isoformat(), "--to", AZURE_LAST.isoformat(), "--history"], env)
    scale = "20 machines hourly, 2014-06-01..2016-01-01"
    return [
        Row("history", scale, "Azure import", wall_s=round(imported, 1), rows=51_266),
        Row("history", scale, "Azure history run", wall_s=round(ran, 1), target="<= 300 s",
            status="ok" if imported + ran <= 300 else "missed",
            detail=f"{(AZURE_LAST - AZURE_FIRST).days + 1} nights in the run"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=2_100)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--no-azure", action="store_true", help="Only the supplier history.")
    parser.add_argument("--workdir", type=Path, help="Keep the homes here (default: a temporary folder).")
    parser.add_argument("--results", type=Path, help="Append the rows here (default: bench/results.csv).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    machine = Machine.now()
    with tempfile.TemporaryDirectory(prefix="plantlake-history-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = supplier_history(workdir, args.lines, args.days, args.years)
        if not args.no_azure and AZURE.is_dir():
            rows += azure_history(workdir)
    append(rows, machine, **({"path": args.results} if args.results else {}))
    for row in rows:
        log.info("%-22s %-45s %8.1f s %s %s", row.stage, row.scale, row.wall_s, row.target, row.status)


if __name__ == "__main__":
    main()
