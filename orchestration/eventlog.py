"""Dagster's SQLite event log, writing a batch of events in one transaction per database.

A run over many nights records one materialization (and one check result) per asset and night
(a ten-year supplier history: about 2,100 nights x 45 assets). Dagster's SQLite storage writes
each event on its own: a new engine, a connection and a synced commit per event in the run's
database and again in the index (about 11 ms each here, most of a long backfill). This storage

* writes a batch in one transaction per database: Dagster sends a partition range's
  materializations as one batch when ``DAGSTER_EVENT_BATCH_SIZE`` is set
  (:data:`BATCH_ENVIRONMENT`, set by ``orchestration.runs`` for the runs it starts);
* keeps a run of check results (a check records one per night of the run) until the next
  other event, and writes them together;
* keeps an engine and its open connection for the databases it writes (the index and the last
  few runs' own) and commits without waiting for the disk each time
  (``synchronous=NORMAL`` in SQLite's WAL mode: a power cut may lose the last events of a run,
  never corrupt the database), which is what single events cost;
* builds each event's row once for both databases, and remembers the tables and columns it has
  found (Dagster asks before every check result and materialization, with a new engine each time).

So the bookkeeping follows the run's steps, not its nights. ``orchestration.runs.dagster_home``
names this class in the instance's ``dagster.yaml``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial

import sqlalchemy as db
from dagster._core.events import ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result

#: Databases whose engine (and pooled connection) is kept open: the index and the runs written last. A process
#: that writes many runs (the daemon, the webserver) closes the others' files.
KEPT_ENGINES = 4
#: The largest batch Dagster hands over at once (a partition range's materializations of one asset).
BATCH_ENVIRONMENT = {"DAGSTER_EVENT_BATCH_SIZE": "100000"}


class BatchedSqliteEventLogStorage(SqliteEventLogStorage):
    """:class:`SqliteEventLogStorage` whose ``store_event_batch`` commits once per database."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> BatchedSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        """A transaction on ``shard`` through an engine kept for the process (Dagster makes one per event);
        inside :meth:`_together` the transaction already open on the shard."""
        held = self.__dict__.get("_plantlake_held")
        if held is not None and held[0] == shard and held[2] == threading.get_ident():
            yield held[1]
            return
        with self._db_lock:
            engines = self._engines()
            engine = engines.pop(shard, None)
            if engine is None:
                engine = db.create_engine(self.conn_string_for_shard(shard), connect_args={"timeout": 30})
                db.event.listen(engine, "connect", _relaxed_sync)
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            engines[shard] = engine  # the most recently used last
            while len(engines) > KEPT_ENGINES:
                engines.pop(next(iter(engines))).dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def _engines(self) -> dict[str, db.engine.Engine]:
        return self.__dict__.setdefault("_plantlake_engines", {})

    def store_event(self, event: EventLogEntry) -> None:
        """Check results wait for the next other event (a step records them in a row, one per night)."""
        if event.is_dagster_event and event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            self._pending().append(event)
            return
        self.flush()
        super().store_event(event)

    def flush(self) -> None:
        """Write the check results held back: their rows in one transaction per database, then each result's
        check row."""
        pending, self.__dict__["_plantlake_pending"] = self._pending(), []
        if not pending:
            return
        rows = self._insert(pending)  # before the index's transaction: one database lock at a time
        with self._together(INDEX_SHARD_NAME) as conn:
            ids = self._index(conn, rows)
            for event, event_id in zip(pending, ids, strict=True):
                self.store_asset_check_event(event, event_id)

    @contextmanager
    def _together(self, shard: str) -> Iterator[db.engine.Connection]:
        """One transaction on ``shard`` that the storage's own statements inside the block join."""
        with self._connect(shard) as conn:
            self.__dict__["_plantlake_held"] = (shard, conn, threading.get_ident())
            try:
                yield conn
            finally:
                self.__dict__["_plantlake_held"] = None

    def _insert(self, events: Sequence[EventLogEntry]) -> list:
        """``events`` into their runs' databases, one transaction each; their rows (:meth:`prepare_insert_event`),
        built once for the index too."""
        rows = [self.prepare_insert_event(event) for event in events]
        by_run: dict[str, list] = defaultdict(list)
        for event, row in zip(events, rows, strict=True):
            by_run[event.run_id].append(row)
        for run_id, run_rows in by_run.items():
            with self.run_connection(run_id) as conn:
                for row in run_rows:
                    conn.execute(row)
        return rows

    def _index(self, index, rows: Sequence) -> list[int]:
        """Events' ``rows`` into the cross-run index (in ``index``'s transaction); their ids there."""
        ids = []
        for row in rows:
            with db_result(index, row) as result:
                ids.append(result.inserted_primary_key[0])
        return ids

    def has_table(self, table_name: str) -> bool:
        return self._found(f"table {table_name}", partial(super().has_table, table_name))

    def _has_asset_key_col_on_connection(self, conn: db.engine.Connection, column_name: str) -> bool:
        return self._found(f"asset key column {column_name}",
                           partial(super()._has_asset_key_col_on_connection, conn, column_name))

    def _found(self, what: str, probe) -> bool:
        """Whether the schema has ``what``, remembered once it has: tables and columns are only added (by
        ``dagster instance migrate``), never dropped while a run writes."""
        known = self.__dict__.setdefault("_plantlake_schema", set())
        if what not in known and probe():
            known.add(what)
        return what in known

    def _pending(self) -> list[EventLogEntry]:
        return self.__dict__.setdefault("_plantlake_pending", [])

    def dispose(self) -> None:
        self.flush()
        with self._db_lock:
            for engine in self._engines().values():
                engine.dispose()
            self._engines().clear()
        super().dispose()

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        self.flush()
        others = [e for e in events if not (e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS)]
        for event in others:  # a run's planned check results come with its planned materializations
            super().store_event(event)
        events = [e for e in events if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS]
        if not events:
            return
        rows = self._insert(events)
        with self.index_transaction() as conn:  # mirrored in the cross-run index, as store_event does
            ids = self._index(conn, rows)
            self._store_asset_event_tags(conn, events, ids)
            for event, event_id in zip(events, ids, strict=True):
                self._store_asset_event(conn, event, event_id)


def _relaxed_sync(dbapi_connection, _record) -> None:
    """Commit without a disk sync each time (WAL keeps the database consistent)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
