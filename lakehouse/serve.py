"""``plantlake serve``: the lake's tables for BI tools over HiveServer2 (the Spark Thrift protocol).

Tableau, Power BI, Excel, Metabase, DBeaver and Superset speak HiveServer2 (JDBC, ODBC,
SQLAlchemy ``hive://``). The pyspark wheel ships the Spark Thrift server; it runs here inside
plantlake's own Spark session, so the session's settings (master, PLANTLAKE_SPARK_CONF, jars,
S3) apply to every BI query.

Each table of the served layers is a view ``<layer>.<table>`` carrying the catalog's
descriptions, and a view reads exactly one Delta version, never the table folder (removed
files stay there until vacuum and would double-count):

* with delta-spark configured, ``delta.`<uri>` VERSION AS OF <v>``;
* on S3 that Spark reads itself (s3a), the version's own files in the lake, listed by name
  (``parquet.`<table>/{file,...}` WITH ('basePath' = <table>)``);
* on a local lake, a folder of this server holding hard links to exactly that version's
  data files (no copying; vacuum cannot take a linked file away);
* on S3 that Spark cannot read (no s3a jars), such a folder of copies of them (files shared
  with the previous version are linked, so only new files are fetched).

:func:`snapshot_route` chooses, on the Spark bridge's own test of whether Spark reaches
the lake's files (:func:`lakehouse.bridge.reaches_files`).

A poller looks at each table's version every ``poll`` seconds; when a commit moves it on,
the new version's folder is built first and then the view's definition is replaced in one
catalog update, so a query reads one version or the next, never a mix. A replaced version's
folder is deleted only once no query that may have started on it is still running.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable

from lakehouse import catalog, storage
from lakehouse.bridge import cast_as, quoted, reaches_files, spark_uri
from lakehouse.catalog import DATE, TableSpec
from lakehouse.delta import Lake
from lakehouse.errors import LakeError, TableNotFoundError
from lakehouse.glue import HIVE_TYPES
from lakehouse.settings import Settings
from lakehouse.spark import DRIVER_FILE_CHECKS, JAVA_OPTIONS

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10000
DEFAULT_POLL_S = 10.0
#: A replaced version stays readable this long after the swap even when no query runs: a query
#: resolves its views before Spark records it as running (planning happens in between).
GRACE_S = 30.0
#: A replaced version held longer than this by a running query is logged (a stuck or endless query).
HELD_WARNING_S = 3600.0

#: Spark SQL names of the catalog's types (the same names as Hive's).
SPARK_TYPES = HIVE_TYPES

#: How a view reads a Delta version (snapshot_route).
DELTA, FILES, LINKS, COPIES = "delta", "files", "links", "copies"
ROUTES = {DELTA: "delta-spark (VERSION AS OF)", FILES: "the version's files in the lake, by name",
          LINKS: "hard links to the version's files", COPIES: "copies of the version's files"}


class ServeError(LakeError):
    """The server cannot start: the port is taken, Spark Connect is set, the Thrift server did not listen."""


def server_config(host: str, port: int, workdir: Path) -> dict[str, str]:
    """Spark properties of the serving session: the Thrift server on ``host:port`` and everything
    Hive would write (scratch folders, operation logs, Derby's log) inside ``workdir``."""
    hive = workdir / "hive"
    return {
        "spark.sql.catalogImplementation": "in-memory",  # the views live in this process only
        "spark.sql.warehouse.dir": spark_uri(str(workdir / "warehouse")),
        "spark.hadoop.hive.server2.thrift.bind.host": host,
        "spark.hadoop.hive.server2.thrift.port": str(port),
        "spark.hadoop.hive.server2.transport.mode": "binary",
        # NONE: SASL PLAIN without a password check, what JDBC, ODBC and PyHive use unless told otherwise.
        "spark.hadoop.hive.server2.authentication": "NONE",
        "spark.hadoop.hive.server2.enable.doAs": "false",
        "spark.hadoop.hive.exec.scratchdir": str(hive / "scratch"),
        "spark.hadoop.hive.exec.local.scratchdir": str(hive / "local-scratch"),
        "spark.hadoop.hive.downloaded.resources.dir": str(hive / "resources"),
        "spark.hadoop.hive.querylog.location": str(hive / "querylog"),
        "spark.hadoop.hive.server2.logging.operation.log.location": str(hive / "operation-logs"),
        JAVA_OPTIONS: f"-Dderby.stream.error.file={workdir / 'derby.log'}",
        # A BI query checks its view's files on the driver, not in a Spark job per query, also through s3a.
        DRIVER_FILE_CHECKS[0]: DRIVER_FILE_CHECKS[1],
        "spark.sql.ui.retainedExecutions": "200",
    }


def check_port_free(host: str, port: int) -> None:
    """Fail before Spark starts (seconds) rather than after, when another process holds the port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                             "is another server running there? (--port chooses another)") from None


def wait_listening(host: str, port: int, timeout: float) -> None:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            if s.connect_ex((target, port)) == 0:
                return
        time.sleep(0.1)
    raise ServeError(f"the Thrift server did not listen on {host}:{port} within {timeout:.0f}s (see the Spark log)")


# -- SQL text ----------------------------------------------------------------------
def literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def select_columns(spec: TableSpec, source: str | None) -> str:
    """The view's query: the catalog's columns, typed as the catalog says, from ``source`` (none: no rows)."""
    if source is None:
        return "SELECT " + ", ".join(f"CAST(NULL AS {SPARK_TYPES[c.type]}) AS {quoted(c.name)}"
                                     for c in spec.columns) + " WHERE 1 = 0"
    return "SELECT " + ", ".join(cast_as(c.name, SPARK_TYPES[c.type]) for c in spec.columns) + f" FROM {source}"


def create_view_sql(spec: TableSpec, query: str) -> str:
    columns = ", ".join(f"{quoted(c.name)} COMMENT {literal(c.comment)}" for c in spec.columns)
    return (f"CREATE VIEW {quoted(spec.layer)}.{quoted(spec.table)} ({columns}) "
            f"COMMENT {literal(spec.description)} AS {query}")


def snapshot_route(lake: Lake, native_delta: bool) -> str:
    """How a view reads a version, on the Spark bridge's decision (``reaches_files``), so serve and the
    pipeline agree on when Spark can open the lake's files.

    Where it cannot (S3 without the s3a jars), copies. Where it can: delta-spark if configured, the
    lake's own files on S3, and hard links on a local lake (as cheap as the files themselves, and
    a linked file outlives a vacuum; S3 has no links, there the version's files are read in place).
    """
    if not reaches_files(lake):
        return COPIES
    if native_delta:
        return DELTA
    return FILES if storage.is_s3(lake.root) else LINKS


#: Characters Hadoop's glob gives a meaning to (escaped with a backslash in a file name).
GLOB_SPECIAL = frozenset("\\{}[]*?,")


def file_list_source(table_uri: str, paths: Sequence[str]) -> str:
    """A SQL source of exactly these data files of a table (paths relative to it), partition values
    from their folders: one Hadoop glob ``{a,b,...}`` under the table, with the table as ``basePath``.

    ``mergeSchema``: a file written before a column was added lacks it and reads it as null.
    """
    base = spark_uri(table_uri)
    names = ",".join("".join("\\" + ch if ch in GLOB_SPECIAL else ch for ch in path) for path in paths)
    return (f"parquet.{quoted(base + '/{' + names + '}')} "
            f"WITH ('basePath' = {literal(base)}, 'mergeSchema' = 'true')")


def partition_folder(spec: TableSpec, values: dict[str, object]) -> str:
    """``col=value/...`` as Spark's partition discovery reads it (Hive escaping; null as Hive's default)."""
    parts = []
    for name in spec.partition_by:
        value = values.get(name)
        if value is None:
            text = "__HIVE_DEFAULT_PARTITION__"
        elif spec.column(name).type == DATE:
            text = value.isoformat()
        else:  # a UTC timestamp
            text = quote(value.strftime("%Y-%m-%d %H:%M:%S.%f"), safe=" -.")
        parts.append(f"{name}={text}")
    return "/".join(parts)


# -- serving one table --------------------------------------------------------------
@dataclass
class Served:
    """What a view reads now: a Delta version (None: the table is not written yet) from a folder of its files."""

    version: int | None
    folder: Path | None = None
    files: dict[str, Path | None] = field(default_factory=dict)  # lake path (relative to the table) -> file in folder


@dataclass
class Retired:
    folder: Path
    since: float  # time.time() of the swap away from it
    warned: bool = False


class SnapshotViews:
    """One view per table, each pinned to a Delta version and swapped to the next when a commit lands."""

    def __init__(self, spark, lake: Lake, specs: Sequence[TableSpec], workdir: Path, *,
                 native_delta: bool = False, route: str | None = None, grace_s: float = GRACE_S):
        """``route``: one of ROUTES; by default :func:`snapshot_route`'s."""
        self.spark = spark
        self.lake = lake
        self.specs = list(specs)
        self.workdir = workdir
        self.route = route or snapshot_route(lake, native_delta)
        if self.route not in ROUTES:
            raise ValueError(f"route must be one of {', '.join(ROUTES)}, not {self.route!r}")
        self.grace_s = grace_s
        self.served: dict[str, Served] = {}
        self.retired: list[Retired] = []

    @property
    def described(self) -> str:
        return ROUTES[self.route]

    # -- start -----------------------------------------------------------------------
    def register(self) -> None:
        """Create a database per layer and a view per table on its current version."""
        for layer in dict.fromkeys(spec.layer for spec in self.specs):
            comment = literal(f"plantlake {layer} layer")
            self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {quoted(layer)} COMMENT {comment}")
        for spec in self.specs:
            for attempt in range(3):  # vacuum may remove a file of the version being linked: take the next
                try:
                    served, query = self._current(spec)
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
            self.spark.sql(create_view_sql(spec, query))
            self.served[spec.name] = served
            log.info("%s: serving version %s", spec.name, served.version)

    # -- polling ---------------------------------------------------------------------
    def refresh(self) -> list[str]:
        """Move every view whose table has a new version onto it; returns the tables that moved.

        A table that cannot be read now (the store is down, vacuum removed a file while it was
        being linked) keeps its current version and is tried again at the next poll.
        """
        moved = []
        for spec in self.specs:
            try:
                if self._refresh(spec):
                    moved.append(spec.name)
            except (LakeError, OSError) as exc:
                log.warning("%s: keeping version %s for now: %s", spec.name, self.served[spec.name].version, exc)
        return moved

    def _refresh(self, spec: TableSpec) -> bool:
        now = self.served[spec.name]
        try:
            dtable = self.lake.delta_table(spec)
        except TableNotFoundError:
            return False
        if dtable.version() == now.version:
            return False
        served, query = self._version(spec, dtable, now)
        if not query:  # the same files (a vacuum, a checkpoint)
            now.version = served.version
            return False
        self._swap(spec, query)
        self.served[spec.name] = served
        if now.folder is not None:
            self.retired.append(Retired(now.folder, time.time()))
        log.info("%s: version %s -> %s", spec.name, now.version, served.version)
        return True

    def _current(self, spec: TableSpec) -> tuple[Served, str]:
        try:
            dtable = self.lake.delta_table(spec)
        except TableNotFoundError:
            return Served(None), select_columns(spec, None)
        return self._version(spec, dtable, Served(None))

    def _version(self, spec: TableSpec, dtable: DeltaTable, previous: Served) -> tuple[Served, str]:
        """What serves ``dtable``'s version and the view's query; the query is empty when ``previous``
        already serves the same files."""
        version = dtable.version()
        if self.route == DELTA:
            source = f"delta.{quoted(spark_uri(self.lake.uri(spec)))} VERSION AS OF {version}"
            return Served(version), select_columns(spec, source)
        adds = pa.table(dtable.get_add_actions(flatten=True))
        wanted = ["path", *(f"partition.{p}" for p in spec.partition_by)]
        rows = adds.select([c for c in wanted if c in adds.column_names]).to_pylist()
        paths = [unquote(r["path"]) for r in rows]
        if set(previous.files) == set(paths) and previous.version is not None:
            return Served(version, previous.folder, previous.files), ""
        if self.route == FILES:  # Spark opens the lake's files: nothing to build
            files = dict.fromkeys(paths)
            source = file_list_source(self.lake.uri(spec), paths) if paths else None
            return Served(version, None, files), select_columns(spec, source)
        folder, files = self._materialise(spec, version, rows, previous)
        if not files:
            return Served(version, folder, files), select_columns(spec, None)
        return Served(version, folder, files), select_columns(spec, f"parquet.{quoted(spark_uri(str(folder)))}")

    def _materialise(self, spec: TableSpec, version: int, rows: list[dict], previous: Served):
        """A folder holding exactly the version's data files, laid out for Spark's partition discovery.

        ``_common_metadata`` gives Spark the catalog's schema, so files written before a column
        was added read it as null instead of hiding it.
        """
        folder = self.workdir / "versions" / spec.layer / spec.table / f"v{version}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        files: dict[str, Path] = {}
        fs, table_path = storage.filesystem(self.lake.uri(spec), self.lake.settings)
        try:
            for index, row in enumerate(rows):
                path = unquote(row["path"])
                values = {p: row.get(f"partition.{p}") for p in spec.partition_by}
                target = folder / partition_folder(spec, values) / f"part-{index:05d}.parquet"
                target.parent.mkdir(parents=True, exist_ok=True)
                known = previous.files.get(path)
                if known is not None:
                    os.link(known, target)
                else:
                    self._fetch(fs, f"{table_path}/{path}", target)
                files[path] = target
            data = [spec.schema.field(name) for name in spec.column_names if name not in spec.partition_by]
            pq.write_metadata(pa.schema(data), folder / "_common_metadata")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return folder, files

    def _fetch(self, fs: pafs.FileSystem, source: str, target: Path) -> None:
        """A lake file into a version's folder: a hard link on a local lake, else a copy (S3 without s3a)."""
        if not storage.is_s3(self.lake.root):
            try:
                os.link(source, target)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
            shutil.copyfile(source, target)  # another filesystem: a copy, which vacuum cannot touch either
            return
        pafs.copy_files(source, str(target), source_filesystem=fs, destination_filesystem=pafs.LocalFileSystem())

    def _swap(self, spec: TableSpec, query: str) -> None:
        """Give the view a new query in one catalog update.

        ``CREATE OR REPLACE VIEW`` drops and recreates (a query in between finds no table) and
        ``ALTER VIEW ... AS`` drops the column comments, so the stored definition is copied with
        the new query text and written back with one ``alterTable``.
        """
        jvm = self.spark._jvm
        catalog_ = self.spark._jsparkSession.sessionState().catalog()
        ident = jvm.org.apache.spark.sql.catalyst.TableIdentifier(spec.table, jvm.scala.Some(spec.layer))
        if not catalog_.tableExists(ident):  # someone dropped it through the server
            self.spark.sql(create_view_sql(spec, query))
            return
        meta = catalog_.getTableMetadata(ident)
        names = [meta.productElementName(i) for i in range(meta.productArity())]
        values = [meta.productElement(i) for i in range(meta.productArity())]
        for name in ("viewText", "viewOriginalText"):
            values[names.index(name)] = jvm.scala.Some(query)
        catalog_.alterTable(meta.copy(*values))

    # -- cleaning --------------------------------------------------------------------
    def clean(self) -> int:
        """Delete replaced versions' folders that no query can still read; returns how many."""
        due = [r for r in self.retired if time.time() >= r.since + self.grace_s]
        if not due:
            return 0
        oldest = self._oldest_running_query()
        deleted = 0
        for retired in due:
            if oldest is not None and oldest <= retired.since + self.grace_s:
                if not retired.warned and time.time() - retired.since > HELD_WARNING_S:
                    log.warning("%s is still held by a query running since %s", retired.folder,
                                time.strftime("%H:%M:%S", time.localtime(oldest)))
                    retired.warned = True
                continue
            shutil.rmtree(retired.folder, ignore_errors=True)
            self.retired.remove(retired)
            deleted += 1
        return deleted

    def _oldest_running_query(self) -> float | None:
        """Submission time (epoch seconds) of the oldest SQL execution still running, from Spark's status store."""
        executions = self.spark._jsparkSession.sharedState().statusStore().executionsList().iterator()
        oldest = None
        while executions.hasNext():
            execution = executions.next()
            if execution.completionTime().isEmpty():
                submitted = execution.submissionTime() / 1000
                oldest = submitted if oldest is None else min(oldest, submitted)
        return oldest


