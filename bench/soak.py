"""Long runs: many nights back to back with the weekly maintenance, watching files and logs.

``make soak`` runs 60 simulated nights one nightly run at a time, with the maintenance job
every 7 nights, and checks that the files per partition and the Delta logs stay bounded and
that the gold tables equal those of one run without maintenance. Simulated nights pass in
minutes, so the maintenance runs with zero retention: what a week of real time would allow
happens at once (``--vacuum-hours``/``--log-retention-hours`` change it).

Both lakes score every night with one champion model, trained first on another network
(the benchmark's training network and the weekly retrain job), so the scoring tables are
compared too, not only the aggregates (``--no-champion`` skips it).

    python -m bench.soak [--nights 60] [--every 7] [--plants 2] [--machines 6] [--no-champion]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.network import TRAINING_NIGHTS, crown_for_measurement, training_config
from lakehouse import catalog, storage
from lakehouse.delta import Lake
from lakehouse.settings import environment, get_settings, mlflow_environment, plantlake_home
from lakehouse.snapshot import contents, differences
from ml.tables import FAILURE_RISK
from ml.train import TRAINING_INPUTS
from orchestration.definitions import build_definitions
from orchestration.runs import backfill, failures, local_instance, retrain, run_config, run_nights
from sources.simulator import SimulationConfig, simulate

START = dt.date(2026, 1, 5)


@dataclass
class Footprint:
    """What a lake's tables weigh in files after a night."""

    night: dt.date
    max_files_per_partition: int
    max_log_files: int
    max_files_on_disk_per_partition: int  # live and removed-but-not-vacuumed data files


@dataclass
class SoakReport:
    nights: int
    footprints: list[Footprint] = field(default_factory=list)
    maintenance_runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    gold_differences: list[str] | None = None  # against the lake without maintenance (None: not compared)
    every: int = 7
    scored_rows: int = 0  # rows of gold.failure_risk in the lake with maintenance (0: no champion scored)

    @property
    def gold_equal(self) -> bool | None:
        return None if self.gold_differences is None else not self.gold_differences

    def unbounded(self) -> list[str]:
        """What grew without bound: files or logs left after a maintenance run, or a peak above the second week's.

        Right after maintenance every partition is one file and each log is one checkpoint (and at most the
        commit after it). Between two maintenance runs the peaks rise, but never above those of the second
        week, the first to start from a maintained lake (the first starts from an empty one).
        """
        problems = []
        for f in self.footprints[self.every - 1::self.every]:
            if f.max_files_per_partition > 1 or f.max_files_on_disk_per_partition > 1 or f.max_log_files > 2:
                problems.append(f"after the maintenance of {f.night}: {f}")
        weeks = [self.footprints[i:i + self.every] for i in range(0, len(self.footprints), self.every)]
        for metric in ("max_files_per_partition", "max_log_files", "max_files_on_disk_per_partition"):
            for week in weeks[2:]:
                baseline = max(getattr(f, metric) for f in weeks[1])
                peak = max(week, key=lambda f: getattr(f, metric))
                if getattr(peak, metric) > baseline:
                    problems.append(f"{metric} {getattr(peak, metric)} on {peak.night}, "
                                    f"above the second week's {baseline}")
        return problems


def footprint(lake: Lake, night: dt.date) -> Footprint:
    per_partition = 0
    logs = 0
    on_disk = 0
    for spec in catalog.tables():
        if not lake.exists(spec):
            continue
        adds = pa.table(lake.delta_table(spec).get_add_actions(flatten=True))
        paths = [p.rsplit("/", 1)[0] if "/" in p else "" for p in adds.column("path").to_pylist()]
        per_partition = max([per_partition, *Counter(paths).values()])
        log_files = storage.list_files(storage.join(lake.uri(spec), "_delta_log"), lake.settings, recursive=False)
        logs = max(logs, sum(f.endswith(".json") for f in log_files))
        folders = Counter(f.rsplit("/", 1)[0] for f in storage.list_files(lake.uri(spec))
                          if f.endswith(".parquet") and "/_delta_log/" not in f and "/_staging/" not in f)
        on_disk = max([on_disk, *folders.values()])
    return Footprint(night, per_partition, logs, on_disk)


