"""Fixtures: an isolated PLANTLAKE_HOME, a real S3 server (SeaweedFS), a real Spark session."""

from __future__ import annotations

import os
import uuid

import pytest

from lakehouse.delta import Lake
from lakehouse.settings import Settings
from tests.servers import SeaweedFS

TEST_BUCKET = "plantlake-test"


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
