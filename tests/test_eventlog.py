"""The Dagster instance ``plantlake run`` keeps writes a range of nights' events together, and reads back
what Dagster's own storage would: one materialization and one check result per asset and night."""

from __future__ import annotations

import dagster as dg

from lakehouse.settings import environment
from orchestration.eventlog import BATCH_ENVIRONMENT, BatchedSqliteEventLogStorage
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
    calls = {"single": 0, "batch": 0}
    single, batch = BatchedSqliteEventLogStorage.store_event, BatchedSqliteEventLogStorage.store_event_batch

    def counted_single(self, event):
        calls["single"] += 1
        return single(self, event)

    def counted_batch(self, events):
        calls["batch"] += 1
        return batch(self, events)

    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event", counted_single)
    monkeypatch.setattr(BatchedSqliteEventLogStorage, "store_event_batch", counted_batch)
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
    assert calls["batch"] >= 1  # the nights' materializations came as one batch (check results: one by one, held)