def maintain(instance: dg.DagsterInstance, vacuum_hours: int, log_retention_hours: int) -> bool:
    config = {"vacuum_hours": vacuum_hours, "log_retention_hours": log_retention_hours, "run_retention_days": 90}
    result = build_definitions(get_settings()).resolve_job_def("maintenance").execute_in_process(
        run_config={**run_config(log_level="WARNING"), "ops": {"table_maintenance": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )
    return result.success


def simulate_nights(landing: Path, nights: int, plants: int, machines: int,
                    telemetry_interval_s: int = SimulationConfig.telemetry_interval_s) -> SimulationConfig:
    config = SimulationConfig(landing=str(landing), start=START, days=nights, plants=plants,
                              machines_per_plant=machines, suppliers=8, locations=16,
                              telemetry_interval_s=telemetry_interval_s)
    simulate(config)
    return config


def train_champion(home: Path, nights: SimulationConfig | None = None) -> dict[str, str]:
    """A champion for the soak's nights to score with: the benchmark's training network, landed under
    ``home`` the night before the soak starts, then the weekly retrain job. Returns its MLflow environment.

    ``nights``: another network to train on, simulated into ``home``'s landing zone (the tests' champion is
    the quality floor's network, tests/mlnetwork.py). The nights are one backfill run, with one
    "materialization planned" event per asset (failures are reported here), of the assets that build what
    training reads (``ml.train.TRAINING_INPUTS``); its history is kept as ``plantlake run`` keeps it, under
    ``home``.
    """
    own_network = nights is None  # the benchmark's small network: crowned for the measurement if need be
    with plantlake_home(home):
        nights = nights or training_config(str(home / "landing"), START)
        simulate(nights)
        with local_instance() as instance:
            problems = backfill(nights.start, nights.end, TRAINING_INPUTS, dagster_instance=instance)
            problems += failures(retrain(dagster_instance=instance, log_level="WARNING", end_date=nights.end))
        if own_network:
            crown_for_measurement()
    if problems:
        raise RuntimeError(f"the soak's champion could not be trained: {problems}")
    return mlflow_environment(home)


def soak(home: Path, nights: int, every: int, plants: int = 2, machines: int = 4, vacuum_hours: int = 0,
         log_retention_hours: int = 0, compare: bool = True, champion: dict[str, str] | None = None,
         on_step: Callable[[str], None] = lambda step: None,
         telemetry_interval_s: int = SimulationConfig.telemetry_interval_s) -> SoakReport:
    """Night after night with maintenance every ``every`` nights; then (``compare``) one backfill of the
    same nights without maintenance in a second lake, whose gold tables must be equal.

    ``champion`` (an MLflow environment, see :func:`train_champion`) is the model store both lakes score
    with; without one the scoring assets skip. ``on_step`` hears of each night done (and of the
    backfill), for a progress bar. ``telemetry_interval_s``: how often the machines report (the tests' soak
    reads every 5 minutes, as their tiny network does).
    """
    report = SoakReport(nights, every=every)
    with environment(champion or {}):
        with plantlake_home(home / "with-maintenance"):
            config = simulate_nights(home / "with-maintenance" / "landing", nights, plants, machines,
                                     telemetry_interval_s)
            instance = dg.DagsterInstance.ephemeral()
            lake = Lake()
            for i, night in enumerate(config.dates, start=1):
                result = run_nights(night, dagster_instance=instance, log_level="WARNING")
                if not result.success:
                    report.failed_runs.append(f"night {night}")
                if i % every == 0:
                    report.maintenance_runs += 1
                    if not maintain(instance, vacuum_hours, log_retention_hours):
                        report.failed_runs.append(f"maintenance after {night}")
                report.footprints.append(footprint(lake, night))
                on_step(f"night {night}")
            with_maintenance = contents(lake, layers=("gold",))
            report.scored_rows = lake.count(FAILURE_RISK)
        if compare:
            with plantlake_home(home / "without"):
                simulate_nights(home / "without" / "landing", nights, plants, machines, telemetry_interval_s)
                result = run_nights(config.start, config.end, dagster_instance=dg.DagsterInstance.ephemeral(),
                                    log_level="WARNING")
                if not result.success:
                    report.failed_runs.append("backfill without maintenance")
                report.gold_differences = differences(with_maintenance, contents(Lake(), layers=("gold",)))
                on_step("backfill without maintenance")
    return report


def show(report: SoakReport, console: Console) -> None:
    table = Table("night", "max live files / partition", "max log files", "max files on disk / partition",
                  title="soak")
    for f in report.footprints:
        table.add_row(str(f.night), str(f.max_files_per_partition), str(f.max_log_files),
                      str(f.max_files_on_disk_per_partition))
    console.print(table)
    console.print(f"maintenance runs: {report.maintenance_runs}; failed: {_listed(report.failed_runs, 'none')}; "
                  f"machine-days scored: {report.scored_rows:,}")
    equal = "not compared" if report.gold_differences is None else _listed(report.gold_differences, "yes", "no: ")
    console.print(f"gold equal to a run without maintenance: {equal}")
    console.print(f"files and logs bounded: {_listed(report.unbounded(), 'yes', 'no: ')}")


def _listed(items: list[str], when_empty: str, prefix: str = "") -> str:
    return prefix + "; ".join(items) if items else when_empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nights", type=int, default=60)
    parser.add_argument("--every", type=int, default=7)
    parser.add_argument("--plants", type=int, default=2)
    parser.add_argument("--machines", type=int, default=6)
    parser.add_argument("--vacuum-hours", type=int, default=0)
    parser.add_argument("--log-retention-hours", type=int, default=0)
    parser.add_argument("--no-champion", action="store_true", help="score nothing (the scoring assets skip)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    console = Console()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with tempfile.TemporaryDirectory(prefix="plantlake-soak-") as tmp, Progress(*columns, console=console) as bar:
        task = bar.add_task("soak", total=args.nights + 1 + (not args.no_champion))
        champion = None
        if not args.no_champion:
            bar.update(task, description=f"champion: {TRAINING_NIGHTS} nights, then the retrain job")
            champion = train_champion(Path(tmp) / "champion")
            bar.update(task, advance=1)
        report = soak(Path(tmp), args.nights, args.every, args.plants, args.machines, args.vacuum_hours,
                      args.log_retention_hours, champion=champion,
                      on_step=lambda step: bar.update(task, advance=1, description=step))
    show(report, console)
    unscored = champion is not None and report.scored_rows == 0
    raise SystemExit(1 if report.failed_runs or not report.gold_equal or report.unbounded() or unscored else 0)


if __name__ == "__main__":
    main()
