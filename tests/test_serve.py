"""``plantlake serve``: BI clients (PyHive, SQLAlchemy ``hive://``, beeline over JDBC) on the gold tables.

Two real servers for the module, each a ``plantlake serve`` process stopped by its PID: one on
a local lake (with an operator's PLANTLAKE_SPARK_CONF entry), one on the SeaweedFS S3 lake serving
``--layer gold --layer ops``. The lakes are a few gold tables (and, on S3, an ops table) written
through ``Lake`` from their catalog specs. The last test stops them: the S3 server by SIGTERM, the
local one by Ctrl-C's SIGINT to its process group.

The snapshot routes the servers do not take here have their own tests: the file list that S3 with
s3a takes, on a local lake in the test's Spark session; delta-spark and s3a themselves only where
their jars are (Maven serves them; it is unreachable from the test machine, so they skip there).
The refusals before Spark starts (SPARK_REMOTE, a taken port) run the CLI without a JVM.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
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
from typer.testing import CliRunner

from lakehouse import bridge, catalog
from lakehouse.catalog import BOOL, DATE, FLOAT64, INT32, INT64, NAMED_VALUES, STRING, TIMESTAMP, TableSpec
from lakehouse.delta import Lake
from lakehouse.glue import HIVE_TYPES
from lakehouse.hive_compat import patch_pyhive
from lakehouse.serve import COPIES, DELTA, FILES, LINKS, SnapshotViews, file_list_source, snapshot_route
from lakehouse.settings import Settings, home_environment
from orchestration.cli import app
from tests.conftest import TEST_BUCKET, jars_named, skip_without_delta_spark
from tests.servers import free_port, listening, outside_address, stop, venv_command


def served(test):
    """A test of the module's servers: each is a process with a JVM (the CLI and route tests need neither)."""
    return pytest.mark.spark(pytest.mark.server(test))


POLL_S = 1.0
#: Visible "within the poll interval": one poll, plus the time to link a version and swap, on a busy 2-core machine.
VISIBLE_WITHIN_S = POLL_S + 4.0
D1, D2, D3 = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)
PLANTS = ("P01", "P02")
OEE = catalog.get("gold.oee_plant_daily")
WRITTEN = [OEE, catalog.get("gold.maintenance_alerts"), catalog.get("gold.plant_supply_risk"),
           catalog.get("gold.savings_forecast")]
UNWRITTEN = catalog.get("gold.oee_daily")
#: Written to the S3 lake, whose server serves the ops layer too.
OPS = catalog.get("ops.run_failures")
#: The operator's entry on the local server (PLANTLAKE_SPARK_CONF) for a property serve sets itself
#: (lakehouse.spark.DRIVER_FILE_CHECKS).
OPERATOR_CONF = ("spark.sql.sources.parallelPartitionDiscovery.threshold", "12345")
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


def start(home: Path, lake: Lake, extra_env: dict[str, str], layers: tuple[str, ...] = ()) -> Server:
    """``plantlake serve`` in a session of its own: its process group is what a terminal's Ctrl-C reaches."""
    port = free_port()
    env = {**os.environ, **home_environment(home), "PLANTLAKE_LAKE_URI": lake.root,
           "PLANTLAKE_SPARK_DRIVER_MEMORY": "1g", **extra_env}
    out, err = home / "serve.out", home / "serve.err"
    command = [venv_command("plantlake"), "serve", "--port", str(port), "--poll", str(POLL_S)]
    for layer in layers:
        command += ["--layer", layer]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
    return Server(lake, port, proc, out, err)


