"""What to simulate: the network size, the window, the format, and how messy."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from lakehouse.settings import Settings
from sources.simulator.clock import EPOCH
from sources.simulator.geography import MAX_PLANTS

FORMATS = ("csv", "parquet", "jsonl")
#: Telemetry intervals a day divides into whole readings, daylight-saving days (23 or 25 hours) included.
TELEMETRY_INTERVALS = tuple(60 * m for m in (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60))


@dataclass(frozen=True)
class SimulationConfig:
    """Arguments of ``plantlake simulate``; the same config always gives the same bytes."""

    landing: str
    start: dt.date
    days: int = 21
    plants: int = MAX_PLANTS
    machines_per_plant: int = 800
    suppliers: int = 1500
    locations: int = 30000
    seed: int = 42
    format: str = "csv"
    gzip: bool = False
    messy: bool = False
    messy_fraction: float = 0.3
    german_csv: bool = True
    chunk_machines: int = 100  # machines per telemetry chunk: bounds memory, never changes the output
    telemetry_interval_s: int = 60  # seconds one telemetry row covers: the mean of that many minutes
    settings: Settings | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = []
        if self.start < EPOCH + dt.timedelta(days=366):
            problems.append(f"--start must be after {EPOCH.year + 1}-01-01 (machine histories start in {EPOCH.year})")
        if not 1 <= self.days <= 3660:
            problems.append("--days must be between 1 and 3660")
        if not 1 <= self.plants <= MAX_PLANTS:
            problems.append(f"--plants must be between 1 and {MAX_PLANTS}")
        if not 1 <= self.machines_per_plant <= 9999:
            problems.append("--machines-per-plant must be between 1 and 9999")
        if not 1 <= self.suppliers <= 99999:
            problems.append("--suppliers must be between 1 and 99999")
        if not self.suppliers <= self.locations <= 999999:
            problems.append("--locations must be at least --suppliers (every supplier ships from somewhere)")
        if self.format not in FORMATS:
            problems.append(f"--format must be one of {', '.join(FORMATS)}")
        if not 0 <= self.messy_fraction <= 1:
            problems.append("--messy-fraction must be between 0 and 1")
        if self.seed < 0:
            problems.append("--seed must be non-negative")
        if self.chunk_machines < 1:
            problems.append("chunk_machines must be at least 1")
        if self.telemetry_interval_s not in TELEMETRY_INTERVALS:
            problems.append("--telemetry-interval-s must be a whole number of minutes that divides an hour: "
                            + ", ".join(map(str, TELEMETRY_INTERVALS)))
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]

    @property
    def end(self) -> dt.date:
        """Last simulated date (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)
