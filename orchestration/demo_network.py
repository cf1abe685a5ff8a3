"""The demo's network: its defaults are the ``plantlake demo`` command's, kept apart from the demo's run
(orchestration/demo.py imports Dagster and DuckDB) so the command line reads them without loading either."""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoNetwork:
    plants: int = 3
    machines_per_plant: int = 20
    suppliers: int = 50
    locations: int = 200
    # enough failures to train on (7-day labels, a 10-day holdout, a 7-day gap) and for the first failure model to
    # pass the promotion gate: on 45 nights it missed on some days, on 60 it passed on every day measured
    # (python -m bench.demo_gate, docs/models.md)
    days: int = 60
    telemetry_interval_s: int = 600  # 10-minute readings keep the demo within minutes
    scored_days: int = 14
    seed: int = 42
