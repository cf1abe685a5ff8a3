"""Helpers for the pipeline tests: an isolated plantlake home, a tiny simulated network, runs, snapshots."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from lakehouse.delta import Lake
from orchestration.runs import run_nights
from sources.simulator import SimulationConfig, simulate

START = dt.date(2026, 1, 5)


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


def file_digest(lake: Lake, spec, filters) -> list[str]:
    """The data files holding ``filters``' rows: unchanged files = an untouched slice."""
    return sorted(lake.delta_table(spec).file_uris(file_pruning_predicate=filters))
