"""Publishing lake tables to the AWS Glue Data Catalog (``plantlake publish``).

AWS Glue cannot run here, so Glue is moto's in-process mock (the only mocked service in the
suite); the lake is real, on the real local S3 server (SeaweedFS), and each test checks that
the location Glue was given opens as that Delta table.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid

import pytest
from deltalake import DeltaTable
from moto import mock_aws
from typer.testing import CliRunner

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.glue import COMMENT_LIMIT, HIVE_TYPES, CatalogError, glue_client, publish, table_input
from lakehouse.settings import Settings
from orchestration.cli import app
from tests.conftest import TEST_BUCKET
from tests.lakedata import READINGS, START, readings

MISSING = dataclasses.replace(READINGS, name="silver.test_never_written")


@pytest.fixture
def glue():
    """moto's Glue, leaving the real S3 server's credentials in the environment alone."""
    with mock_aws(config={"core": {"mock_credentials": False}}):
        yield glue_client(Settings.from_env())


@pytest.fixture
def s3_lake(s3_env):
    lake = Lake(f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/lake", Settings.from_env())
    lake.append(READINGS, readings(START, ["DE01", "US01"]))
    return lake


def test_every_catalog_table_has_a_glue_entry_within_glue_limits():
    for spec in catalog.tables():
        entry = table_input(spec, f"s3://bucket/lake/{spec.path}")
        columns = entry["StorageDescriptor"]["Columns"]
        assert [c["Name"] for c in columns] == spec.column_names, spec.name
        assert all(c["Type"] == HIVE_TYPES[spec.column(c["Name"]).type] for c in columns)
        assert all(0 < len(c["Comment"]) <= COMMENT_LIMIT for c in columns), spec.name
        assert entry["Parameters"]["table_type"] == "DELTA"
        assert "PartitionKeys" not in entry  # partitions live in the Delta log, never as stale Hive partitions


def test_publish_registers_each_table_once_then_only_what_changed(s3_lake, glue):
    done = publish(s3_lake, [READINGS, MISSING], glue, "plantlake")
    assert (done.created, done.updated, done.missing) == (["silver.test_readings"], [], ["silver.test_never_written"])
    assert done.databases == ["plantlake_silver"]

    stored = glue.get_table(DatabaseName="plantlake_silver", Name="test_readings")["Table"]
    location = stored["StorageDescriptor"]["Location"]
    assert location == s3_lake.uri(READINGS) and location.startswith(f"s3://{TEST_BUCKET}/")
    assert stored["Parameters"]["table_type"] == "DELTA"
    assert stored["Parameters"]["plantlake.partition_by"] == "date"
    assert [(c["Name"], c["Type"]) for c in stored["StorageDescriptor"]["Columns"]] == [
        ("date", "date"), ("plant_id", "string"), ("machine_id", "string"), ("ts", "timestamp"),
        ("value", "double"), ("count", "bigint")]
    assert stored["StorageDescriptor"]["Columns"][4]["Comment"] == "Reading [mm/s]"
    assert not stored.get("PartitionKeys")
    # The location Glue hands to Athena is the Delta table itself, with every row written.
    assert DeltaTable(location, storage_options=s3_lake.storage_options).count() == 24
    assert not glue.get_tables(DatabaseName="plantlake_silver")["TableList"][1:]  # the missing table is not there

    again = publish(s3_lake, [READINGS, MISSING], glue, "plantlake")
    assert (again.created, again.updated, again.unchanged, again.databases) == ([], [], ["silver.test_readings"], [])

    renamed = dataclasses.replace(READINGS, description="Readings, described anew after an upgrade.")
    changed = publish(s3_lake, [renamed], glue, "plantlake")
    assert changed.updated == ["silver.test_readings"]
    assert glue.get_table(DatabaseName="plantlake_silver", Name="test_readings")["Table"]["Description"] == (
        "Readings, described anew after an upgrade.")


def test_a_lake_on_local_disk_is_refused(tmp_path, glue):
    lake = Lake(str(tmp_path / "lake"), Settings.from_env())
    with pytest.raises(CatalogError, match=r"Glue tables point at S3: the lake is at .*PLANTLAKE_LAKE_URI=s3://"):
        publish(lake, [READINGS], glue, "plantlake")


def test_an_unreachable_glue_endpoint_is_one_clear_error(s3_lake, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_GLUE", f"http://127.0.0.1:{port}")
    with pytest.raises(CatalogError, match=rf"Glue in us-east-1 \(http://127.0.0.1:{port}\) could not be used"):
        publish(s3_lake, [READINGS], glue_client(Settings.from_env()), "plantlake")


def test_plantlake_publish_on_the_command_line(s3_lake, glue, monkeypatch):
    monkeypatch.setenv("PLANTLAKE_LAKE_URI", s3_lake.root)
    monkeypatch.setenv("PLANTLAKE_GLUE_DATABASE_PREFIX", "plant_bi")
    runner = CliRunner()
    # The CLI publishes the catalog's tables of a layer: none of silver exists in this lake yet.
    result = runner.invoke(app, ["publish", "--layer", "silver"])
    assert result.exit_code == 0, result.output
    assert result.output.count("not in the lake yet") == len(catalog.tables("silver"))
    assert glue.get_databases()["DatabaseList"] == []

    result = runner.invoke(app, ["publish", "--layer", "nowhere"])
    assert result.exit_code == 2 and "unknown layer nowhere" in result.output

    monkeypatch.setenv("PLANTLAKE_GLUE_DATABASE_PREFIX", "Plant-BI")
    result = runner.invoke(app, ["publish"])
    assert result.exit_code == 2
    assert "PLANTLAKE_GLUE_DATABASE_PREFIX must be lower-case letters" in result.output
    assert os.environ["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1")  # the S3 endpoint, which Glue ignored
