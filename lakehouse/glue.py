"""Publishing lake tables to the AWS Glue Data Catalog, so that Athena and the BI tools behind it find them.

A Glue entry only points at the table: Athena reads Delta natively (``table_type = DELTA``)
and takes the data files and the schema from the Delta log at query time, so nightly writes
need no republishing. The entry also carries the catalog's columns with their descriptions
(what BI tools show when browsing) and no Hive partitions: partitions live in the Delta log,
and a Hive list of them would go stale every night. Publishing again after an upgrade that
changes a table's columns brings the entry up to date; an unchanged entry is not written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lakehouse.catalog import BOOL, DATE, FLOAT64, INT32, INT64, NAMED_VALUES, STRING, TIMESTAMP, TableSpec
from lakehouse.delta import Lake
from lakehouse.errors import LakeError
from lakehouse.settings import Settings, glue_prefix
from lakehouse.storage import is_s3

log = logging.getLogger(__name__)

#: Hive types of the catalog's Arrow types (the only types a table may use, see ``lakehouse.catalog``).
HIVE_TYPES = {STRING: "string", INT32: "int", INT64: "bigint", FLOAT64: "double", BOOL: "boolean",
              DATE: "date", TIMESTAMP: "timestamp", NAMED_VALUES: "map<string,double>"}
COMMENT_LIMIT = 255  # Glue's longest column comment
DESCRIPTION_LIMIT = 2048  # Glue's longest table description


class CatalogError(LakeError):
    """The Glue Data Catalog could not be reached, refused the request, or cannot hold this lake."""


def database_name(prefix: str, layer: str) -> str:
    """Each layer is a Glue database: ``<prefix>_<layer>``, e.g. ``plantlake_gold``."""
    return f"{prefix}_{layer}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table_input(spec: TableSpec, location: str) -> dict[str, Any]:
    """The Glue ``TableInput`` of ``spec`` stored at ``location`` (an ``s3://`` URI)."""
    columns = [{"Name": c.name, "Type": HIVE_TYPES[c.type], "Comment": _shorten(c.comment, COMMENT_LIMIT)}
               for c in spec.columns]
    return {
        "Name": spec.table,
        "Description": _shorten(spec.description, DESCRIPTION_LIMIT),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "table_type": "DELTA",  # Athena: read the Delta log, not the folder
            "spark.sql.sources.provider": "delta",  # Spark on a Glue metastore: a Delta table
            "classification": "delta",
            "plantlake.table": spec.name,
            "plantlake.partition_by": ",".join(spec.partition_by),
            "plantlake.natural_key": ",".join(spec.natural_key),
        },
        "StorageDescriptor": {
            "Columns": columns,
            "Location": location,
            "SerdeInfo": {"Parameters": {"path": location}},  # where Spark looks for a Delta table's path
        },
    }


def _as_input(existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The parts of a Glue ``Table`` that ``wanted`` sets, for comparison (Glue adds its own fields)."""
    out = {key: existing.get(key) for key in wanted if key != "StorageDescriptor"}
    stored = existing.get("StorageDescriptor") or {}
    out["StorageDescriptor"] = {key: stored.get(key) for key in wanted["StorageDescriptor"]}
    return out


@dataclass
class Published:
    """What one publication did, table by table."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # in the catalog, not yet in the lake
    databases: list[str] = field(default_factory=list)  # created by this publication


def glue_client(settings: Settings):
    """A Glue client in the lake's region. ``AWS_ENDPOINT_URL`` names the S3-compatible store, not Glue, so
    it is ignored here; ``AWS_ENDPOINT_URL_GLUE`` points at another Glue endpoint."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "glue",
        region_name=settings.s3.region,
        endpoint_url=settings.glue_endpoint_url,
        config=Config(ignore_configured_endpoint_urls=True, retries={"max_attempts": 3, "mode": "standard"}),
    )


def publish(lake: Lake, specs: Iterable[TableSpec], client, prefix: str) -> Published:
    """Create or update the Glue entry of every table of ``specs`` that exists in ``lake``.

    Idempotent: an entry that already says what it should is left alone.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    if not is_s3(lake.root):
        raise CatalogError(f"Glue tables point at S3: the lake is at {lake.root}; "
                           "set PLANTLAKE_LAKE_URI=s3://bucket/prefix")
    glue_prefix("the Glue database prefix", prefix)
    done = Published()
    checked: set[str] = set()
    where = f"Glue in {client.meta.region_name} ({client.meta.endpoint_url})"
    try:
        for spec in specs:
            if not lake.exists(spec):
                done.missing.append(spec.name)
                continue
            database = database_name(prefix, spec.layer)
            if database not in checked:  # once per layer, not once per table
                checked.add(database)
                if _ensure_database(client, database, spec.layer):
                    done.databases.append(database)
            wanted = table_input(spec, lake.uri(spec))
            try:
                existing = client.get_table(DatabaseName=database, Name=spec.table)["Table"]
            except client.exceptions.EntityNotFoundException:
                client.create_table(DatabaseName=database, TableInput=wanted)
                done.created.append(spec.name)
                continue
            if _as_input(existing, wanted) == wanted:
                done.unchanged.append(spec.name)
            else:
                client.update_table(DatabaseName=database, TableInput=wanted)
                done.updated.append(spec.name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        problem = f"{error.get('Code')}: {error.get('Message')}"
        raise CatalogError(f"{where} refused {exc.operation_name}: {problem}") from exc
    except BotoCoreError as exc:
        raise CatalogError(f"{where} could not be used: {exc}") from exc
    log.info("Glue: %d created, %d updated, %d unchanged, %d not in the lake yet",
             len(done.created), len(done.updated), len(done.unchanged), len(done.missing))
    return done


def _ensure_database(client, name: str, layer: str) -> bool:
    """Creates the database if it is missing; True if this call created it."""
    try:
        client.get_database(Name=name)
        return False
    except client.exceptions.EntityNotFoundException:
        pass
    try:
        client.create_database(DatabaseInput={"Name": name, "Description": f"plantlake {layer} tables (Delta)"})
    except client.exceptions.AlreadyExistsException:  # another publication created it meanwhile
        return False
    return True
