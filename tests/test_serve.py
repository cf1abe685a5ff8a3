"""``plantlake serve``: BI clients (PyHive, SQLAlchemy ``hive://``, beeline over JDBC) on the gold tables.

Two real servers for the module, each a ``plantlake serve`` process stopped by its PID: one on
a local lake, one on the SeaweedFS S3 lake. The lakes are a few gold tables written through
``Lake`` from their catalog specs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyspark
import pytest
import sqlalchemy as sa
from pyhive import hive
from pyhive.sqlalchemy_hive import HiveDate, HiveTimestamp

from lakehouse import catalog
from lakehouse.catalog import BOOL, DATE, FLOAT64, INT32, INT64, NAMED_VALUES, STRING, TIMESTAMP, TableSpec
from lakehouse.delta import Lake
from lakehouse.glue import HIVE_TYPES
from lakehouse.hive_compat import patch_pyhive
from lakehouse.settings import Settings, home_environment
from tests.conftest import TEST_BUCKET
from tests.servers import free_port, listening, outside_address, stop, venv_command

pytestmark = [pytest.mark.spark, pytest.mark.server]

POLL_S = 1.0
#: Visible "within the poll interval": one poll, plus the time to link a version and swap, on a busy 2-core machine.
VISIBLE_WITHIN_S = POLL_S + 4.0
D1, D2, D3 = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
PLANTS = ("P01", "P02")
OEE = catalog.get("gold.oee_plant_daily")
WRITTEN = [OEE, catalog.get("gold.maintenance_alerts"), catalog.get("gold.plant_supply_risk"),
           catalog.get("gold.savings_forecast")]
UNWRITTEN = catalog.get("gold.oee_daily")
#: What PyHive's cursor.description says for each catalog type.
THRIFT_TYPES = {STRING: "STRING_TYPE", INT32: "INT_TYPE", INT64: "BIGINT_TYPE", FLOAT64: "DOUBLE_TYPE",
                BOOL: "BOOLEAN_TYPE", DATE: "DATE_TYPE", TIMESTAMP: "TIMESTAMP_TYPE"}
SQLALCHEMY_TYPES = {STRING: sa.String, INT32: sa.Integer, INT64: sa.BigInteger, FLOAT64: sa.Float,
                    BOOL: sa.Boolean, DATE: HiveDate, TIMESTAMP: HiveTimestamp,
                    NAMED_VALUES: sa.String}  # PyHive reflects every map<...> column as a string


def rows(spec: TableSpec, day: dt.date, plants, seed: int = 0) -> pa.Table:
    """Two rows per plant with a value of the column's type in every column."""
    data: dict[str, list] = {c.name: [] for c in spec.columns}
    for plant in plants:
        for i in range(2):
            for c in spec.columns:
                if c.name in spec.partition_by or c.type == DATE:
                    value = day
                elif c.name == "plant_id":
                    value = plant
                elif c.type == STRING:
                    value = f"{c.name}-{plant}-{i}"
                elif c.type in (INT64, INT32):
                    value = seed + i + 1
                elif c.type == FLOAT64:
                    value = seed + i * 1.5 + 0.25
                elif c.type == BOOL:
                    value = i == 0
                else:
                    value = dt.datetime.combine(day, dt.time(12, i, 0, 123456), tzinfo=dt.UTC)
                data[c.name].append(value)
    return pa.Table.from_pydict(data, schema=spec.schema)


def fill(lake: Lake) -> None:
    """Each table: three days, each plant appended on its own (two files per partition, for optimize)."""
    for spec in WRITTEN:
        days = [D1.replace(day=1)] if "month" in spec.partition_by else [D1, D2, D3]
        for day in days:
            for plant in PLANTS:
                lake.append(spec, rows(spec, day, [plant]))


@dataclass
class Server:
    lake: Lake
    port: int
    proc: subprocess.Popen
    out: Path
    err: Path

    def connect(self):
        return hive.connect(host="127.0.0.1", port=self.port, database="gold", username="bi")

    def wait_ready(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.out.read_text(errors="replace")
            if "plantlake serve:" in text:
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"plantlake serve did not start (exit {self.proc.poll()}):\n"
                             + self.err.read_text(errors="replace")[-4000:])


