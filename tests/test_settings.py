"""Settings come from the environment, with defaults that need no server."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from lakehouse import storage
from lakehouse.settings import (
    HOME_FILE,
    Settings,
    environment,
    get_settings,
    mlflow_environment,
    plantlake_home,
    secret_values,
    write_home_file,
)
from lakehouse.spark import base_config


def test_defaults_need_no_server(tmp_path):
    s = Settings.from_env({"PLANTLAKE_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert s.lake_uri == str(tmp_path / "lake")
    assert s.landing_uri == str(tmp_path / "landing")
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert s.spark_master == "local[*]" and s.spark_remote is None
    assert storage.delta_storage_options(s.lake_uri, s) is None


def test_a_home_for_a_block_overrides_inherited_uris_and_restores_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANTLAKE_LAKE_URI", "s3://elsewhere/lake")
    monkeypatch.delenv("PLANTLAKE_LANDING_URI", raising=False)
    with plantlake_home(tmp_path / "home"):
        inside = get_settings()
    assert inside.lake_uri == str(tmp_path / "home" / "lake")
    assert inside.landing_uri == str(tmp_path / "home" / "landing")
    after = get_settings()
    assert after.lake_uri == "s3://elsewhere/lake"
    assert "PLANTLAKE_LANDING_URI" not in os.environ


def test_another_homes_mlflow_store_for_a_block(monkeypatch, tmp_path):
    """A lake under one home, models from another's store (the soak's shared champion)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with environment(mlflow_environment(tmp_path / "models")), plantlake_home(tmp_path / "home"):
        inside = get_settings()
    assert inside.lake_uri == str(tmp_path / "home" / "lake")
    assert inside.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'models' / 'mlflow.db'}"
    assert inside.mlflow_artifacts_uri.endswith("models/mlartifacts")
    assert "MLFLOW_TRACKING_URI" not in os.environ


def test_home_defaults_to_dot_plantlake_in_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({}).home == tmp_path / ".plantlake"


def test_every_setting_from_the_environment(tmp_path):
    env = {
        "PLANTLAKE_HOME": str(tmp_path),
        "PLANTLAKE_LAKE_URI": "s3a://lake-bucket/prod/",
        "PLANTLAKE_LANDING_URI": "file:///data/landing",
        "PLANTLAKE_SPARK_MASTER": "spark://10.0.0.5:7077",
        "SPARK_REMOTE": "sc://spark-connect:15002",
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "very-secret",
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_ENDPOINT_URL": "http://minio:9000",
    }
    s = Settings.from_env(env)
    assert s.lake_uri == "s3://lake-bucket/prod"
    assert s.landing_uri == "/data/landing"
    assert s.spark_master == "spark://10.0.0.5:7077"
    assert s.spark_remote == "sc://spark-connect:15002"
    assert s.mlflow_tracking_uri == "http://mlflow:5000"
    assert s.s3.region == "eu-central-1"
    options = storage.delta_storage_options(s.lake_uri, s)
    assert options == {
        "AWS_REGION": "eu-central-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "very-secret",
        "AWS_ENDPOINT_URL": "http://minio:9000",
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        "AWS_ALLOW_HTTP": "true",
        "max_retries": "5",
        "retry_timeout": "60s",
    }
    assert secret_values(env) == ["very-secret"]


def test_secrets_are_never_shown(tmp_path):
    s = Settings.from_env(
        {"PLANTLAKE_HOME": str(tmp_path), "AWS_SECRET_ACCESS_KEY": "very-secret", "AWS_SESSION_TOKEN": "token-value"}
    )
    assert "very-secret" not in repr(s) and "token-value" not in repr(s)
    shown = s.describe()
    assert shown["s3.secret_access_key"] == "***"
    assert "very-secret" not in " ".join(shown.values())


