"""Running a simulation: every plant's drop for every local date it belongs to the network, the
supplier drop of every UTC date, the faults of a messy run, and resends of single drops.

Memory stays bounded by one telemetry chunk (``chunk_machines`` machines x one day of
minutes) plus the network's master data and the shipments of the last 75 days.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sources import mapping
from sources.landing import SUPPLIERS, DropRef, Manifest
from sources.simulator import faults, plantday, shipments, telemetry, timeline
from sources.simulator.clock import MINUTES_PER_DAY, day_index
from sources.simulator.config import SimulationConfig
from sources.simulator.drops import DropResult, FeedData, write
from sources.simulator.network import Network

log = logging.getLogger(__name__)

GERMAN_COUNTRIES = ("DE",)


@dataclass
class Summary:
    """What a run wrote."""

    plant_drops: int = 0
    supplier_drops: int = 0
    bytes: int = 0
    rows: Counter = field(default_factory=Counter)
    faults: list[faults.Fault] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, result: DropResult) -> None:
        if result.ref.source == SUPPLIERS:
            self.supplier_drops += 1
        else:
            self.plant_drops += 1
        self.bytes += result.bytes
        self.rows.update(result.rows)
        if result.fault:
            self.faults.append(result.fault)


class Simulation:
    """One config's network and its drops."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        self.network = Network(config)
        self.shipments = shipments.Shipments(self.network)
        self._timelines: dict[str, timeline.Timeline] = {}

    # -- what the run writes ------------------------------------------------------------------------
    def drops(self) -> list[DropRef]:
        """Every drop of the window: per date the supplier drop, then the plants that belong to the network."""
        refs = []
        for date in self.config.dates:
            refs.append(DropRef(date, SUPPLIERS))
            refs += [DropRef(date, p.plant_id) for p in self.network.plants if p.joined_on <= date]
        return refs

    def mapping_for(self, ref: DropRef) -> mapping.Mapping:
        if ref.source == SUPPLIERS:
            return mapping.get("plantlake_suppliers")
        if self.is_german(ref.source):
            return mapping.get("german_csv")
        return mapping.get("plantlake")

    def is_german(self, plant_id: str) -> bool:
        cfg = self.config
        return cfg.format == "csv" and cfg.german_csv and self.network.by_id[plant_id].site.country in GERMAN_COUNTRIES

    def fault_plan(self) -> dict[str, str]:
        if not self.config.messy:
            return {}
        slots = []
        parquet = self.config.format == "parquet"
        for ref in self.drops():
            if ref.source == SUPPLIERS:
                slots.append(faults.Slot(ref.drop_id, ref.scope, parquet=parquet))
            else:
                plant = self.network.by_id[ref.source]
                slots.append(faults.Slot(ref.drop_id, ref.scope, self.is_german(ref.source),
                                         plantday.production_day(plant, ref.date), parquet))
        return faults.assign(self.config.seed, self.config.messy_fraction, slots)

    # -- writing ------------------------------------------------------------------------------------
    def timeline(self, plant_id: str) -> timeline.Timeline:
        if plant_id not in self._timelines:
            lo = (day_index(self.config.start) - 31) * MINUTES_PER_DAY
            hi = (day_index(self.config.end) + 32) * MINUTES_PER_DAY
            self._timelines[plant_id] = timeline.build(self.config.seed, self.network.assets(plant_id), lo, hi)
        return self._timelines[plant_id]

    def plant_day(self, plant_id: str, date: dt.date, revision: int = 0) -> plantday.PlantDay:
        return plantday.plan(self.config.seed, self.network.assets(plant_id), self.timeline(plant_id), date, revision)

    def write_drop(self, ref: DropRef, fault: str | None, revision: int = 0) -> DropResult:
        cfg = self.config
        if ref.source == SUPPLIERS:
            tables = {**shipments.master(self.network), **self.shipments.drop(ref.date, revision)}
            feeds = [FeedData.of(feed, tables[feed]) for feed in tables]
            timezone = "UTC"
        else:
            day = self.plant_day(ref.source, ref.date, revision)
            master = plantday.master(day.assets)
            feeds = [FeedData.of(f, master[f]) for f in ("plants", "lines", "machines")]
            interval = cfg.telemetry_interval_s
            feeds.append(FeedData("telemetry", lambda: telemetry.chunks(day, cfg.chunk_machines, interval),
                                  telemetry.rows(day, interval)))
            feeds += [FeedData.of(f, day.feeds[f]) for f in ("production", "downtime_events", "maintenance",
                                                             "failures")]
            timezone = day.assets.plant.timezone
        result = write(cfg, ref, self.mapping_for(ref), feeds, timezone=timezone, fault=fault, revision=revision)
        log.debug("%s: %s rows, %s bytes%s", ref.drop_id, sum(result.rows.values()), result.bytes,
                  f", fault {fault}" if fault else "")
        return result

    def run(self, progress: Callable[[DropRef], None] | None = None) -> Summary:
        started = time.monotonic()
        plan = self.fault_plan()
        summary = Summary()
        refs = self.drops()
        log.info("simulating %d plants x %d machines, %d suppliers, %d days from %s: %d drops into %s",
                 len(self.network.plants), self.config.machines_per_plant, self.config.suppliers,
                 self.config.days, self.config.start, len(refs), self.config.landing)
        for ref in refs:
            summary.add(self.write_drop(ref, plan.get(ref.drop_id)))
            if progress:
                progress(ref)
        faults.write(self.config.landing, summary.faults, {r.drop_id for r in refs}, self.config.settings)
        summary.seconds = time.monotonic() - started
        return summary


def simulate(config: SimulationConfig, progress: Callable[[DropRef], None] | None = None) -> Summary:
    """Write every drop of the config into its landing zone (see docs/simulator.md)."""
    return Simulation(config).run(progress)


def resend_drop(config: SimulationConfig, drop: str | DropRef, revision: int = 0) -> Manifest:
    """Rewrite one drop of a simulation, as a plant or the supplier portal would resend it.

    ``revision=0`` writes the original content again (byte-identical files and manifest,
    with the drop's fault if the run was messy); ``revision=n`` writes the n-th corrected
    version: other readings and counts, a later ``created_at``, no fault. ``_faults.json``
    follows.
    """
    ref = DropRef.parse(drop) if isinstance(drop, str) else drop
    sim = Simulation(config)
    if ref not in set(sim.drops()):
        raise ValueError(f"{ref.drop_id} is not a drop of this simulation")
    fault = sim.fault_plan().get(ref.drop_id) if revision == 0 else None
    result = sim.write_drop(ref, fault, revision)
    faults.write(config.landing, [result.fault] if result.fault else [], {ref.drop_id}, config.settings)
    return result.manifest
