"""Fixtures: an isolated PLANTLAKE_HOME, a real S3 server (SeaweedFS), a real Spark session, and what several
modules only read, built once per session: the pipeline's story on a tiny lake (``night_story``) and a champion
trained on the simulator's network through the real pipeline (``simulated_champion``).

Markers (pyproject.toml) are applied here where a fixture tells: a test using ``spark`` (or a fixture that does)
is ``spark``, one using the S3 server (``s3``, ``s3_env``, ``lake[s3]``) is ``s3``; modules that start JVMs or
servers in processes of their own say so in their ``pytestmark``. ``make check`` runs what needs none of them.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
import uuid
from pathlib import Path

import pytest
import yaml

from lakehouse.delta import Lake
from lakehouse.settings import Settings, environment
from tests.servers import SeaweedFS

TEST_BUCKET = "plantlake-test"
#: The Spark drivers of the tests (this process's and every ``plantlake run`` it starts) JIT-compile with C1
#: only: a test's JVM lives for minutes on tiny data, where C2's compilations cost more than they win back
#: (a cold ``plantlake run`` of three tiny nights: about 75 s -> 50 s on 2 cores at a load of 5). Results are
#: the same. C1 alone reserves 48 MB for compiled code, which a session's JVM fills within minutes: the JVM then
#: stops compiling and interprets the rest of the session ("CodeCache is full"), so the cache is made larger.
TEST_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
#: Spark SQL interprets its plans on the tests' tiny data instead of generating and compiling Java for each
#: query (whole-stage code generation and generated expression classes): on a few hundred rows the compiling
#: costs more than it saves (a tiny night: about 40 % less CPU). The same operators give the same rows;
#: production keeps code generation, which ``make bench`` measures (docs/testing.md).
TEST_SQL_CONF = "spark.sql.codegen.wholeStage=false;spark.sql.codegen.factoryMode=NO_CODEGEN"
#: Spark's own defaults, code generation on: for a fixture that processes more than a few hundred rows a night
#: (the simulated champion's 120 machines over 105 nights take half as long again when interpreted).
COMPILED_SQL_CONF = "spark.sql.codegen.wholeStage=true;spark.sql.codegen.factoryMode=FALLBACK"


def spark_conf_for_tests(java_options: str = TEST_JAVA_OPTIONS, sql: str = TEST_SQL_CONF) -> str:
    """``PLANTLAKE_SPARK_CONF`` for a test's Spark driver: its Java options, then its SQL settings."""
    return f"spark.driver.extraJavaOptions={java_options};{sql}"


TEST_SPARK_CONF = spark_conf_for_tests()


#: The tests' Spark drivers start from a class archive (lakehouse/class_archive.py: about 7 s of CPU less for
#: each cold driver), kept beside the virtual environment whose jars it archives. When it is not there yet, the
#: run builds it in the background as it starts (about 40 s), and the drivers started after that map it.
CLASS_ARCHIVE = Path(sys.prefix) / "plantlake-spark-classes.jsa"


def pytest_configure(config):
    """Build the class archive in the background, once per virtual environment, for a run that starts Spark."""
    if hasattr(config, "workerinput") or CLASS_ARCHIVE.exists() or "not (spark" in (config.getoption("markexpr")
                                                                                       or ""):
        return
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PLANTLAKE_", "SPARK_REMOTE"))}
    env.update(PLANTLAKE_SPARK_MASTER="local[2]", PLANTLAKE_SPARK_DRIVER_MEMORY="2g",
               PLANTLAKE_HOME=tempfile.mkdtemp(prefix="plantlake-class-archive-"))
    config._class_archive = threading.Thread(target=_build_class_archive, args=(env,), daemon=True)
    config._class_archive.start()


def _build_class_archive(env: dict[str, str]) -> None:
    from lakehouse.class_archive import build

    try:
        build(CLASS_ARCHIVE, env)
    except (RuntimeError, TimeoutError, OSError) as exc:  # the tests run as they would without it
        logging.getLogger(__name__).warning("no Spark class archive for the tests: %s", exc)
    finally:
        shutil.rmtree(env["PLANTLAKE_HOME"], ignore_errors=True)


def pytest_unconfigure(config):
    """A short run waits for the archive it started (the next runs find it) rather than leave a JVM writing."""
    building = getattr(config, "_class_archive", None)
    if building is not None:
        building.join(timeout=600)


#: Session fixtures that build a lake (minutes): the files whose tests use one form one unit of work for the
#: xdist workers (``make test``), so each is built once. Collection fails if a test of another file uses one.
SHARED_LAKES = {
    "night_story": ("test_pipeline.py", "test_bench_reference.py", "test_faults.py"),
    "simulated_champion": ("test_ml_quality.py", "test_soak.py", "test_outcomes_simulator.py"),
}