def test_spark_conf_entries_win_over_plantlake_s_own_and_their_secrets_are_masked(tmp_path):
    s = Settings.from_env({
        "PLANTLAKE_HOME": str(tmp_path),
        "PLANTLAKE_SPARK_CONF": "spark.sql.shuffle.partitions=400; spark.executor.memory = 8g\n"
                                "spark.driver.extraJavaOptions=-XX:+UseG1GC -Dx=1;spark.hadoop.fs.s3a.secret.key=hush",
    })
    conf = base_config(s)
    assert conf["spark.sql.shuffle.partitions"] == "400"  # plantlake's own default is 2 per core
    assert conf["spark.executor.memory"] == "8g"
    assert conf["spark.driver.extraJavaOptions"] == "-XX:+UseG1GC -Dx=1"
    assert "hush" not in " ".join(s.describe().values()) and "hush" not in repr(s.describe())
    assert "hush" in secret_values({"PLANTLAKE_SPARK_CONF": "spark.hadoop.fs.s3a.secret.key=hush"})


def test_a_malformed_spark_setting_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match="'executor.memory 8g' is not a 'spark.<property>=<value>' entry"):
        Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), "PLANTLAKE_SPARK_CONF": "executor.memory 8g"})
    with pytest.raises(ValueError, match=r"'spark.hadoop.fs.s3a.secret.key \*\*\*' is not") as refused:
        Settings.from_env({"PLANTLAKE_HOME": str(tmp_path),
                           "PLANTLAKE_SPARK_CONF": "spark.hadoop.fs.s3a.secret.key hush"})
    assert "hush" not in str(refused.value)  # the message would reach stderr and the logs
    with pytest.raises(ValueError, match=r"'spark.hadoop.fs.s3a.secret.key \*\*\*' is not") as refused:
        Settings.from_env({"PLANTLAKE_HOME": str(tmp_path),
                           "PLANTLAKE_SPARK_CONF": "spark.hadoop.fs.s3a.secret.key:hush"})
    assert "hush" not in str(refused.value)
    with pytest.raises(ValueError, match="PLANTLAKE_SPARK_CORES must be a whole number, got 'two'"):
        Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), "PLANTLAKE_SPARK_CORES": "two"})
    assert Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), "PLANTLAKE_SPARK_CORES": " 8 "}).spark_cores == 8


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PLANTLAKE_SPARK_UI", "flase", "PLANTLAKE_SPARK_UI must be true or false (1/0, yes/no, on/off), got 'flase'"),
        ("PLANTLAKE_SPARK_DELTA", "enabled", "PLANTLAKE_SPARK_DELTA must be true or false"),
        ("PLANTLAKE_SPARK_DRIVER_MEMORY", "4 GB", "PLANTLAKE_SPARK_DRIVER_MEMORY must be a memory size such as 512m "
                                                  "or 4g, got '4 GB'"),
        ("PLANTLAKE_SPARK_DRIVER_MEMORY", "0g", "PLANTLAKE_SPARK_DRIVER_MEMORY must be a memory size"),
        ("PLANTLAKE_SPARK_DRIVER_MEMORY", "4gib", "PLANTLAKE_SPARK_DRIVER_MEMORY must be a memory size"),
    ],
)
def test_a_misspelt_switch_or_memory_size_is_refused_by_name(tmp_path, variable, value, message):
    """A misspelt switch would otherwise read as off, and a bad memory size fail only when the JVM starts."""
    with pytest.raises(ValueError) as refused:
        Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), variable: value})
    assert str(refused.value).startswith(message)


def test_switches_and_memory_sizes_in_every_spelling_spark_reads(tmp_path):
    def read(**env):
        return Settings.from_env({"PLANTLAKE_HOME": str(tmp_path), **env})

    assert [read(PLANTLAKE_SPARK_UI=v).spark_ui for v in ("0", "false", "No", " OFF ", "")] == [False] * 4 + [True]
    assert [read(PLANTLAKE_SPARK_S3A=v).spark_s3a for v in ("1", "TRUE", "yes", "on", "")] == [True] * 4 + [False]
    assert [read(PLANTLAKE_SPARK_DRIVER_MEMORY=v).spark_driver_memory for v in ("512m", "2G", "2048", "1gb", "")] \
        == ["512m", "2G", "2048", "1gb", "4g"]


def test_model_numbers_are_checked_by_name():
    assert Settings.from_env({"PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S": "0"}).ml.webhook_backoff_s == 0.0
    assert Settings.from_env({"PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S": "2.5"}).ml.webhook_timeout_s == 2.5
    for value, message in [("fast", "must be a number, got 'fast'"), ("-1", "must be at least 0.0, got -1.0"),
                           ("nan", "must be at least 0.0, got nan")]:
        with pytest.raises(ValueError, match=f"PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S {message}"):
            Settings.from_env({"PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S": value})
    with pytest.raises(ValueError, match="PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S must be at least 0.1, got 0.0"):
        Settings.from_env({"PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S": "0"})


