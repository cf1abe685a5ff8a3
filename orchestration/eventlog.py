"""Dagster's SQLite event log, writing a batch of events in one transaction per database.

A run over many nights records one materialization (and one check result) per asset and night
(a ten-year supplier history: about 2,100 nights x 45 assets). Dagster's SQLite storage writes
each event on its own: a new engine, a connection and a synced commit per event in the run's
database and again in the index (about 11 ms each here, most of a long backfill). This storage

* writes a batch in one statement per database: Dagster sends a partition range's
  materializations as one batch when ``DAGSTER_EVENT_BATCH_SIZE`` is set
  (:data:`BATCH_ENVIRONMENT`, set by ``orchestration.runs`` for the runs it starts), and the
  asset's own row is written once per batch, with its latest event (Dagster writes it per event,
  each write replacing the one before);
* keeps a run of check results (a check records one per night of the run) until the next
  other event, and writes them together: their events in one statement per database, their
  results onto the rows their planned events left in one UPDATE (a planned check's rows, one
  per night, share one serialized event);
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
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable, SqlEventLogStorageTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster_shared.serdes import serialize_value

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
        """Write the check results held back."""
        pending, self.__dict__["_plantlake_pending"] = self._pending(), []
        if pending:
            self._store_checks(pending)

    def _store_checks(self, events: Sequence[EventLogEntry]) -> None:
        """Check events, planned or results: their events in one statement per database; results onto the rows
        their planned events left in one UPDATE; planned checks (one INSERT each, of all its nights) and
        results that find no row (or have no run) as Dagster writes them."""
        rows = self._insert(events)  # before the index's transaction: one database lock at a time
        with self._together(INDEX_SHARD_NAME) as conn:
            ids = self._index(conn, rows)
            results = all(e.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION for e in events)
            if not (results and self._checks_done(conn, events, rows, ids)):
                for event, event_id in zip(events, ids, strict=True):
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

    def _insert(self, events: Sequence[EventLogEntry]) -> list[dict]:
        """``events`` into their runs' databases, one statement each; their rows, built once for the index too."""
        rows = [self._event_to_row(event) for event in events]
        by_run: dict[str, list] = defaultdict(list)
        for row in rows:
            by_run[row["run_id"]].append(row)
        for run_id, run_rows in by_run.items():
            with self.run_connection(run_id) as conn:
                conn.execute(SqlEventLogStorageTable.insert(), run_rows)
        return rows

    def _index(self, index, rows: Sequence[dict]) -> list[int]:
        """Events' ``rows`` into the cross-run index (in ``index``'s transaction); their ids there, in order."""
        returning = SqlEventLogStorageTable.insert().returning(SqlEventLogStorageTable.c.id,
                                                               sort_by_parameter_order=True)
        return list(index.execute(returning, list(rows)).scalars())

    def _checks_done(self, index, events: Sequence[EventLogEntry], rows: Sequence[dict], ids: Sequence[int]) -> bool:
        """Each check result onto the row its planned event left (what Dagster's ``store_asset_check_event``
        does one at a time): one UPDATE for all, the event as already serialized for its row. False unless
        every result found its one row: Dagster's own writes then see to each (the same values again, or a
        row inserted where none was planned), or fail as they would."""
        table = AssetCheckExecutionsTable
        values = []
        for event, row, event_id in zip(events, rows, ids, strict=True):
            evaluation = event.get_dagster_event().event_specific_data
            if not event.run_id or evaluation.partition is None:
                return False
            target = evaluation.target_materialization_data
            values.append({
                "b_asset_key": evaluation.asset_key.to_string(), "b_check_name": evaluation.check_name,
                "b_run_id": event.run_id, "b_partition": evaluation.partition,
                "b_status": (AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed
                             else AssetCheckExecutionRecordStatus.FAILED).value,
                "b_event": row["event"], "b_timestamp": row["timestamp"], "b_id": event_id,
                "b_materialization": target.storage_id if target else None,
            })
        update = table.update().where(db.and_(
            table.c.asset_key == db.bindparam("b_asset_key"), table.c.check_name == db.bindparam("b_check_name"),
            table.c.run_id == db.bindparam("b_run_id"), table.c.partition == db.bindparam("b_partition"),
        )).values(execution_status=db.bindparam("b_status"), evaluation_event=db.bindparam("b_event"),
                  evaluation_event_timestamp=db.bindparam("b_timestamp"),
                  evaluation_event_storage_id=db.bindparam("b_id"),
                  materialization_event_storage_id=db.bindparam("b_materialization"))
        return index.execute(update, values).rowcount == len(values)

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry, event_id: int | None) -> None:
        """A planned check's row for each night of its run, as Dagster writes them, with the event serialized
        once for all of them (Dagster serializes it again for each night)."""
        planned = event.get_dagster_event().event_specific_data
        nights = planned.partitions_subset.get_partition_keys() if planned.partitions_subset else [None]
        common = {"asset_key": planned.asset_key.to_string(), "check_name": planned.check_name,
                  "run_id": event.run_id, "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
                  "evaluation_event": serialize_value(event),
                  "evaluation_event_timestamp": self._event_insert_timestamp(event),
                  "evaluation_event_storage_id": event_id}
        with self.index_connection() as conn:
            conn.execute(AssetCheckExecutionsTable.insert(), [{**common, "partition": night} for night in nights])

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
        planned = [e for e in others if e.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED]
        if planned:  # a run's planned check results come with its planned materializations
            self._store_checks(planned)
        for event in others:
            if event.dagster_event_type != DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
                super().store_event(event)
        events = [e for e in events if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS]
        if not events:
            return
        rows = self._insert(events)
        with self.index_transaction() as conn:  # mirrored in the cross-run index, as store_event does
            ids = self._index(conn, rows)
            self._store_asset_event_tags(conn, events, ids)
            latest = {(event.dagster_event.asset_key, event.dagster_event_type): (event, event_id)
                      for event, event_id in zip(events, ids, strict=True)}
            for event, event_id in sorted(latest.values(), key=lambda kept: kept[1]):
                self._store_asset_event(conn, event, event_id)  # an asset's row keeps its latest of each kind


def _relaxed_sync(dbapi_connection, _record) -> None:
    """Commit without a disk sync each time (WAL keeps the database consistent)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
