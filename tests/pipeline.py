"""Helpers for the pipeline tests: an isolated plantlake home, a tiny simulated network, runs, snapshots,
and the pipeline's story (:func:`tell_story`), told once per test session (the ``night_story`` fixture)."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from lakehouse.delta import Lake
from lakehouse.settings import plantlake_home, restored_environment
from lakehouse.snapshot import contents
from orchestration.runs import run_nights
from sources.simulator import SimulationConfig, simulate

START = dt.date(2026, 1, 5)
#: The story's nights: four, so that the last night's 7-day drift has the three days of history it needs.
NIGHTS = 4
D1, LAST = START, START + dt.timedelta(days=NIGHTS - 1)
AT_SCALE = {"spark.sql.adaptive.coalescePartitions.enabled": "false", "spark.sql.files.maxPartitionBytes": "16384",
            "spark.sql.files.openCostInBytes": "16384"}


#: The tiny network's machines report every 5 minutes, not every minute: the same feeds, rules and tables with a
#: fifth of the readings, which a night's landing and Spark steps pay for (docs/testing.md).
TINY_TELEMETRY_INTERVAL_S = 300
TINY_MACHINES_PER_PLANT = 4
#: Telemetry rows of one plant's drop of the tiny network.
PLANT_NIGHT_READINGS = TINY_MACHINES_PER_PLANT * 86_400 // TINY_TELEMETRY_INTERVAL_S


def tiny_network(landing: Path, days: int = 3, telemetry_interval_s: int = TINY_TELEMETRY_INTERVAL_S,
                 **overrides) -> SimulationConfig:
    config = SimulationConfig(
        landing=str(landing),
        start=START,
        days=days,
        plants=2,
        machines_per_plant=TINY_MACHINES_PER_PLANT,
        suppliers=8,
        locations=16,
        telemetry_interval_s=telemetry_interval_s,
        **overrides,
    )
    simulate(config)
    return config


def run(start: dt.date, end: dt.date | None = None, plants=None, *, reland: bool = False,
        instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return run_nights(start, end, plants, reland=reland, dagster_instance=instance, log_level="WARNING")


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            out[f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"] = evaluation.passed
    return out


def file_digest(lake: Lake, spec, filters) -> list[str]:
    """The data files holding ``filters``' rows: unchanged files = an untouched slice."""
    return sorted(lake.delta_table(spec).file_uris(file_pruning_predicate=filters))


# -- the story: three nights, a late drop, its plant landed alone, every night landed again ------------------
@dataclass
class Story:
    home: Path
    config: SimulationConfig
    lake: Lake
    plants: list[str]
    late: str
    first: dg.ExecuteInProcessResult
    requests: list[dg.RunRequest]
    late_run: dg.ExecuteInProcessResult
    late_slice_before: int
    on_time_before: dict
    on_time_after: dict
    contents_before_rerun: dict
    rerun: dg.ExecuteInProcessResult
    contents_after_rerun: dict
    cached_after_first: bool
    instance: dg.DagsterInstance  # the runs' history, as the Dagster UI reads it


def on_time_slices(lake: Lake, plant: str) -> dict:
    """The on-time plant's rows of the last night and the files of the landing step's Arrow writes."""
    from sources.silver import EVENT_TABLES

    rows = {spec.name: sorted(map(repr, lake.read(spec, filters=[("date", "=", LAST), ("plant_id", "=", plant)],
                                                  columns=[c for c in spec.column_names if not c.startswith("_")])
                                  .to_pylist()))
            for spec in (EVENT_TABLES["telemetry"], EVENT_TABLES["production"])}
    files = file_digest(lake, "bronze.telemetry", [("date", "=", LAST), ("plant_id", "=", plant)])
    return {"rows": rows, "bronze_files": files}


@contextmanager
def at_scale(spark):
    """Runs in the block read files in many splits and keep their shuffles' partitions, so that a tiny
    night is written in several files, as at scale (PLANTLAKE_SPARK_CONF); the session is put back after."""
    before = {name: spark.conf.get(name) for name in AT_SCALE}
    with restored_environment(["PLANTLAKE_SPARK_CONF"]):
        os.environ["PLANTLAKE_SPARK_CONF"] = ";".join(f"{k}={v}" for k, v in AT_SCALE.items())
        try:
            yield
        finally:
            for name, value in before.items():
                spark.conf.set(name, value)


def tell_story(home: Path) -> Story:
    """The nightly pipeline in process on a tiny network under ``home`` (a real Spark session, real Delta tables,
    real checks): four nights with one plant's last drop late; the late drop arrives and the landing sensor
    runs for that plant only; then every night is landed again. The lake it leaves holds the nights as one
    clean run gives them (the re-run's tables equal the first ones): tests/test_faults.py's reference."""
    from lakehouse.spark import session
    from orchestration.definitions import defs
    from orchestration.sensors import landing_requests

    with plantlake_home(home):
        instance = dg.DagsterInstance.ephemeral()
        config = tiny_network(home / "landing", days=NIGHTS)
        plants = sorted(p.name.split("=", 1)[1] for p in (home / "landing").glob("plant=*"))
        on_time, late = plants
        manifest = home / "landing" / f"plant={late}" / f"date={LAST}" / "_manifest.json"
        held_back = manifest.read_bytes()
        manifest.unlink()  # the late plant's last drop is still being written: it must wait

        spark = session()
        spark.catalog.clearCache()
        with at_scale(spark):
            first = run(D1, LAST, instance=instance)
            cached_after_first = not spark._jsparkSession.sharedState().cacheManager().isEmpty()
            lake = Lake()
            late_slice_before = lake.count("silver.telemetry", filters=[("date", "=", LAST), ("plant_id", "=", late)])
            on_time_before = on_time_slices(lake, on_time)

            manifest.write_bytes(held_back)  # the drop is complete now
            requests = landing_requests(lake, str(home / "landing"), LAST + dt.timedelta(days=1), 7,
                                        defs().resolve_job_def("nightly").partitions_def)
            plants_requested = requests[0].run_config["resources"]["scope"]["config"]["plants"]
            late_run = run(LAST, plants=plants_requested, instance=instance)
            on_time_after = on_time_slices(lake, on_time)

            before_rerun = contents(lake)
            rerun = run(D1, LAST, reland=True, instance=instance)
        return Story(home, config, lake, plants, late, first, requests, late_run, late_slice_before, on_time_before,
                     on_time_after, before_rerun, rerun, contents(lake), cached_after_first, instance)
