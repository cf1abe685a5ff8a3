"""Scale points of the benchmark and the simulated nights behind them.

Drops are CSV, the simulator's default: plants' MES exports are text (German plants write
the German dialect: ';', decimal comma, latin-1, local time), so parsing and typing them is
part of a real night's cost. Parquet drops would make landing look cheaper than it is.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sources.simulator import SimulationConfig, Summary, simulate

#: The first benchmarked night (a Monday: every line runs its shifts). Inside the daily partitions.
NIGHT = dt.date(2026, 1, 5)

#: The network as the simulator's defaults describe it.
FULL_PLANTS, FULL_MACHINES, FULL_SUPPLIERS, FULL_LOCATIONS = 122, 800, 1500, 30000

FORMAT = "csv"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScalePoint:
    plants: int
    machines_per_plant: int
    suppliers: int
    locations: int

    @classmethod
    def of(cls, plants: int, machines_per_plant: int = 100) -> ScalePoint:
        """``plants`` x ``machines_per_plant``, suppliers scaled alongside (1,500 for 122 plants, 20 locations each)."""
        if plants >= FULL_PLANTS:
            return cls(plants, machines_per_plant, FULL_SUPPLIERS, FULL_LOCATIONS)
        suppliers = max(10, round(FULL_SUPPLIERS * plants / FULL_PLANTS))
        return cls(plants, machines_per_plant, suppliers, suppliers * FULL_LOCATIONS // FULL_SUPPLIERS)

    @property
    def name(self) -> str:
        return f"{self.plants}x{self.machines_per_plant}"

    @property
    def machines(self) -> int:
        return self.plants * self.machines_per_plant

    def describe(self) -> str:
        return (f"{self.plants} plants x {self.machines_per_plant} machines, {self.suppliers:,} suppliers, "
                f"{self.locations:,} locations, telemetry per minute")

    def config(self, landing: str, start: dt.date = NIGHT, days: int = 1) -> SimulationConfig:
        return SimulationConfig(
            landing=landing,
            start=start,
            days=days,
            plants=self.plants,
            machines_per_plant=self.machines_per_plant,
            suppliers=self.suppliers,
            locations=self.locations,
            format=FORMAT,
        )


QUICK_POINTS = (ScalePoint.of(1), ScalePoint.of(4), ScalePoint.of(16))
FULL_NETWORK = ScalePoint(FULL_PLANTS, FULL_MACHINES, FULL_SUPPLIERS, FULL_LOCATIONS)
#: Where the history benchmark runs (30 nights of it must land in a few minutes).
HISTORY_POINT = ScalePoint.of(1)
HISTORY_NIGHTS = 30


def simulate_nights(point: ScalePoint, landing: str, start: dt.date = NIGHT, days: int = 1) -> Summary:
    """Write the drops of ``days`` nights from ``start`` into ``landing``."""
    return simulate(point.config(landing, start, days))


#: The network the benchmark's champion model is trained on, once per benchmark run, before the scale
#: points: small and coarse (10-minute telemetry, Parquet drops) so it lands and trains in a few minutes,
#: long enough (45 nights, ending the night before NIGHT) for the 7-day failure labels to have positives.
TRAINING_NIGHTS = 45
TRAINING_NETWORK = {"plants": 2, "machines_per_plant": 40, "suppliers": 4, "locations": 8, "format": "parquet",
                    "telemetry_interval_s": 600}


def training_config(landing: str, before: dt.date = NIGHT) -> SimulationConfig:
    """The training network's nights, ending the night before ``before`` (the benchmark's and the soak's)."""
    return SimulationConfig(landing=landing, start=before - dt.timedelta(days=TRAINING_NIGHTS), days=TRAINING_NIGHTS,
                            **TRAINING_NETWORK)


def crown_for_measurement() -> dict[str, str | None]:
    """Make the newest version of each model champion when the promotion gate left it challenger.

    The benchmark's and the soak's training network (:func:`training_config`) is small: its
    failure model rarely beats the baseline beyond its interval, so the gate keeps it
    challenger, and the scoring stage would then measure nothing. What is measured here is
    the cost of scoring, not the model's quality (docs/models.md, the quality floor), so the
    newest version is crowned, and the log says so. Returns each model's champion version.
    """
    from ml import registry

    client = registry.client()
    champions: dict[str, str | None] = {}
    for name in (registry.FAILURE_MODEL, registry.COST_MODEL):
        champion = registry.version_by_alias(client, name, registry.CHAMPION)
        if champion is None:
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                champions[name] = None
                continue
            newest = max(versions, key=lambda v: int(v.version))
            client.set_registered_model_alias(name, registry.CHAMPION, newest.version)
            log.warning("%s v%s crowned for the measurement: the gate kept it challenger on the benchmark's "
                        "small training network, and the scoring stage needs a champion", name, newest.version)
            champion = newest
        champions[name] = str(champion.version)
    return champions