def test_storage_uris(tmp_path):
    assert storage.join("s3://b/p/", "gold", "/oee_daily") == "s3://b/p/gold/oee_daily"
    storage.write_bytes(str(tmp_path / "a" / "b.txt"), b"hello")
    assert storage.read_bytes(str(tmp_path / "a" / "b.txt")) == b"hello"
    assert storage.list_files(str(tmp_path)) == [str(Path(tmp_path) / "a" / "b.txt")]
    assert not list((tmp_path / "a").glob(".*.tmp"))


def test_storage_on_s3(s3):
    settings = Settings.from_env(s3.env)
    uri = "s3://plantlake-test/storage-test/x/file.bin"
    storage.write_bytes(uri, b"\x00\x01", settings)
    assert storage.exists(uri, settings)
    assert storage.read_bytes(uri, settings) == b"\x00\x01"
    assert storage.list_files("s3://plantlake-test/storage-test", settings) == [uri]
    storage.delete_dir("s3://plantlake-test/storage-test", settings)
    assert not storage.exists(uri, settings)


def test_the_home_s_settings_file_fills_in_beneath_the_environment(monkeypatch, tmp_path):
    """``$PLANTLAKE_HOME/plantlake.env`` (what ``plantlake demo`` writes) is read by every later process; a
    variable set in the environment wins, and a change to the file is seen by the next ``get_settings()``."""
    monkeypatch.setenv("PLANTLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("PLANTLAKE_FIRST_DATE", raising=False)
    monkeypatch.delenv("PLANTLAKE_NIGHTLY_HOUR", raising=False)
    assert get_settings().orchestration.first_date == dt.date(2025, 1, 1)  # no file: the defaults
    write_home_file(tmp_path, {"PLANTLAKE_FIRST_DATE": "2026-11-20"})
    (tmp_path / HOME_FILE).write_text("# written by hand\n\nPLANTLAKE_NIGHTLY_HOUR = '4'\n"
                                      + (tmp_path / HOME_FILE).read_text())
    assert get_settings().orchestration.first_date == dt.date(2026, 11, 20)
    assert get_settings().orchestration.nightly_hour == 4
    write_home_file(tmp_path, {"PLANTLAKE_FIRST_DATE": "2026-10-01"})  # the other lines are kept
    assert "# written by hand" in (tmp_path / HOME_FILE).read_text()
    assert get_settings().orchestration.first_date == dt.date(2026, 10, 1)
    monkeypatch.setenv("PLANTLAKE_FIRST_DATE", "2024-06-01")
    assert get_settings().orchestration.first_date == dt.date(2024, 6, 1)
    assert Settings.from_env({"PLANTLAKE_HOME": str(tmp_path)}).orchestration.first_date == dt.date(2025, 1, 1)


@pytest.mark.parametrize(("line", "message"), [
    ("PLANTLAKE_FIRST_DATE 2026-11-20", "line 2: is not a NAME=value line"),
    ("PLANTLAKE_FRIST_DATE=2026-11-20", "line 2: PLANTLAKE_FRIST_DATE is not a plantlake variable"),
    ("AWS_SECRET_ACCESS_KEY=abc", "line 2: AWS_SECRET_ACCESS_KEY is a secret"),
    ("PLANTLAKE_HOME=/elsewhere", "line 2: PLANTLAKE_HOME cannot be set"),
    ("PLANTLAKE_FIRST_DATE=20-11-2026", "PLANTLAKE_FIRST_DATE must be a date"),
])
def test_a_malformed_settings_file_names_the_file_and_line(monkeypatch, tmp_path, line, message):
    monkeypatch.setenv("PLANTLAKE_HOME", str(tmp_path))
    monkeypatch.delenv("PLANTLAKE_FIRST_DATE", raising=False)
    (tmp_path / HOME_FILE).write_text(f"PLANTLAKE_NIGHTLY_HOUR=5\n{line}\n")
    with pytest.raises(ValueError, match="plantlake.env") as error:
        Settings.from_env()
    assert message in str(error.value) and "abc" not in str(error.value)
