"""The production network: plants, their lines and machines (suppliers: :mod:`.suppliers`).

Everything is drawn from seeded streams, so the same flags give the same network; a
plant's lines and machines come from the plant's own stream and do not change when the
network grows.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np

from sources.simulator import sensors, suppliers
from sources.simulator.components import CRITICALITY_FACTOR
from sources.simulator.config import SimulationConfig
from sources.simulator.geography import Site, plant_sites
from sources.simulator.seeds import rng
from sources.simulator.suppliers import SupplyNetwork

#: The date plant OEE levels refer to; trends run from here.
REFERENCE_DATE = dt.date(2026, 1, 1)

#: Labour and downtime cost level by country (1.0 = Germany).
COST_LEVEL = {
    "DE": 1.0, "FR": 0.95, "ES": 0.8, "IT": 0.85, "GB": 0.9, "BE": 0.95, "AT": 0.95, "SE": 1.0, "CZ": 0.55,
    "SK": 0.5, "PL": 0.5, "HU": 0.5, "RO": 0.4, "SI": 0.6, "PT": 0.6, "TR": 0.45, "US": 0.95, "CA": 0.9,
    "MX": 0.4, "BR": 0.45, "AR": 0.45, "CO": 0.35, "CN": 0.5, "JP": 0.9, "KR": 0.8, "IN": 0.3, "TH": 0.35,
    "ID": 0.3, "ZA": 0.4, "MA": 0.3, "EG": 0.3,
}

LINE_TYPES = ("body", "assembly", "paint", "press", "powertrain")
#: Machine types on each kind of line, with their shares.
LINE_MACHINES = {
    "press": {"press": 0.6, "conveyor": 0.2, "body_robot": 0.2},
    "body": {"body_robot": 0.5, "welder": 0.3, "conveyor": 0.2},
    "paint": {"paint_robot": 0.7, "conveyor": 0.3},
    "assembly": {"assembly_robot": 0.5, "conveyor": 0.3, "cnc": 0.2},
    "powertrain": {"cnc": 0.6, "assembly_robot": 0.2, "press": 0.1, "conveyor": 0.1},
}
#: Ideal cycle time range (s) and line cost rate (EUR per hour of standstill at cost level 1).
LINE_CYCLE_S = {"press": (4.0, 8.0), "body": (50.0, 65.0), "paint": (55.0, 75.0), "assembly": (52.0, 62.0),
                "powertrain": (25.0, 45.0)}
LINE_RATE_EUR_H = {"press": 5000.0, "body": 9000.0, "paint": 8000.0, "assembly": 12000.0, "powertrain": 7000.0}
MODELS = {
    "press": ("HP-800", "HP-1250", "SP-2500"), "body_robot": ("RX-165", "RX-210", "RX-270"),
    "paint_robot": ("PX-7", "PX-9"), "cnc": ("MC-500", "MC-630", "HC-800"), "conveyor": ("SK-200", "OH-400", "FB-120"),
    "welder": ("SW-250", "SW-400", "LW-6"), "assembly_robot": ("AR-12", "AR-20", "AR-35"),
}
SHIFT_MINUTES = 480.0
PM_WEEKS = {"A": 8, "B": 12, "C": 16}  # preventive maintenance interval by criticality
MEAN_STOP_MINUTES = 25.0


@dataclass(frozen=True)
class Plant:
    """A plant and the levers of its behaviour (documented in docs/simulator.md)."""

    index: int
    plant_id: str
    name: str
    site: Site
    joined_on: dt.date
    cost_level: float
    labour_rate_eur_h: float
    oee_ref: float  # OEE at REFERENCE_DATE
    oee_trend: float  # relative OEE change per year (the productivity trend)
    quality: float  # first-pass yield
    stops_per_shift: float  # minor stops (setup, material, quality) per shift
    first_shift_hour: int
    saturday_shift: bool
    mtbf_days: float  # mean time between failures of its machines

    @property
    def timezone(self) -> str:
        return self.site.timezone

    def oee_at(self, date: dt.date) -> float:
        years = (date - REFERENCE_DATE).days / 365.25
        return float(np.clip(self.oee_ref * (1 + self.oee_trend * years), 0.3, 0.9))

    @property
    def expected_availability(self) -> float:
        return 1 - self.stops_per_shift * MEAN_STOP_MINUTES / SHIFT_MINUTES - 0.03

    def performance_at(self, date: dt.date) -> float:
        """Speed against the ideal cycle time that gives the plant its OEE on that date."""
        return float(np.clip(self.oee_at(date) / (self.expected_availability * self.quality), 0.45, 0.98))


@dataclass
class Assets:
    """Lines and machines of one plant, as arrays (index = machine number - 1)."""

    plant: Plant
    line_id: list[str]
    line_name: list[str]
    line_type: list[str]
    ideal_cycle_s: np.ndarray
    planned_shifts: np.ndarray
    line_rate_eur_h: np.ndarray
    machine_id: np.ndarray  # str objects
    machine_line: np.ndarray  # line index
    machine_type: list[str]
    model: list[str]
    install_date: list[dt.date]
    criticality: np.ndarray  # "A"/"B"/"C"
    downtime_cost_eur_h: np.ndarray
    mtbf_days: np.ndarray
    pm_weeks: np.ndarray
    pm_phase: np.ndarray
    pm_minute: np.ndarray  # wall-clock minute of the day PM starts
    comp_options: np.ndarray  # (M, 4) component indices, padded with the last one
    comp_cum: np.ndarray  # (M, 4) cumulative failure shares
    level: np.ndarray  # (M, 7) running level of each sensor
    has: np.ndarray  # (M, 7) which sensors the machine reports
    noise: np.ndarray  # (M, 7) noise scale
    slack: np.ndarray  # (M,) cycle time factor of the machine

    @property
    def machines(self) -> int:
        return len(self.machine_id)

    @property
    def lines(self) -> int:
        return len(self.line_id)

    @functools.cached_property
    def line_members(self) -> list[np.ndarray]:
        """Machine indices of each line."""
        return [np.flatnonzero(self.machine_line == j) for j in range(self.lines)]

    @functools.cached_property
    def baseline_units_per_hour(self) -> float:
        """Good units per planned line-hour when the plant joined (its productivity baseline)."""
        hours = self.planned_shifts * SHIFT_MINUTES / 60
        rate = 3600.0 / self.ideal_cycle_s * self.plant.oee_at(self.plant.joined_on)
        return float(round((rate * hours).sum() / max(hours.sum(), 1e-9), 1))


def _plants(config: SimulationConfig) -> list[Plant]:
    sites = plant_sites()[: config.plants]
    joining = 0 if config.plants < 4 else max(1, round(0.03 * config.plants))
    plants = []
    for index, (plant_id, site) in enumerate(sites):
        r = rng(config.seed, "plant", plant_id)
        joined = dt.date(2006, 1, 1) + dt.timedelta(days=int(r.integers(0, 19 * 365)))
        if index >= config.plants - joining:
            joined = config.start + dt.timedelta(days=int(config.days * r.uniform(0.3, 0.7)))
        elif joined >= config.start:
            joined = config.start - dt.timedelta(days=365 + int(r.integers(0, 3 * 365)))
        level = COST_LEVEL.get(site.country, 0.5)
        name = f"{'Werk' if site.country in ('DE', 'AT') else 'Plant'} {site.city}"
        plants.append(Plant(
            index=index,
            plant_id=plant_id,
            name=name,
            site=site,
            joined_on=joined,
            cost_level=level,
            labour_rate_eur_h=float(round(25 + 70 * level)),
            oee_ref=float(r.uniform(0.64, 0.86)),
            oee_trend=float(np.clip(r.normal(0.03, 0.025), -0.03, 0.08)),
            quality=float(r.uniform(0.965, 0.995)),
            stops_per_shift=float(r.uniform(0.8, 2.2)),
            first_shift_hour=int(r.choice([5, 6, 6, 7])),
            saturday_shift=bool(r.random() < 0.5),
            mtbf_days=float(r.uniform(48, 72)),
        ))
    return plants


def _assets(config: SimulationConfig, plant: Plant) -> Assets:
    r = rng(config.seed, "assets", plant.plant_id)
    m = config.machines_per_plant
    n_lines = max(int(np.ceil(m / 40)), min(m // 2, 2), 1)
    order = LINE_TYPES[plant.index % len(LINE_TYPES):] + LINE_TYPES[: plant.index % len(LINE_TYPES)]
    line_type = [order[j % len(order)] for j in range(n_lines)]
    counts = [line_type[: j + 1].count(t) for j, t in enumerate(line_type)]
    line_id = [f"{plant.plant_id}-L{j + 1:02d}" for j in range(n_lines)]
    line_name = [f"{t.capitalize()} {c}" for t, c in zip(line_type, counts, strict=True)]
    ideal = np.array([round(r.uniform(*LINE_CYCLE_S[t]), 1) for t in line_type])
    shifts = np.array([3 if t in ("body", "paint", "press") else int(r.choice([2, 3])) for t in line_type])
    rate = np.array([round(LINE_RATE_EUR_H[t] * plant.cost_level * r.uniform(0.8, 1.2), -1) for t in line_type])

    machine_line = np.arange(m) * n_lines // m  # machines spread evenly over the lines, in order
    machine_type = []
    for j in range(n_lines):
        share = LINE_MACHINES[line_type[j]]
        k = int((machine_line == j).sum())
        machine_type += list(r.choice(list(share), size=k, p=list(share.values())))
    machine_type = [str(t) for t in machine_type]
    crit = r.choice(np.array(["A", "B", "C"]), size=m, p=[0.2, 0.45, 0.35])
    downtime_cost = np.round(rate[machine_line] * np.vectorize(CRITICALITY_FACTOR.get)(crit), -1)
    models = [str(r.choice(MODELS[t])) for t in machine_type]
    install = [plant.joined_on - dt.timedelta(days=int(d)) for d in r.integers(0, 3650, size=m)]

    type_factor = np.array([sensors.MTBF_FACTOR[t] for t in machine_type])
    mtbf = np.clip(plant.mtbf_days * type_factor * r.lognormal(0, 0.15, size=m), 30, 120)
    pm_weeks = np.vectorize(PM_WEEKS.get)(crit)
    pm_phase = (r.random(m) * pm_weeks).astype(np.int64)
    pm_minute = 7 * 60 + (np.arange(m) % 6) * 60

    comp_options = np.zeros((m, 4), dtype=np.int64)
    comp_cum = np.ones((m, 4))
    level = np.zeros((m, len(sensors.SENSORS)))
    has = np.zeros((m, len(sensors.SENSORS)), dtype=bool)
    for i, t in enumerate(machine_type):
        idx, cum = sensors.component_table(t)
        comp_options[i, : len(idx)], comp_options[i, len(idx):] = idx, idx[-1]
        comp_cum[i, : len(cum)] = cum
        level[i], has[i] = sensors.levels(t), sensors.has_sensor(t)
    level = level * (1 + sensors.BASELINE_SPREAD * r.standard_normal(level.shape))
    noise = r.lognormal(0, 0.2, size=level.shape)
    slack = 1 + np.abs(r.normal(0, 0.02, size=m))
    return Assets(
        plant=plant, line_id=line_id, line_name=line_name, line_type=line_type, ideal_cycle_s=ideal,
        planned_shifts=shifts, line_rate_eur_h=rate,
        machine_id=np.array([f"{plant.plant_id}-M{i + 1:04d}" for i in range(m)], dtype=object),
        machine_line=machine_line, machine_type=machine_type, model=models, install_date=install,
        criticality=crit, downtime_cost_eur_h=downtime_cost, mtbf_days=mtbf, pm_weeks=pm_weeks,
        pm_phase=pm_phase, pm_minute=pm_minute, comp_options=comp_options, comp_cum=comp_cum, level=level,
        has=has, noise=noise, slack=slack,
    )


class Network:
    """The whole simulated network for one config; plants' assets are built on first use."""

    def __init__(self, config: SimulationConfig):
        self.config = config
        self.plants = _plants(config)
        self.by_id = {p.plant_id: p for p in self.plants}
        self._assets: dict[str, Assets] = {}

    @functools.cached_property
    def supply(self) -> SupplyNetwork:
        return suppliers.build(self.config, self.plants)

    def assets(self, plant_id: str) -> Assets:
        if plant_id not in self._assets:
            self._assets[plant_id] = _assets(self.config, self.by_id[plant_id])
        return self._assets[plant_id]