def pytest_collection_modifyitems(config, items):
    """``spark`` for tests that use the Spark session, ``s3`` for tests that use the S3 server; then the
    order the workers take them in: the shared lakes' files first, then the files with slow tests, then
    those that start servers or a cluster (the longest units start first, so no worker is left with one
    at the end)."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "spark" in names:
            item.add_marker(pytest.mark.spark)
        if names & {"s3", "s3_env"} or params.get("lake") == "s3":
            item.add_marker(pytest.mark.s3)
        for fixture, files in SHARED_LAKES.items():
            if fixture in names and item.path.name not in files:
                raise pytest.UsageError(f"{item.nodeid} uses {fixture}: add {item.path.name} to SHARED_LAKES")
    shared = {name for files in SHARED_LAKES.values() for name in files}
    rank: dict[str, int] = {}  # a file's place: its heaviest test's
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        place = 0 if item.path.name in shared else 1 if "slow" in marks else 2 if marks & {"server", "cluster"} else 3
        rank[item.path.name] = min(place, rank.get(item.path.name, 3))
    items.sort(key=lambda item: rank[item.path.name])


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` (``make test``): whole files to each worker, as ``loadfile``, except that the files
    sharing a lake (:data:`SHARED_LAKES`) go to one worker together, in the order collected. (xdist's own
    loadgroup needs ``xdist_group`` marks, which it applies by rewriting node ids in a way pytest 9 ignores.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    unit = {name: fixture for fixture, files in SHARED_LAKES.items() for name in files}

    class SharedLakeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return unit.get(path.rsplit("/", 1)[-1], path)

    config.option.loadscopereorder = False  # keep the collection's order: the longest units first
    return SharedLakeScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _isolated_env(tmp_path_factory):
    """Every test runs against its own PLANTLAKE_HOME, never the user's, with telemetry off."""
    home = tmp_path_factory.mktemp("plantlake-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("AWS_", "PLANTLAKE_", "SPARK_REMOTE", "MLFLOW_")):
                mp.delenv(name)
        mp.setenv("PLANTLAKE_HOME", str(home))
        mp.setenv("PLANTLAKE_SPARK_UI", "false")
        mp.setenv("PLANTLAKE_SPARK_DRIVER_MEMORY", "2g")
        mp.setenv("PLANTLAKE_SPARK_MASTER", "local[2]")
        mp.setenv("PLANTLAKE_SPARK_CONF", TEST_SPARK_CONF)
        mp.setenv("PLANTLAKE_SPARK_CLASS_ARCHIVE", str(CLASS_ARCHIVE))
        yield home


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """A real S3 server: SeaweedFS `weed mini` on 127.0.0.1 with credentials, stopped by PID."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        server.create_bucket(TEST_BUCKET)
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3, monkeypatch):
    """Point this test's process environment (and its subprocesses) at the test S3 server."""
    for key, value in s3.env.items():
        monkeypatch.setenv(key, value)
    return s3


def maven_reachable() -> bool:
    """Whether Maven Central answers: spark.jars.packages (delta-spark, hadoop-aws) downloads from it."""
    try:
        socket.create_connection(("repo1.maven.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def jars_named(fragment: str) -> list[str]:
    """Jars of PLANTLAKE_SPARK_JARS and of Ivy's cache (spark.jars.packages' downloads) whose name has ``fragment``."""
    listed = [p for p in (Settings.from_env().spark_jars or "").split(",") if fragment in Path(p).name]
    cached = [str(p) for p in (Path.home() / ".ivy2.5.2" / "jars").glob(f"*{fragment}*.jar")]
    return listed + cached


#: Why a test needing io.delta:delta-spark skips here.
NO_DELTA_SPARK = ("delta-spark jars are not available: Maven (repo1.maven.org), the only source of "
                  "io.delta:delta-spark, is unreachable from this machine and Ivy's cache has none")


def skip_without_delta_spark() -> None:
    """Skip the test, naming what is missing, unless spark.jars.packages can fetch delta-spark or a jar is here."""
    if not maven_reachable() and not jars_named("delta-spark"):
        pytest.skip(NO_DELTA_SPARK)


@pytest.fixture
def installed_mappings(tmp_path, monkeypatch):
    """Install mappings for this test: ``install(mapping, ...)`` writes each (a dict of the mapping language) as
    ``<name>.yaml`` into the folder PLANTLAKE_MAPPINGS_DIR names, found by name until the test ends."""
    from sources import mapping

    folder = tmp_path / "mappings"
    folder.mkdir()
    monkeypatch.setenv("PLANTLAKE_MAPPINGS_DIR", str(folder))

    def install(*declared: dict) -> Path:
        for one in declared:
            (folder / f"{one['name']}.yaml").write_text(yaml.safe_dump(one))
        mapping._by_name.cache_clear()
        return folder

    yield install
    mapping._by_name.cache_clear()


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path):
    """An empty lake on local disk and, as a second run of the test, on the real S3 server."""
    if request.param == "local":
        return Lake(str(tmp_path / "lake"), Settings.from_env())
    server = request.getfixturevalue("s3")
    settings = Settings.from_env({**os.environ, **server.env})
    return Lake(f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/lake", settings)


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test run (a JVM takes seconds to start)."""
    from lakehouse.spark import session

    spark = session(Settings.from_env())
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def night_story(tmp_path_factory, spark):
    """The pipeline's story on a tiny network (tests/pipeline.py), told once: tests that only read its lake
    share it; a test that writes to it works on a copy (a local lake folder copies in a moment)."""
    from tests.pipeline import tell_story

    return tell_story(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="session")
def simulated_champion(tmp_path_factory, spark) -> dict[str, str]:
    """Both models trained on the simulator's network through the real pipeline, once: the 105 nights of
    tests/mlnetwork.py landed and processed as one backfill, then the weekly retrain job
    (``bench.soak.train_champion``), with Spark's code generation on (:data:`COMPILED_SQL_CONF`). The MLflow
    environment of its store; the quality floor reads its champions' metrics, the soak scores with them."""
    from bench.soak import train_champion
    from tests import mlnetwork

    home = tmp_path_factory.mktemp("simulated-champion")
    with environment({"PLANTLAKE_SPARK_CONF": spark_conf_for_tests(sql=COMPILED_SQL_CONF)}):
        return train_champion(home, mlnetwork.simulation(home))