@pytest.fixture(scope="module")
def servers(s3, tmp_path_factory):
    """A server on a local lake (the operator's conf entry) and one on the S3 lake (gold and ops), side by side."""
    local_home = tmp_path_factory.mktemp("serve-local")
    local = Lake(str(local_home / "lake"), Settings.from_env())
    s3_home = tmp_path_factory.mktemp("serve-s3")
    remote = Lake(f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/lake", Settings.from_env({**os.environ, **s3.env}))
    fill(local)
    fill(remote)
    remote.append(OPS, rows(OPS, D1, PLANTS))
    operator = ";".join(filter(None, [os.environ.get("PLANTLAKE_SPARK_CONF"), "=".join(OPERATOR_CONF)]))
    started = {"local": start(local_home, local, {"PLANTLAKE_SPARK_CONF": operator}),
               "s3": start(s3_home, remote, s3.env, layers=("gold", "ops"))}
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


@served
@pytest.mark.parametrize("where", ["local", "s3"])
def test_a_query_equals_lake_read_rows_and_types(servers, where):
    """On S3 the ops layer is served too (--layer ops): its written table and its empty ones."""
    server = servers[where]
    cursor = server.connect().cursor()
    for spec in [*WRITTEN, *(catalog.tables("ops") if where == "s3" else []), UNWRITTEN]:
        cursor.execute(f"SELECT * FROM {spec.layer}.{spec.table}")
        assert [(d[0], d[1]) for d in cursor.description] == [(c.name, THRIFT_TYPES[c.type]) for c in spec.columns]
        got = [tuple(from_thrift(v, c.type) for v, c in zip(row, spec.columns, strict=True))
               for row in cursor.fetchall()]
        expected = [tuple(as_python(row[c.name], c.type) for c in spec.columns)
                    for row in server.lake.read(spec, missing_ok=True).to_pylist()]
        assert sorted(got, key=repr) == sorted(expected, key=repr), spec.name
    assert len(expected) == 0 and len(got) == 0  # the unwritten table is served, empty


@served
@pytest.mark.parametrize(("where", "layers"), [("local", ("gold",)), ("s3", ("gold", "ops"))])
def test_only_the_layers_tables_are_listed(servers, where, layers):
    """By default gold alone; with ``--layer gold --layer ops`` (the S3 server) ops as schema ``ops`` too."""
    server = servers[where]
    assert f"tables of {', '.join(layers)} on jdbc:hive2://127.0.0.1:{server.port}/gold" in server.out.read_text()
    cursor = server.connect().cursor()
    for layer in layers:
        cursor.execute(f"SHOW TABLES IN {layer}")
        assert sorted(row[1] for row in cursor.fetchall()) == sorted(s.table for s in catalog.tables(layer))
    cursor.execute("SHOW DATABASES")
    databases = {row[0] for row in cursor.fetchall()}
    assert set(layers) <= databases <= {*layers, "default"}
    cursor.execute("SHOW TABLES IN default")
    assert cursor.fetchall() == []  # nothing of the server's own (no per-version helpers)


@served
def test_plantlake_spark_conf_wins_over_serves_own_settings(local):
    """The local server's PLANTLAKE_SPARK_CONF sets a property serve sets too: the session has the operator's value."""
    cursor = local.connect().cursor()
    key, value = OPERATOR_CONF
    cursor.execute(f"SET {key}")
    assert cursor.fetchall() == [(key, value)]
    cursor.execute("SET spark.sql.codegen.wholeStage")  # and the rest of the tests' PLANTLAKE_SPARK_CONF
    assert cursor.fetchall() == [("spark.sql.codegen.wholeStage", "false")]


@served
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


@served
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


@served
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


@served
def test_nothing_answers_on_the_machines_other_addresses(local):
    address = outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    assert not listening(local.port, address), f"the server answers on {address}:{local.port}"
    assert listening(local.port)  # and it does answer on loopback


# -- refusals before Spark starts (no JVM) ---------------------------------------------
runner = CliRunner()


def refusal(monkeypatch, tmp_path, port: int):
    """``plantlake serve`` through the CLI in this process; what it printed, as lines."""
    for name, value in home_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "serve").exists()  # refused before its folder (and Spark) was made
    return result.output.strip().splitlines()


def test_serve_refuses_spark_remote_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("SPARK_REMOTE", "sc://127.0.0.1:15002")
    [line] = refusal(monkeypatch, tmp_path, free_port())
    assert line.startswith("plantlake serve runs the Thrift server inside its own Spark driver, and with "
                           "SPARK_REMOTE set there is none here: unset SPARK_REMOTE")