# -- the server ---------------------------------------------------------------------
#: Loggers that report every BI query's ordinary end as a problem (a closed operation has no job to cancel).
QUIET_LOGGERS = ("org.apache.spark.scheduler.DAGScheduler", "org.apache.hive.service.cli.session.HiveSessionImpl",
                 # a file list's glob is no folder: every query of one warns that it has no streaming metadata
                 "org.apache.spark.sql.execution.streaming.sinks.FileStreamSink")


def quiet(spark) -> None:
    levels = spark._jvm.org.apache.logging.log4j.Level
    for name in QUIET_LOGGERS:
        spark._jvm.org.apache.logging.log4j.core.config.Configurator.setLevel(name, levels.ERROR)


def specs_of(layers: Sequence[str]) -> list[TableSpec]:
    return [spec for layer in dict.fromkeys(layers) for spec in catalog.tables(layer)]


def workdir_of(settings: Settings, port: int) -> Path:
    """This server's folder: versions, Hive's scratch and logs; emptied at start and at stop."""
    return settings.home / "serve" / f"port-{port}"


def run(settings: Settings, layers: Sequence[str], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        poll_s: float = DEFAULT_POLL_S, on_ready: Callable[[str], None] = print,
        stop: threading.Event | None = None) -> None:
    """Serve until SIGTERM, Ctrl-C or ``stop``; ``on_ready`` gets the line saying where it listens."""
    from lakehouse.spark import delta_configured, session

    if settings.spark_remote:
        raise ServeError("plantlake serve runs the Thrift server inside its own Spark driver, and with "
                         "SPARK_REMOTE set there is none here: unset SPARK_REMOTE (PLANTLAKE_SPARK_MASTER "
                         "still applies), or run Spark's own Thrift server beside your Connect server")
    check_port_free(host, port)
    stop = stop or threading.Event()

    def stop_on(*_) -> None:
        stop.set()

    handlers = {sig: signal.signal(sig, stop_on) for sig in (signal.SIGTERM, signal.SIGINT)}
    workdir = workdir_of(settings, port)
    shutil.rmtree(workdir, ignore_errors=True)
    for folder in ("scratch", "local-scratch", "resources", "querylog", "operation-logs"):
        (workdir / "hive" / folder).mkdir(parents=True)
    spark = server = None
    try:
        started = time.monotonic()
        spark = session(settings, app_name="plantlake-serve", config=server_config(host, port, workdir))
        # pyspark's SparkContext takes SIGINT over (cancel the jobs, raise KeyboardInterrupt): Ctrl-C is ours again,
        # a clean stop like SIGTERM's instead of an interrupt wherever the main thread happens to be.
        signal.signal(signal.SIGINT, stop_on)
        quiet(spark)
        lake = Lake(settings=settings)
        views = SnapshotViews(spark, lake, specs_of(layers), workdir, native_delta=delta_configured(spark))
        views.register()
        jvm = spark._jvm
        server = jvm.org.apache.spark.sql.hive.thriftserver.HiveThriftServer2.startWithSparkSession(
            spark._jsparkSession, False)
        wait_listening(host, port, timeout=60)
        log.info("serving %d tables from %s via %s, ready in %.1fs", len(views.specs), lake.root, views.described,
                 time.monotonic() - started)
        on_ready(f"plantlake serve: {len(views.specs)} tables of {', '.join(dict.fromkeys(layers))} "
                 f"on jdbc:hive2://{host}:{port}/{layers[0]} (HiveServer2, polling every {poll_s:g}s)")
        while not stop.wait(poll_s):
            try:
                views.refresh()
                views.clean()
            except Exception:  # the server keeps serving what it has; the next poll tries again
                log.exception("polling the tables' versions failed")
    finally:
        log.info("stopping the Thrift server")
        if server is not None:
            server.stop()
        if spark is not None:
            spark.stop()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        shutil.rmtree(workdir, ignore_errors=True)