def start(home: Path, lake: Lake, extra_env: dict[str, str]) -> Server:
    port = free_port()
    env = {**os.environ, **home_environment(home), "PLANTLAKE_LAKE_URI": lake.root,
           "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g", **extra_env}
    out, err = home / "serve.out", home / "serve.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([venv_command("plantlake"), "serve", "--port", str(port), "--poll", str(POLL_S)],
                                env=env, stdout=stdout, stderr=stderr)
    return Server(lake, port, proc, out, err)


@pytest.fixture(scope="module")
def servers(s3, tmp_path_factory):
    """A server on a local lake and one on the S3 lake, started side by side."""
    local_home = tmp_path_factory.mktemp("serve-local")
    local = Lake(str(local_home / "lake"), Settings.from_env())
    s3_home = tmp_path_factory.mktemp("serve-s3")
    remote = Lake(f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/lake", Settings.from_env({**os.environ, **s3.env}))
    fill(local)
    fill(remote)
    started = {"local": start(local_home, local, {}), "s3": start(s3_home, remote, s3.env)}
    try:
        for server in started.values():
            server.wait_ready(240)
        yield started
    finally:
        for server in started.values():
            stop(server.proc, timeout=30)


@pytest.fixture(scope="module")
def local(servers) -> Server:
    return servers["local"]


def as_python(value, type_):
    """A lake value as the Thrift protocol carries it (dates and timestamps as text, UTC)."""
    if value is None:
        return None
    if type_ == DATE:
        return value.isoformat()
    if type_ == TIMESTAMP:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def from_thrift(value, type_):
    if isinstance(value, str) and type_ == TIMESTAMP:  # PyHive parses timestamps, not dates
        return dt.datetime.fromisoformat(value)
    return value


@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_query_equals_lake_read_rows_and_types(servers, where):
    server = servers[where]
    cursor = server.connect().cursor()
    for spec in [*WRITTEN, UNWRITTEN]:
        cursor.execute(f"SELECT * FROM gold.{spec.table}")
        assert [(d[0], d[1]) for d in cursor.description] == [(c.name, THRIFT_TYPES[c.type]) for c in spec.columns]
        got = [tuple(from_thrift(v, c.type) for v, c in zip(row, spec.columns, strict=True))
               for row in cursor.fetchall()]
        expected = [tuple(as_python(row[c.name], c.type) for c in spec.columns)
                    for row in server.lake.read(spec, missing_ok=True).to_pylist()]
        assert sorted(got, key=repr) == sorted(expected, key=repr), spec.name
    assert len(expected) == 0 and len(got) == 0  # the unwritten table is served, empty


def test_only_the_layers_tables_are_listed(local):
    cursor = local.connect().cursor()
    cursor.execute("SHOW TABLES IN gold")
    assert sorted(row[1] for row in cursor.fetchall()) == sorted(s.table for s in catalog.tables("gold"))
    cursor.execute("SHOW DATABASES")
    databases = {row[0] for row in cursor.fetchall()}
    assert databases <= {"gold", "default"}
    cursor.execute("SHOW TABLES IN default")
    assert cursor.fetchall() == []  # nothing of the server's own (no per-version helpers)


def test_beeline_over_jdbc_lists_tables_and_columns_with_descriptions(local, tmp_path):
    commands = tmp_path / "metadata.beeline"
    commands.write_text("!tables\n!columns %\n!quit\n")
    beeline = Path(pyspark.__file__).parent / "bin" / "beeline"
    out = subprocess.run(
        [str(beeline), "-u", f"jdbc:hive2://127.0.0.1:{local.port}/gold", "-n", "bi", "--outputformat=tsv2",
         "--showHeader=true", "-f", str(commands)],
        capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    tables, columns = metadata_results(out.stdout)
    assert {(t["TABLE_SCHEM"], t["TABLE_NAME"]) for t in tables} == {("gold", s.table) for s in catalog.tables("gold")}
    assert {t["TABLE_TYPE"] for t in tables} == {"VIEW"}
    remarks = {(c["TABLE_SCHEM"], c["TABLE_NAME"], c["COLUMN_NAME"]): (c["TYPE_NAME"].replace(", ", ","), c["REMARKS"])
               for c in columns}  # Spark writes map<string, double> with a space, Hive's DDL without
    assert remarks == {("gold", spec.table, c.name): (HIVE_TYPES[c.type].upper(), c.comment)
                       for spec in catalog.tables("gold") for c in spec.columns}


def metadata_results(output: str) -> tuple[list[dict], list[dict]]:
    """The rows of beeline's ``!tables`` and ``!columns`` answers (tsv2), told apart by their headers."""
    results: dict[str, list[dict]] = {"TABLE_TYPE": [], "COLUMN_NAME": []}
    current, header = None, []
    for line in output.splitlines():
        record = re.sub(r"^\d+: jdbc:hive2://\S+> ", "", line).split("\t")  # the prompt precedes each header
        if record[:2] == ["TABLE_CAT", "TABLE_SCHEM"]:
            header, current = record, results[record[3]]
        elif current is not None and len(record) == len(header):
            current.append(dict(zip(header, record, strict=True)))
    return results["TABLE_TYPE"], results["COLUMN_NAME"]


def test_sqlalchemy_hive_reflects_every_gold_table(local):
    patch_pyhive()  # PyHive reads Spark's SHOW TABLES namespace column as the table name without it
    engine = sa.create_engine(f"hive://bi@127.0.0.1:{local.port}/gold")
    try:
        inspector = sa.inspect(engine)
        assert "gold" in inspector.get_schema_names()
        assert sorted(inspector.get_table_names(schema="gold")) == sorted(s.table for s in catalog.tables("gold"))
        for spec in catalog.tables("gold"):
            columns = inspector.get_columns(spec.table, schema="gold")
            assert [c["name"] for c in columns] == spec.column_names, spec.name
            for column, declared in zip(columns, spec.columns, strict=True):
                assert isinstance(column["type"], SQLALCHEMY_TYPES[declared.type]), (spec.name, column)
    finally:
        engine.dispose()


def count_and_sum(cursor) -> tuple[int, int]:
    cursor.execute("SELECT count(*), sum(good_count) FROM gold.oee_plant_daily")
    return tuple(cursor.fetchone())


def test_a_commit_is_visible_within_the_poll_and_vacuum_breaks_no_query(local):
    lake = local.lake
    cursor = local.connect().cursor()
    before = count_and_sum(cursor)
    assert before == (lake.count(OEE), sum(lake.read(OEE, columns=["good_count"])["good_count"].to_pylist()))

    # A late plant and new figures for D1: the slice is replaced, its old files stay on disk until vacuum.
    replacement = rows(OEE, D1, ["P01", "P02", "P03"], seed=100)
    committed = time.monotonic()
    lake.replace_slice(OEE, replacement, D1)
    after = count_and_sum(cursor)
    while after == before and time.monotonic() - committed < VISIBLE_WITHIN_S + 5:
        time.sleep(0.1)
        after = count_and_sum(cursor)
    visible_after = time.monotonic() - committed
    expected = (lake.count(OEE), sum(lake.read(OEE, columns=["good_count"])["good_count"].to_pylist()))
    assert after == expected and after[0] == before[0] + 2  # 4 rows of D1 became 6: never 4 + 6
    assert visible_after <= VISIBLE_WITHIN_S

    # Compaction, then vacuum with no retention, while another connection queries without pause.
    seen, errors, done = [], [], threading.Event()

    def query() -> None:
        other = local.connect().cursor()
        while not done.is_set():
            try:
                seen.append(count_and_sum(other))
            except Exception as exc:  # noqa: BLE001 - every failure is what the test reports
                errors.append(exc)

    worker = threading.Thread(target=query)
    worker.start()
    try:
        compacted = lake.optimize(OEE)
        vacuumed = lake.vacuum(OEE, retention_hours=0)
        time.sleep(POLL_S * 3)
        seen_after_vacuum = count_and_sum(cursor)
    finally:
        done.set()
        worker.join(60)
    assert compacted["numFilesRemoved"] > 0 and vacuumed["numFilesDeleted"] > 0
    assert errors == []
    assert seen and set(seen) == {expected}
    assert seen_after_vacuum == expected


def test_nothing_answers_on_the_machines_other_addresses(local):
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    assert not listening(local.port, address), f"the server answers on {address}:{local.port}"
    assert listening(local.port)  # and it does answer on loopback


def test_sigterm_stops_the_server_and_removes_its_folder(servers):
    """Last: stops the S3 server by its PID, as an operator's SIGTERM would."""
    server = servers["s3"]
    workdir = Path(server.out).parent / "serve" / f"port-{server.port}"
    assert (workdir / "versions").is_dir()
    server.proc.terminate()
    assert server.proc.wait(60) == 0
    assert not workdir.exists()
    assert not listening(server.port)
