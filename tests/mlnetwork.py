"""A simulated network big enough to train on, run through the real nightly pipeline.

One plant x 120 machines x 105 nights at hourly readings (the simulator's
``telemetry_interval_s``): 12,600 machine-days and 210 failures, the data behind
the simulator's quality floor. One plant, hourly: the model learns from machine-days (their
daily means and spreads), while the drops (one per plant and night) and the readings cost the
backfill time: half-hourly readings, twice as many to land and aggregate, gave the same holdout
figures within 0.01 (docs/testing.md, What the suite's time goes to; docs/models.md, Quality floors).
``python -m tests.mlnetwork DIR`` builds it outside pytest.

In the tests it is the ``simulated_champion`` fixture's network (tests/conftest.py): built once
per session and trained by the weekly retrain job, for the quality floor and the soak.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

from lakehouse.settings import plantlake_home
from orchestration.runs import backfill
from sources.simulator import SimulationConfig, simulate


@dataclass(frozen=True)
class TrainingNetwork:
    start: dt.date = dt.date(2025, 6, 2)
    days: int = 105
    plants: int = 1
    machines_per_plant: int = 120
    telemetry_interval_s: int = 3600
    seed: int = 42

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.days - 1)


def simulation(home: Path, network: TrainingNetwork = TrainingNetwork()) -> SimulationConfig:
    """The network's simulation into ``home``'s landing zone."""
    return SimulationConfig(
        landing=str(home / "landing"), start=network.start, days=network.days, plants=network.plants,
        machines_per_plant=network.machines_per_plant, suppliers=4, locations=8, seed=network.seed,
        format="parquet", telemetry_interval_s=network.telemetry_interval_s,
    )


def build(home: Path, network: TrainingNetwork = TrainingNetwork()) -> None:
    """Simulate the network into ``home``'s landing zone and run every night as one backfill."""
    with plantlake_home(home):
        simulate(simulation(home, network))
        problems = backfill(network.start, network.end)
        assert not problems, problems


if __name__ == "__main__":
    build(Path(sys.argv[1]).resolve())
