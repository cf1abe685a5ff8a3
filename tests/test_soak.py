"""Long runs, short: nights back to back with the maintenance job between them (``make soak`` runs 60).

Both lakes score every night with the session's champion (``simulated_champion``: the quality floor's
network through the pipeline and the weekly retrain job, ``bench.soak.train_champion``), as ``make soak``
scores with the one it trains first.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from rich.console import Console

from bench.soak import Footprint, SoakReport, show, soak
from tests.pipeline import TINY_TELEMETRY_INTERVAL_S


@pytest.mark.slow
def test_files_and_logs_stay_bounded_and_gold_is_unchanged_by_maintenance(tmp_path, simulated_champion):
    champion = simulated_champion  # both lakes score every night with it
    before = {name: os.environ.get(name) for name in champion}
    report = soak(tmp_path, nights=4, every=2, champion=champion,
                  telemetry_interval_s=TINY_TELEMETRY_INTERVAL_S)
    assert {name: os.environ.get(name) for name in champion} == before  # the champion's store was for the soak only
    assert report.failed_runs == []
    assert report.scored_rows == 4 * 2 * 4  # nights x plants x machines: the scoring tables are compared too
    assert report.maintenance_runs == 2
    after_maintenance = [report.footprints[1], report.footprints[3]]
    for f in after_maintenance:  # right after the maintenance: one file per partition, a log of one checkpoint
        assert f.max_files_per_partition == 1
        assert f.max_files_on_disk_per_partition == 1
        assert f.max_log_files <= 2
    assert max(f.max_files_per_partition for f in report.footprints) <= 4  # between maintenance runs, bounded
    assert report.footprints[3].max_log_files <= report.footprints[1].max_log_files + 1  # logs do not pile up
    assert report.unbounded() == []  # the verdict make soak exits with
    assert report.gold_differences == []  # maintenance never changes a table's rows


def _report(weeks: list[list[tuple[int, int, int]]], every: int = 3) -> SoakReport:
    report = SoakReport(nights=sum(map(len, weeks)), every=every)
    night = dt.date(2026, 1, 1)
    for week in weeks:
        for files, logs, on_disk in week:
            report.footprints.append(Footprint(night, files, logs, on_disk))
            night += dt.timedelta(days=1)
    return report


def test_the_soak_verdict_names_what_grows():
    steady = [(1, 3, 1), (2, 5, 2), (1, 2, 1)]  # a week: files and logs rise, maintenance brings them back
    assert _report([[(1, 2, 1), (3, 6, 3), (1, 2, 1)], steady, steady, steady[:2]]).unbounded() == []

    piling = _report([steady, steady, [(1, 3, 1), (2, 5, 2), (1, 2, 1)], [(1, 3, 1), (2, 7, 2), (1, 2, 1)]])
    assert piling.unbounded() == ["max_log_files 7 on 2026-01-11, above the second week's 5"]

    left_behind = _report([steady, steady, [(1, 3, 1), (2, 5, 2), (2, 2, 2)]])  # maintenance left two files
    (problem,) = left_behind.unbounded()
    assert problem.startswith("after the maintenance of 2026-01-09:")


def _shown(report: SoakReport) -> str:
    console = Console(record=True, width=300)
    show(report, console)
    return console.export_text()


def test_the_soak_summary_reads_as_sentences():
    steady = [(1, 3, 1), (2, 5, 2), (1, 2, 1)]
    good = _report([steady, steady])
    good.gold_differences, good.maintenance_runs = [], 2
    text = _shown(good)
    assert "failed: none;" in text
    assert "gold equal to a run without maintenance: yes" in text
    assert "files and logs bounded: yes" in text

    bad = _report([steady, steady, [(1, 3, 1), (2, 7, 2), (1, 2, 1)]])
    bad.failed_runs = ["night 2026-01-08"]
    text = _shown(bad)
    assert "failed: night 2026-01-08;" in text
    assert "gold equal to a run without maintenance: not compared" in text
    assert "files and logs bounded: no: max_log_files 7 on 2026-01-08, above the second week's 5" in text
