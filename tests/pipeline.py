"""Helpers for the pipeline tests: an isolated plantlake home, a tiny simulated network, runs, snapshots."""

from __future__ import annotations

import datetime as dt
import math
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest

from lakehouse import catalog
from lakehouse.delta import Lake
from orchestration.runs import run_nights
from sources.simulator import SimulationConfig, simulate

START = dt.date(2026, 1, 5)
#: Columns that record when or by which run a row was written: they differ between runs by design.
RUN_COLUMNS = {"_ingested_at", "_run_id", "landed_at", "run_id", "started_at", "failed_at", "duration_s",
               "raised_at", "delivered_at", "decided_at"}


@contextmanager
def plantlake_home(path: Path):
    """PLANTLAKE_HOME, lake and landing zone under ``path`` for the duration of the block."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PLANTLAKE_HOME", str(path))
        mp.setenv("PLANTLAKE_LAKE_URI", str(path / "lake"))
        mp.setenv("PLANTLAKE_LANDING_URI", str(path / "landing"))
        yield path


def tiny_network(landing: Path, days: int = 3, **overrides) -> SimulationConfig:
    config = SimulationConfig(
        landing=str(landing),
        start=START,
        days=days,
        plants=2,
        machines_per_plant=4,
        suppliers=8,
        locations=16,
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


def _normal(value):
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def contents(lake: Lake, layers=("bronze", "silver", "gold")) -> dict[str, list[tuple]]:
    """Every table's rows without the run bookkeeping columns, sorted: equal contents = equal tables."""
    out = {}
    for spec in catalog.tables():
        if spec.layer not in layers or not lake.exists(spec):
            continue
        columns = [c for c in spec.column_names if c not in RUN_COLUMNS]
        rows = lake.read(spec, columns=columns).to_pylist()
        out[spec.name] = sorted((tuple(_normal(r[c]) for c in columns) for r in rows), key=repr)
    return out


def file_digest(lake: Lake, spec, filters) -> list[str]:
    """The data files holding ``filters``' rows: unchanged files = an untouched slice."""
    return sorted(lake.delta_table(spec).file_uris(file_pruning_predicate=filters))
