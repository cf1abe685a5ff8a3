"""The Dagster instance ``plantlake run`` keeps writes a range of nights' events together, and reads back
what Dagster's own storage would: one materialization and one check result per asset and night. It is the
instance of the home the run is under."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._serdes import deserialize_value

from lakehouse.settings import environment, plantlake_home
from orchestration.eventlog import BATCH_ENVIRONMENT, KEPT_ENGINES, BatchedSqliteEventLogStorage
from orchestration.runs import ONE_PLANNED_EVENT_PER_ASSET, instance

NIGHTS = dg.DailyPartitionsDefinition(start_date="2020-01-01")


@dg.asset(partitions_def=NIGHTS, backfill_policy=dg.BackfillPolicy.single_run(),
          check_specs=[dg.AssetCheckSpec("rows", asset="table", partitions_def=NIGHTS)])
def table(context):
    yield dg.MaterializeResult(metadata={"nights": len(context.partition_keys)})
    for night in context.partition_keys:
        yield dg.AssetCheckEvaluation(asset_key=dg.AssetKey("table"), check_name="rows", passed=night != "2020-01-07",
                                      partition=night)
    yield dg.Output(None, output_name="table_rows")


def test_a_range_of_nights_is_stored_together_and_reads_back_night_by_night(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    calls = {"single": 0, "batch": 0, "has_table": 0, "result_alone": 0}
    single, batch = BatchedSqliteEventLogStorage.store_event, BatchedSqliteEventLogStorage.store_event_batch
    probe, alone = SqliteEventLogStorage.has_table, SqliteEventLogStorage.store_asset_check_event

    def counted_alone(self, event, event_id):
        calls["result_alone"] += event.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        return alone(self, event, event_id)

    def counted_probe(self, name):
        calls["has_table"] += 1
        return probe(self, name)

    def counted_single(self, event):
        calls["single"] += 1
        return single(self, event)

    def counted_batch(self, events):
        calls["batch"] += 1
        return batch(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event", counted_single)
    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", counted_batch)
    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counted_probe)
    monkeypatch.setattr(SqliteEventLogStorage, "store_asset_check_event", counted_alone)
    job = dg.Definitions(assets=[table], jobs=[dg.define_asset_job("j", [table], partitions_def=NIGHTS,
                                                                    executor_def=dg.in_process_executor)]
                         ).resolve_job_def("j")
    the_instance = instance()
    assert isinstance(the_instance.event_log_storage, BatchedSqliteEventLogStorage)
    with environment({**BATCH_ENVIRONMENT, **ONE_PLANNED_EVENT_PER_ASSET}):
        result = job.execute_in_process(instance=the_instance, tags={
            "dagster/asset_partition_range_start": "2020-01-01", "dagster/asset_partition_range_end": "2020-03-31"})
    assert result.success
    the_instance.event_log_storage.dispose()
    again = dg.DagsterInstance.from_ref(the_instance.get_ref())  # a fresh reader: the UI's view
    done = again.get_materialized_partitions(dg.AssetKey("table"))
    assert len(done) == 91 and "2020-02-29" in done
    history = again.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("table"), "rows"), limit=200)
    assert len(history) == 91
    failed = [h.partition for h in history if h.status.value == "FAILED"]
    assert failed == ["2020-01-07"]
    with again.event_log_storage.index_connection() as conn:  # each result points at its own event in the index
        linked = conn.exec_driver_sql("select c.partition, e.event from asset_check_executions c "
                                      "join event_logs e on e.id = c.evaluation_event_storage_id").fetchall()
    assert len(linked) == 91
    assert all(deserialize_value(event).dagster_event.event_specific_data.partition == night for night, event in linked)
    latest = again.get_latest_materialization_event(dg.AssetKey("table"))  # the asset's row: the range's last night
    assert latest.dagster_event.partition == "2020-03-31"
    assert calls["batch"] >= 1  # the nights' materializations came as one batch (check results: one by one, held)
    assert calls["result_alone"] == 0  # the 91 results onto their planned rows in one UPDATE, none on its own
    assert calls["has_table"] <= 3  # asked before each of the 91 check results, the index's tables are probed once


def test_the_storage_keeps_the_files_of_few_databases_open(tmp_path, monkeypatch):
    """A connection stays open for the databases written last (a night's events do not each open one); a process
    that writes many runs, as the daemon does, holds the files of :data:`KEPT_ENGINES` of them at most."""
    import psutil

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    storage = instance().event_log_storage
    for i in range(3 * KEPT_ENGINES):
        with storage.run_connection(f"run-{i}") as conn:
            assert conn.exec_driver_sql("select count(*) from event_logs").scalar() == 0
    assert list(storage._engines()) == [f"run-{i}" for i in range(2 * KEPT_ENGINES, 3 * KEPT_ENGINES)]
    open_runs = {Path(f.path).name.split(".")[0] for f in psutil.Process().open_files() if str(tmp_path) in f.path}
    assert open_runs == {f"run-{i}" for i in range(2 * KEPT_ENGINES, 3 * KEPT_ENGINES)}  # their .db, -wal, -shm
    storage.dispose()
    assert not [f for f in psutil.Process().open_files() if str(tmp_path) in f.path]


def test_a_check_result_without_a_planned_row_gets_a_row_of_its_own(tmp_path, monkeypatch):
    """Results are written onto the rows their planned events left; one that finds none (Dagster writes one for
    a step launched outside a run's plan) is given a row, as Dagster's own storage does."""
    import time

    from dagster._core.events import DagsterEvent
    from dagster._core.events.log import EventLogEntry

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    storage = instance().event_log_storage
    evaluation = dg.AssetCheckEvaluation(asset_key=dg.AssetKey("table"), check_name="rows", passed=False,
                                         partition="2020-01-02")
    event = DagsterEvent(event_type_value=dg.DagsterEventType.ASSET_CHECK_EVALUATION.value, job_name="j",
                         event_specific_data=evaluation)
    storage.store_event(EventLogEntry(error_info=None, level="INFO", user_message="", run_id="run-1",
                                      timestamp=time.time(), dagster_event=event))
    storage.flush()
    [record] = storage.get_asset_check_execution_history(dg.AssetCheckKey(dg.AssetKey("table"), "rows"), limit=5)
    assert (record.run_id, record.partition, record.status.value) == ("run-1", "2020-01-02", "FAILED")


def test_the_instance_follows_the_home_and_leaves_the_environment_alone(tmp_path, monkeypatch):
    """A process that moves from one PLANTLAKE_HOME to another gets the second home's instance (the first call
    no longer fixes DAGSTER_HOME for the rest of the process); DAGSTER_HOME, when set, wins."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    folders = []
    for home in (tmp_path / "a", tmp_path / "b"):
        with plantlake_home(home):
            own = instance()
            folders.append(Path(own.root_directory).resolve())
            own.dispose()
        assert "DAGSTER_HOME" not in os.environ
    assert folders == [(tmp_path / "a" / "dagster").resolve(), (tmp_path / "b" / "dagster").resolve()]
    assert all((folder / "dagster.yaml").exists() for folder in folders)  # configured as plantlake run's
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "chosen"))
    with plantlake_home(tmp_path / "a"):
        chosen = instance()
        assert Path(chosen.root_directory).resolve() == (tmp_path / "chosen").resolve()
        chosen.dispose()
