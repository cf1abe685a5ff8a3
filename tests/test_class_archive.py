"""The Spark driver's class archive (lakehouse/class_archive.py): when a driver maps it, and that a JVM that
cannot use it starts as without. That a driver maps the run's archive: tests/test_spark_bridge.py."""

from __future__ import annotations

import os
import subprocess

from lakehouse import class_archive
from lakehouse.settings import Settings


def test_a_driver_maps_the_archive_only_when_it_is_there(tmp_path, monkeypatch):
    archive = tmp_path / "classes.jsa"
    settings = Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), "PLANTLAKE_SPARK_CLASS_ARCHIVE": str(archive)})
    monkeypatch.delenv("PLANTLAKE_SPARK_CLASS_ARCHIVE_BUILDING", raising=False)
    assert class_archive.java_options(settings) == ""  # none yet: the driver starts as it always did
    archive.write_bytes(b"")
    assert class_archive.java_options(settings) == ""  # an empty file is no archive
    archive.write_bytes(b"\0" * 16)
    assert class_archive.java_options(settings) == f"-XX:SharedArchiveFile={archive}"
    monkeypatch.setenv("PLANTLAKE_SPARK_CLASS_ARCHIVE_BUILDING", str(tmp_path / "new.tmp"))
    assert class_archive.java_options(settings) == f"-XX:ArchiveClassesAtExit={tmp_path / 'new.tmp'}"
    default = Settings.from_env({"PLANTLAKE_HOME": str(tmp_path)})
    assert default.spark_class_archive == tmp_path / "spark-classes.jsa"


def test_a_jvm_that_cannot_use_the_archive_starts_without_it(tmp_path):
    """A stale archive (another JDK, another class path) or a damaged one costs the gain, never the start."""
    damaged = tmp_path / "damaged.jsa"
    damaged.write_bytes(os.urandom(1 << 20))
    done = subprocess.run(["java", f"-XX:SharedArchiveFile={damaged}", "-version"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "version" in done.stderr
