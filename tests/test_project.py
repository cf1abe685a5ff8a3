"""The project's two commands: the Makefile stops clearly without Java 17+; CI runs make test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make_java(tmp_path: Path, java_version: str | None) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink(shutil.which("sed"), bin_dir / "sed")
    if java_version:
        fake = bin_dir / "java"
        fake.write_text(f"#!/bin/sh\necho 'openjdk version \"{java_version}\" 2021-01-01' >&2\n")
        fake.chmod(0o755)
    return subprocess.run(
        [shutil.which("make"), "-s", "java"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)},
    )


@pytest.mark.parametrize("version", [None, "11.0.2", "1.8.0_392"])
def test_make_stops_with_one_sentence_without_java_17(tmp_path, version):
    done = make_java(tmp_path, version)
    assert done.returncode != 0
    assert "plantlake needs Java 17 or newer for Spark: install a JDK 17+" in done.stdout


def test_make_accepts_java_17(tmp_path):
    assert make_java(tmp_path, "17.0.15").returncode == 0


def test_ci_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()
    assert "make test" in script
    assert os.access(ROOT / ".ci" / "run", os.X_OK)