def test_serve_says_in_one_line_that_the_port_is_taken(monkeypatch, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        [line] = refusal(monkeypatch, tmp_path, port)
    assert line.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert line.endswith("is another server running there? (--port chooses another)")


# -- the snapshot routes ---------------------------------------------------------------
def test_the_route_is_the_bridges_decision():
    """Copies only where the Spark bridge says Spark cannot reach the files (S3 without s3a)."""
    local = Lake("/srv/lake", Settings.from_env())
    s3 = Lake("s3://bucket/lake", Settings.from_env({**os.environ, "PLANTLAKE_SPARK_S3A": "false"}))
    s3a = Lake("s3://bucket/lake", Settings.from_env({**os.environ, "PLANTLAKE_SPARK_S3A": "true"}))
    assert [bridge.reaches_files(lake) for lake in (local, s3, s3a)] == [True, False, True]
    assert [snapshot_route(lake, native_delta=False) for lake in (local, s3, s3a)] == [LINKS, COPIES, FILES]
    assert [snapshot_route(lake, native_delta=True) for lake in (local, s3, s3a)] == [DELTA, COPIES, DELTA]


def test_a_file_list_escapes_what_hadoops_glob_would_read_as_a_pattern():
    paths = ["date=2026-03-02/a,b{1}.parquet", "date=2026-03-03/c.parquet"]
    assert file_list_source("s3://bucket/lake/gold/t", paths) == (
        "parquet.`s3a://bucket/lake/gold/t/{date=2026-03-02/a\\,b\\{1\\}.parquet,date=2026-03-03/c.parquet}` "
        "WITH ('basePath' = 's3a://bucket/lake/gold/t', 'mergeSchema' = 'true')")


def spark_rows(spark, spec: TableSpec) -> list[str]:
    return sorted(map(repr, spark.sql(f"SELECT * FROM {spec.layer}.{spec.table}").toArrow().cast(spec.schema)
                      .to_pylist()))


def lake_rows(lake: Lake, spec: TableSpec) -> list[str]:
    return sorted(map(repr, lake.read(spec, missing_ok=True).to_pylist()))


def test_the_file_list_route_reads_exactly_the_current_version(spark, tmp_path):
    """The route of S3 that Spark reads (s3a) on a local lake's file:// URIs, in the test's Spark session:
    the view names the version's files, so a replaced slice's files (still on disk) are not read."""
    lake = Lake(str(tmp_path / "lake"), Settings.from_env())
    for day in (D1, D2):
        for plant in PLANTS:
            lake.append(OEE, rows(OEE, day, [plant]))
    workdir = tmp_path / "serve"
    views = SnapshotViews(spark, lake, [OEE, UNWRITTEN], workdir, route=FILES)
    try:
        views.register()
        assert spark_rows(spark, OEE) == lake_rows(lake, OEE) and len(lake_rows(lake, OEE)) == 8
        assert spark_rows(spark, UNWRITTEN) == []
        lake.replace_slice(OEE, rows(OEE, D1, ["P01", "P02", "P03"], seed=100), D1)
        assert views.refresh() == [OEE.name]
        assert spark_rows(spark, OEE) == lake_rows(lake, OEE) and len(lake_rows(lake, OEE)) == 10  # 4 + 6
        lake.optimize(OEE)
        assert views.refresh() == [OEE.name]
        assert lake.vacuum(OEE, retention_hours=0)["numFilesDeleted"] > 0
        assert views.refresh() == []  # the same files: the view is left as it is
        assert spark_rows(spark, OEE) == lake_rows(lake, OEE)
        assert not workdir.exists()  # nothing copied or linked
    finally:
        spark.sql("DROP DATABASE IF EXISTS gold CASCADE")


ROUTE_PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from lakehouse.delta import Lake
    from lakehouse.serve import SnapshotViews
    from lakehouse.spark import delta_configured, session
    from tests.test_serve import OEE, D1, PLANTS, rows, spark_rows, lake_rows
    lake_uri, workdir, route = sys.argv[1:]
    spark = session()
    lake = Lake(lake_uri)
    for plant in PLANTS:
        lake.append(OEE, rows(OEE, D1, [plant]))
    views = SnapshotViews(spark, lake, [OEE], Path(workdir), native_delta=delta_configured(spark))
    assert views.route == route, views.route
    views.register()
    assert spark_rows(spark, OEE) == lake_rows(lake, OEE)
    print("ROUTE-OK")
    """
)


def run_route_probe(lake_uri: str, tmp_path: Path, route: str, env: dict[str, str]) -> None:
    """A fresh driver (its own jars) serving one table by the route ``snapshot_route`` picks for it."""
    out = subprocess.run([sys.executable, "-c", ROUTE_PROBE, lake_uri, str(tmp_path / "serve"), route],
                         env={**os.environ, **env}, cwd=Path(__file__).parent.parent,
                         capture_output=True, text=True, timeout=600)
    assert "ROUTE-OK" in out.stdout, out.stderr[-3000:]


@pytest.mark.spark
def test_the_delta_route_reads_version_as_of_where_delta_spark_is(tmp_path):
    skip_without_delta_spark()
    run_route_probe(str(tmp_path / "lake"), tmp_path, DELTA, {"PLANTLAKE_SPARK_DELTA": "true"})


@pytest.mark.spark
def test_the_s3a_route_reads_the_lakes_files_in_place(request, tmp_path):
    jars = [jar for jar in jars_named("hadoop-aws") + jars_named("bundle") if jar.endswith(".jar")]
    if not jars_named("hadoop-aws"):
        pytest.skip("hadoop-aws jars are not available: Spark reads s3a:// only with org.apache.hadoop:hadoop-aws "
                    "and the AWS SDK bundle, which come from Maven (unreachable from this machine); "
                    "PLANTLAKE_SPARK_JARS naming them runs this test")
    s3 = request.getfixturevalue("s3")
    run_route_probe(f"s3://{TEST_BUCKET}/{uuid.uuid4().hex}/lake", tmp_path, FILES,
                    {**s3.env, "PLANTLAKE_SPARK_S3A": "true", "PLANTLAKE_SPARK_JARS": ",".join(dict.fromkeys(jars))})


@served
@pytest.mark.parametrize(("where", "stop_signal"), [("s3", signal.SIGTERM), ("local", signal.SIGINT)])
def test_a_signal_stops_the_server_and_removes_its_folder(servers, where, stop_signal):
    """Last: stops the S3 server as an operator's SIGTERM to its PID would, and the local one as Ctrl-C in its
    terminal would: SIGINT to its whole process group (pyspark starts the JVM ignoring SIGINT, so the
    server's own handler stops the Thrift server and Spark)."""
    server = servers[where]
    workdir = Path(server.out).parent / "serve" / f"port-{server.port}"
    assert (workdir / "versions").is_dir()
    if stop_signal == signal.SIGINT:
        os.killpg(server.proc.pid, signal.SIGINT)  # the group start() made for this server alone
    else:
        server.proc.send_signal(stop_signal)
    assert server.proc.wait(60) == 0
    assert not workdir.exists()
    assert not listening(server.port)
