"""Bad input through the pipeline, blocking checks, and the run-failure sensor.

A night simulated with ``--messy`` is landed: every injected fault must end as its ground
truth (``_faults.json``) says, every landed drop must reconcile. Then a bad row written
behind the reader's back must stop gold through a blocking check, and the failed run must
be recorded by the run-failure sensor.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import dagster as dg
import pyarrow as pa
import pytest

from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home
from orchestration.definitions import defs
from orchestration.resources import LakeResource
from orchestration.runs import run_config
from orchestration.sensors import run_failure_recorder
from sources.contracts import contract
from sources.simulator.faults import KINDS
from tests.pipeline import START, check_results, materialized, run, tiny_network


@pytest.fixture(scope="module")
def messy(tmp_path_factory, spark):
    home = tmp_path_factory.mktemp("messy")
    with plantlake_home(home):
        instance = dg.DagsterInstance.ephemeral()
        config = tiny_network(home / "landing", days=8, messy=True, messy_fraction=1.0, gzip=True)
        faults = json.loads((home / "landing" / "_faults.json").read_text())
        result = run(config.start, config.end, instance=instance)
        yield home, instance, faults, result, Lake()


def test_every_injected_fault_ends_as_its_ground_truth_says(messy):
    _, _, faults, result, lake = messy
    assert result.success
    assert {f["kind"] for f in faults} == set(KINDS), "eight messy gzipped nights hold every kind of bad input"
    quarantine = defaultdict(set)
    for row in lake.read("bronze.quarantine").to_pylist():
        quarantine[row["_source_file"]].add(row["_source_row"])
    outcomes = {r["drop_id"]: r for r in lake.read("ops.landed_drops").to_pylist()}
    for fault in faults:
        source = f"{fault['drop']}/{fault['file']}"
        expect = fault["expect"]
        if expect == "quarantine":
            assert set(fault["rows"]) <= quarantine[source], fault
        elif expect == "quarantine_file":
            assert quarantine[source] and outcomes[fault["drop"]]["status"] == "landed", fault
        elif expect == "reject_drop":
            assert outcomes[fault["drop"]]["status"] == "rejected" and outcomes[fault["drop"]]["reason"], fault
        elif expect == "wait":
            assert fault["drop"] not in outcomes, fault
        elif expect == "read_ok":
            assert outcomes[fault["drop"]]["status"] == "landed" and not quarantine[source], fault


def test_quarantined_rows_say_why_and_every_landed_drop_reconciles(messy):
    _, _, _, result, lake = messy
    rows = lake.read("bronze.quarantine").to_pylist()
    assert rows and all(r["reason"] and r["rule"] for r in rows)
    assert any(r["raw_line"] for r in rows)
    checks = check_results(result)
    assert checks["ops/landed_drops:manifest_reconciliation"] is True
    assert checks["ops/landed_drops:drops_accepted"] is False  # refused drops are reported, as a warning
    for drop in lake.read("ops.landed_drops", filters=[("status", "=", "landed")]).to_pylist():
        assert drop["manifest_rows"] == drop["bronze_rows"] + drop["quarantined_rows"], drop


def test_a_failing_blocking_check_keeps_bad_data_out_of_gold_and_the_failure_is_recorded(messy):
    home, instance, _, _, lake = messy
    with plantlake_home(home):
        night = START
        production = lake.read("bronze.production", filters=[("date", "=", night)])
        plant = production.column("plant_id")[0].as_py()
        mine = production.filter(pa.compute.equal(production.column("plant_id"), plant))
        broken = mine.set_column(mine.schema.get_field_index("total_count"), "total_count",
                                 pa.array([-5] * mine.num_rows, pa.int64()))
        lake.replace_slice(contract("production").bronze, broken, night, [plant])  # behind the reader's back
        gold_version = lake.version("gold.oee_daily")
        selection = [k for k in defs().resolve_asset_graph().get_all_asset_keys() if k.path[0] in ("silver", "gold")]
        result = defs().resolve_job_def("nightly").execute_in_process(
            partition_key=night.isoformat(), asset_selection=selection, instance=instance,
            run_config=run_config(log_level="WARNING"), raise_on_error=False,
        )
        assert not result.success
        assert check_results(result)["silver/production:expectations"] is False
        assert "gold/oee_daily" not in materialized(result)
        assert lake.version("gold.oee_daily") == gold_version

        [failure] = [r.dagster_event for r in instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)]
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_recorder", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=failure, resources={"lake": LakeResource()},
        ).for_run_failure()
        run_failure_recorder(context)
        [recorded] = lake.read("ops.run_failures").to_pylist()
        assert recorded["run_id"] == result.run_id
        assert recorded["partitions"] == night.isoformat()
        assert "silver__production_expectations" in recorded["failed_steps"]
        assert recorded["failed_at"].date() == dt.datetime.now(dt.UTC).date()
