"""Faults, proven with real processes: a night killed mid-write, a store that goes away, concurrent runs.

Every run that is killed, cut off or raced here is ``plantlake run`` in its own process (and its
own Spark JVM), killed or raced the way a machine would fail. What must hold afterwards: every
table is at a committed version (no partial slice is visible), the rerun completes, the drops
reconcile exactly, and the tables equal those of one clean run.

The clean run is the session's pipeline story (``night_story``: the same tiny network and nights,
every night landed again at its end; its re-run gives the tables of its first run); the gold step
is killed, and the racing runs race, in runs of its last night again, on copies of its home. The
runs that only prepare a lake for a fault, or complete it afterwards, run in this process
(``run_nights`` with an in-memory Dagster instance): a process of their own would prove nothing
more and start one more JVM each. The rerun after the store came back is the exception: it is the night on S3
at DEBUG with every secret set whose output, Dagster records and tables are searched for the
secrets (it was tests/test_security.py's own night).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest

from lakehouse.delta import Lake
from lakehouse.errors import StorageError
from lakehouse.processes import wait_for_group
from lakehouse.settings import Settings, home_environment, plantlake_home
from lakehouse.snapshot import contents, differences
from orchestration.runs import configured, failures, run_nights
from sources.landing import list_complete
from tests.conftest import TEST_JAVA_OPTIONS, spark_conf_for_tests
from tests.pipeline import NIGHTS, PLANT_NIGHT_READINGS, START, file_digest, tiny_network
from tests.servers import SeaweedFS, venv_command

pytestmark = [pytest.mark.spark, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
D1, LAST = START, START + dt.timedelta(days=NIGHTS - 1)
NIGHTS_ARGS = ["--date", str(D1), "--to", str(LAST)]
TWO_NIGHTS = ["--date", str(D1), "--to", str(D1 + dt.timedelta(days=1))]
WEBHOOK_SECRET = "whk-secret-4f9e2c81d7"
#: The landing's buffer of one drop's telemetry: it commits after every drop.
ONE_DROP = str(PLANT_NIGHT_READINGS)


def run_env(home: Path, name: str, **extra: str) -> dict[str, str]:
    """The environment of one ``plantlake run`` process: its own Dagster instance, configured as ``plantlake run``
    configures a new one (telemetry off, its batching event log), and Spark scratch space (``SPARK_LOCAL_DIRS`` and
    the JVM's temporary folder: a killed JVM leaves its folders behind), small buffers."""
    configured(home / f"dagster-{name}")
    scratch(home).mkdir(exist_ok=True)
    return {
        **os.environ,
        **home_environment(home),
        "DAGSTER_HOME": str(home / f"dagster-{name}"),
        "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g",
        "PLANTLAKE_LOG_LEVEL": "WARNING",
        "SPARK_LOCAL_DIRS": str(scratch(home)),
        "PLANTLAKE_SPARK_CONF": spark_conf_for_tests(f"-Djava.io.tmpdir={scratch(home)} {TEST_JAVA_OPTIONS}"),
        **extra,
    }


def scratch(home: Path) -> Path:
    return home / "spark-scratch"


def start(args: list[str], env: dict[str, str], log: Path, options: tuple[str, ...] = ()) -> subprocess.Popen:
    with log.open("wb") as sink:
        return subprocess.Popen([venv_command("plantlake"), *options, "run", *args], cwd=ROOT, env=env,
                                stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def finish(proc: subprocess.Popen, log: Path, timeout: float = 900) -> int:
    try:
        return proc.wait(timeout)
    finally:
        wait_for_group(proc.pid, 30)  # the JVM deletes its scratch as it exits
        kill(proc)
        if proc.returncode not in (0, None, -signal.SIGKILL):
            print(log.read_text()[-4000:])


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the run and everything it started (its Spark JVM): a machine that dies."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(30)


def wait_until(condition, proc: subprocess.Popen, timeout: float = 300, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the run ended before the moment it was to be killed at"
        assert time.monotonic() < deadline, "the moment to kill the run never came"
        time.sleep(every)


def run_here(home: Path, start_night: dt.date, end: dt.date | None = None, *, reland: bool = False) -> None:
    """The nights under ``home`` in this process (its warm Spark session, an in-memory Dagster instance)."""
    with plantlake_home(home):
        result = run_nights(start_night, end, reland=reland, dagster_instance=dg.DagsterInstance.ephemeral(),
                            log_level="WARNING")
    assert result.success, failures(result)


def manifest_rows(landing: Path, feed: str) -> dict[tuple[dt.date, str], int]:
    """Rows each drop announces for ``feed``, by (date, plant)."""
    rows = {}
    for drop in list_complete(str(landing)):
        for f in drop.manifest.files:
            if f.feed == feed:
                rows[(drop.ref.date, drop.ref.source)] = f.rows
    return rows


def assert_slices_complete(lake: Lake, landing: Path) -> None:
    """Every (date, plant) slice of bronze.telemetry holds all of its drop's rows or none: nothing partial."""
    expected = manifest_rows(landing, "telemetry")
    telemetry = lake.read("bronze.telemetry", columns=["date", "plant_id"], missing_ok=True)
    counts = telemetry.group_by(["date", "plant_id"]).aggregate([([], "count_all")]).to_pylist()
    for row in counts:
        assert row["count_all"] == expected[(row["date"], row["plant_id"])], row


def assert_reconciled(lake: Lake) -> None:
    drops = lake.read("ops.landed_drops").to_pylist()
    assert drops and {d["status"] for d in drops} == {"landed"}
    assert all(d["manifest_rows"] == d["bronze_rows"] + d["quarantined_rows"] for d in drops)
    # the lake itself, counted back: no duplicated slice
    assert_slices_complete(lake, Path(lake.settings.landing_uri))


@pytest.fixture(scope="module")
def reference(night_story) -> dict:
    """The tables of one clean run of the nights: what every faulty history must end at."""
    assert night_story.config.days == NIGHTS and night_story.config.start == D1
    assert differences(night_story.contents_after_rerun, night_story.contents_before_rerun) == []
    return night_story.contents_after_rerun


def test_landing_killed_mid_write_then_rerun(tmp_path, reference):
    with plantlake_home(tmp_path):
        tiny_network(tmp_path / "landing", days=NIGHTS)
        lake = Lake()
    env = run_env(tmp_path, "a", PLANTLAKE_LANDING_BUFFER_ROWS=ONE_DROP)  # a commit per drop: many moments to die
    proc = start(NIGHTS_ARGS, env, tmp_path / "a.log")
    wait_until(lambda: (lake.version("bronze.telemetry") or 0) >= 1, proc, every=0.01)  # its first drop's rows
    kill(proc)

    with plantlake_home(tmp_path):
        assert lake.count("ops.landed_drops") == 0  # outcomes are recorded only after every write committed
        assert_slices_complete(lake, tmp_path / "landing")
        assert lake.count("bronze.telemetry") > 0
        assert lake.count("bronze.telemetry") < sum(manifest_rows(tmp_path / "landing", "telemetry").values()), \
            "every drop had landed before the kill: kill it sooner"
    run_here(tmp_path, D1, LAST)  # the rerun
    with plantlake_home(tmp_path):
        assert_reconciled(lake)
        assert differences(contents(lake), reference) == []


def test_gold_step_killed_mid_write_then_rerun(tmp_path, night_story, reference):
    """On a copy of the clean run's home, the last night run again (``--reland``) is killed inside its Spark gold
    step: the table keeps its version and the night's slice its files; the rerun gives the clean run's tables."""
    shutil.copytree(night_story.home, tmp_path, dirs_exist_ok=True)
    with plantlake_home(tmp_path):
        lake = Lake()
        gold_before = lake.version("gold.machine_daily")
        rows_before = lake.count("gold.machine_daily")
        slice_before = file_digest(lake, "gold.machine_daily", [("date", "=", LAST)])
    assert slice_before
    env = run_env(tmp_path, "b")
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    instance.get_run_records(limit=1)  # the instance's storage exists before the run opens it

    def gold(event_type: dg.DagsterEventType) -> bool:
        for record in instance.get_run_records(limit=1):
            if any(e.step_key == "gold_machine_daily" for e in instance.all_logs(record.dagster_run.run_id,
                                                                                 of_type=event_type)):
                return True
        return False

    proc = start(["--date", str(LAST), "--reland"], env, tmp_path / "b.log")
    wait_until(lambda: gold(dg.DagsterEventType.STEP_START), proc)
    time.sleep(0.5)  # into its Spark work (the step takes about 2 s on a quiet machine, longer under load)
    kill(proc)
    assert not gold(dg.DagsterEventType.STEP_SUCCESS), "the step ended before the kill: kill it sooner"
    assert lake.version("gold.machine_daily") == gold_before  # the killed step committed nothing
    assert lake.count("gold.machine_daily") == rows_before
    assert file_digest(lake, "gold.machine_daily", [("date", "=", LAST)]) == slice_before  # nothing partial
    run_here(tmp_path, LAST, reland=True)  # the rerun
    with plantlake_home(tmp_path):
        assert_reconciled(lake)
        assert differences(contents(lake), reference) == []


def test_concurrent_runs_give_the_tables_of_one_run(tmp_path, night_story, reference):
    """Three ``plantlake run`` processes race over the last night again (``--reland``) on a copy of the clean run's
    home: the whole network, and each plant alone. The whole run and each plant's run replace the same slices at
    once; the two plants' runs replace two plants of one night at once. The tables are those of one run.
    (Processes racing to create a table: tests/test_delta_io.py.)"""
    shutil.copytree(night_story.home, tmp_path, dirs_exist_ok=True)
    with plantlake_home(tmp_path):
        lake = Lake()
        before = {name: lake.version(name) for name in ("bronze.telemetry", "gold.machine_daily")}
    one_night = ["--date", str(LAST), "--reland"]
    args = [one_night] + [one_night + [f"--plants={plant}"] for plant in night_story.plants]
    procs = [start(a, run_env(tmp_path, f"p{i}"), tmp_path / f"p{i}.log") for i, a in enumerate(args)]
    codes = [finish(p, tmp_path / f"p{i}.log") for i, p in enumerate(procs)]
    assert codes == [0, 0, 0]
    assert not list(scratch(tmp_path).iterdir()), "a run that ends leaves no Spark scratch space behind"
    with plantlake_home(tmp_path):
        for name, version in before.items():  # each of the three runs replaced its slices: a commit each at least
            assert lake.version(name) >= version + 3, name
        assert_reconciled(lake)
        assert differences(contents(lake), reference) == []


def test_the_store_going_away_fails_the_night_clearly_and_the_rerun_completes_without_a_secret(tmp_path):
    """The store is killed mid-landing: the run fails within bounded retries, naming the store, and leaves no
    partial slice. The store comes back and ``plantlake --verbose run`` completes the nights at DEBUG with a
    webhook secret set: neither its output nor its Dagster records (run config, tags, every event) nor the
    lake's tables hold a secret (what tests/test_security.py's night on S3 asserted)."""
    store = SeaweedFS(tmp_path / "store").start()
    try:
        store.create_bucket("faults")
        landing = tmp_path / "landing"
        with plantlake_home(tmp_path):
            tiny_network(landing, days=2)  # two nights: what a night on S3 does, with a moment to die in
        env = run_env(tmp_path, "a", **store.env, PLANTLAKE_LAKE_URI="s3://faults/lake",
                      PLANTLAKE_LANDING_BUFFER_ROWS=ONE_DROP)
        lake = Lake("s3://faults/lake", Settings.from_env(env))
        proc = start(TWO_NIGHTS, env, tmp_path / "a.log")
        wait_until(lambda: (lake.version("bronze.telemetry") or 0) >= 1, proc, every=0.2)
        store.kill()
        started = time.monotonic()
        assert finish(proc, tmp_path / "a.log") != 0
        assert time.monotonic() - started < 240  # bounded retries, not a hang
        log = (tmp_path / "a.log").read_text()
        assert f"the store at {store.endpoint}" in log and "did not answer" in log
        assert store.secret_key not in log
        assert not list(scratch(tmp_path).iterdir()), "a failed run leaves no Spark scratch space behind"
        with pytest.raises(StorageError, match="did not answer"):
            lake.count("bronze.telemetry")

        store.start()  # the store is back, with its data
        assert_slices_complete(lake, landing)
        env = run_env(tmp_path, "b", **store.env, PLANTLAKE_LAKE_URI="s3://faults/lake",
                      PLANTLAKE_LOG_LEVEL="DEBUG", PLANTLAKE_ALERT_WEBHOOK_TOKEN=WEBHOOK_SECRET)
        assert finish(start(TWO_NIGHTS, env, tmp_path / "b.log", ("--verbose",)), tmp_path / "b.log") == 0
        assert_reconciled(lake)
        assert_no_secret(env, tmp_path / "b.log", lake, [store.secret_key, WEBHOOK_SECRET])
    finally:
        store.stop()


def assert_no_secret(env: dict[str, str], log: Path, lake: Lake, secrets: list[str]) -> None:
    output = log.read_text()
    assert "DEBUG" in output  # the logs really were at their most talkative
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    records = instance.get_run_records()
    assert records
    recorded = []
    for record in records:
        recorded.append(repr(record.dagster_run.run_config) + repr(record.dagster_run.tags))
        recorded += [repr(entry) for entry in instance.all_logs(record.dagster_run.run_id)]
    tables = [repr(lake.read(name).to_pylist()) for name in ("ops.landed_drops", "bronze.quarantine")]
    for secret in secrets:
        assert secret not in output
        assert not any(secret in text for text in recorded)
        assert not any(secret in text for text in tables)


def test_wrong_credentials_name_the_endpoint_and_the_problem(s3):
    settings = Settings.from_env({**s3.env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    with pytest.raises(StorageError) as err:
        Lake("s3://plantlake-test/creds/lake", settings).read("ops.table_maintenance")
    assert f"the store at {s3.endpoint}" in str(err.value)
    assert "refused the credentials" in str(err.value)
    assert "not-the-secret" not in str(err.value)
    with pytest.raises(StorageError, match="refused the credentials"):
        list_complete("s3://plantlake-test/creds/landing", settings=settings)
