"""Long runs, short: nights back to back with the maintenance job between them (``make soak`` runs 60)."""

from __future__ import annotations

from bench.soak import soak


def test_files_and_logs_stay_bounded_and_gold_is_unchanged_by_maintenance(tmp_path):
    report = soak(tmp_path, nights=4, every=2)
    assert report.failed_runs == []
    assert report.maintenance_runs == 2
    after_maintenance = [report.footprints[1], report.footprints[3]]
    for f in after_maintenance:  # right after the maintenance: one file per partition, a log of one checkpoint
        assert f.max_files_per_partition == 1
        assert f.max_files_on_disk_per_partition == 1
        assert f.max_log_files <= 2
    assert max(f.max_files_per_partition for f in report.footprints) <= 4  # between maintenance runs, bounded
    assert report.footprints[3].max_log_files <= report.footprints[1].max_log_files + 1  # logs do not pile up
    assert report.gold_equal is True  # maintenance never changes a table's rows
