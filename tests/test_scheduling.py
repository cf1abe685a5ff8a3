"""How ``make test`` shares the suite out among pytest-xdist workers (tests/conftest.py): the files that share a
session lake run on one worker, the longest units are collected first, and a test of another file cannot use a
shared lake unnoticed. Each case is a real pytest run over a small folder of tests with this suite's conftest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDING = '''
import os, pytest

@pytest.mark.parametrize("n", range(3))
def test_records_its_worker(n, request):
    with open(os.environ["WORKER_LOG"], "a") as log:
        log.write(f"{request.node.nodeid} {os.environ.get('PYTEST_XDIST_WORKER', 'none')}\\n")
'''


def suite(folder: Path, files: dict[str, str]) -> Path:
    shutil.copy(ROOT / "tests" / "conftest.py", folder / "conftest.py")
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    slow\n    server\n    spark\n    s3\n")
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def pytest(folder: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKER_LOG": str(folder / "workers.log")}
    env.pop("PYTEST_ADDOPTS", None)  # the outer run's options (-v, --durations) are not this run's
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_files_sharing_a_lake_run_on_one_worker_and_start_first(tmp_path):
    slow = "import pytest\npytestmark = pytest.mark.slow\n" + RECORDING
    server = "import pytest\npytestmark = pytest.mark.server\n" + RECORDING
    folder = suite(tmp_path, {"test_a.py": RECORDING, "test_b.py": slow, "test_c.py": server,
                              "test_faults.py": RECORDING, "test_pipeline.py": RECORDING})
    collected = pytest(folder, "--collect-only", "-q")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    files = [line.split("::")[0] for line in collected.stdout.splitlines() if "::" in line]
    assert list(dict.fromkeys(files)) == ["test_faults.py", "test_pipeline.py", "test_b.py", "test_c.py", "test_a.py"]

    ran = pytest(folder, "-n", "2", "--dist", "loadgroup")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    workers = dict(line.split() for line in (folder / "workers.log").read_text().splitlines())
    assert len(workers) == 15
    shared = {w for nodeid, w in workers.items() if nodeid.startswith(("test_faults.py", "test_pipeline.py"))}
    assert len(shared) == 1  # night_story's files: one worker, so the lake is built once
    assert set(workers.values()) == {"gw0", "gw1"}  # and the other files went to the other worker too


def test_a_test_of_another_file_cannot_use_a_shared_lake(tmp_path):
    folder = suite(tmp_path, {"test_elsewhere.py": "def test_reads(night_story):\n    pass\n"})
    collected = pytest(folder, "--collect-only", "-q")
    assert collected.returncode != 0
    assert ("test_elsewhere.py::test_reads uses night_story: add test_elsewhere.py to SHARED_LAKES"
            in collected.stdout + collected.stderr)
