"""Machine histories: when each machine degrades, fails or is saved by preventive maintenance.

Per machine, failures follow a renewal process counted from :data:`~sources.simulator.clock.EPOCH`
in the plant's wall-clock minutes: after each repair (or averted failure) the next failure
comes 15 days plus a gamma-distributed time later (mean: the machine's MTBF). 75 % of
failures are *warned*: their component degrades for 5-14 days before (severity rising from
0.1 to 1), and preventive maintenance that lands inside that window replaces the worn part
and averts the failure. The rest strike without warning. Harmless drifts (about one per
machine every 120 days, 2-8 days long) touch one sensor and end without failure.

All machines of a plant are drawn together, step by step, from the plant's own stream,
so a date's history is the same whatever window is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sources.simulator import sensors
from sources.simulator.clock import MINUTES_PER_DAY
from sources.simulator.components import COMPONENTS, NAMES
from sources.simulator.network import Assets
from sources.simulator.seeds import rng

WARNED_SHARE = 0.75
LEAD_DAYS = (7.0, 14.0)
MIN_GAP_DAYS = 15.0  # > the longest lead: a degradation never starts before the last repair
DRIFT_MEAN_GAP_DAYS = 120.0
DRIFT_DAYS = (2.0, 8.0)
ONSET_SEVERITY = 0.25

_REPAIR_MIN = np.array([COMPONENTS[n].repair_hours * 60 for n in NAMES])
_PM_MIN = np.array([COMPONENTS[n].pm_hours * 60 for n in NAMES])


def pm_minutes(assets: Assets) -> np.ndarray:
    """Downtime of a machine's preventive maintenance: its components one after the other."""
    return np.array([_PM_MIN[np.unique(opts)].sum() for opts in assets.comp_options])


def next_pm(assets: Assets, machines: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Wall minute of each machine's first preventive maintenance at or after ``wall``.

    Maintenance runs on Sundays (the plants do not produce), every 8, 12 or 16 weeks by
    criticality A, B, C, starting at the machine's slot between 07:00 and 12:00.
    """
    period, phase, slot = assets.pm_weeks[machines], assets.pm_phase[machines], assets.pm_minute[machines]
    day = wall // MINUTES_PER_DAY
    week = -(-(day - 1) // 7)  # first Sunday on or after the day
    too_late = (1 + 7 * week == day) & (wall % MINUTES_PER_DAY > slot)
    week = week + too_late
    week = week + (phase - week) % period
    return (1 + 7 * week) * MINUTES_PER_DAY + slot


def last_pm(assets: Assets, machines: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Wall minute of each machine's last preventive maintenance before ``wall``."""
    period = assets.pm_weeks[machines] * 7 * MINUTES_PER_DAY
    nxt = next_pm(assets, machines, wall)
    return nxt - period


@dataclass
class Timeline:
    """Degradation episodes and drifts of one plant's machines that touch a window."""

    machine: np.ndarray
    at: np.ndarray  # when the failure strikes (or would have)
    onset: np.ndarray  # when degradation starts (== at for unwarned failures)
    end: np.ndarray  # when the episode ends: the failure, or the preventive maintenance that averted it
    component: np.ndarray
    warned: np.ndarray
    averted: np.ndarray
    amp: np.ndarray  # strength of the signature
    power: np.ndarray  # shape of the severity curve
    repair_min: np.ndarray
    drift_machine: np.ndarray
    drift_start: np.ndarray
    drift_end: np.ndarray
    drift_sensor: np.ndarray  # index into sensors.DRIFT_SENSORS
    drift_mag: np.ndarray

    @property
    def failed(self) -> np.ndarray:
        return ~self.averted


def build(seed: int, assets: Assets, wall_lo: int, wall_hi: int) -> Timeline:
    """Every episode of the plant's machines that overlaps [wall_lo, wall_hi] (wall minutes)."""
    plant_id = assets.plant.plant_id
    m = assets.machines
    machines = np.arange(m)
    mtbf = assets.mtbf_days
    pm_min = pm_minutes(assets)
    r = rng(seed, plant_id, "timeline")
    reset = -(r.uniform(0, 1, m) * mtbf * MINUTES_PER_DAY).astype(np.int64)
    keep: list[tuple[np.ndarray, ...]] = []
    while True:
        gap = MIN_GAP_DAYS + r.gamma(2.0, (mtbf - MIN_GAP_DAYS) / 2.0)
        at = reset + (gap * MINUTES_PER_DAY).astype(np.int64)
        choice = (r.random(m)[:, None] > assets.comp_cum).sum(axis=1).clip(0, 3)
        comp = assets.comp_options[machines, choice]
        warned = r.random(m) < WARNED_SHARE
        lead = (r.uniform(*LEAD_DAYS, m) * MINUTES_PER_DAY).astype(np.int64)
        amp = r.uniform(0.7, 1.3, m)
        power = r.uniform(0.8, 1.6, m)
        repair = np.maximum(30, (_REPAIR_MIN[comp] * r.lognormal(0, 0.3, m)).round()).astype(np.int64)
        onset = np.where(warned, at - lead, at)
        pm = next_pm(assets, machines, onset)
        averted = warned & (pm < at)
        end = np.where(averted, pm, at)
        after = np.where(averted, pm + pm_min, at + repair)
        hit = (after >= wall_lo) & (onset <= wall_hi)
        keep.append(tuple(a[hit] for a in (machines, at, onset, end, comp, warned, averted, amp, power, repair)))
        reset = after
        if reset.min() > wall_hi:
            break
    cols = [np.concatenate(c) for c in zip(*keep, strict=True)]

    r = rng(seed, plant_id, "drift")
    t = -(r.uniform(0, DRIFT_MEAN_GAP_DAYS, m) * MINUTES_PER_DAY).astype(np.int64)
    drifts: list[tuple[np.ndarray, ...]] = []
    while True:
        start = t + ((1 + r.exponential(DRIFT_MEAN_GAP_DAYS, m)) * MINUTES_PER_DAY).astype(np.int64)
        stop = start + (r.uniform(*DRIFT_DAYS, m) * MINUTES_PER_DAY).astype(np.int64)
        sensor = r.integers(0, len(sensors.DRIFT_SENSORS), m)
        mag = r.uniform(0.4, 1.0, m)
        hit = (stop >= wall_lo) & (start <= wall_hi)
        drifts.append((machines[hit], start[hit], stop[hit], sensor[hit], mag[hit]))
        t = stop
        if t.min() > wall_hi:
            break
    dcols = [np.concatenate(c) for c in zip(*drifts, strict=True)]

    order = np.lexsort((cols[1], cols[0]))
    dorder = np.lexsort((dcols[1], dcols[0]))
    machine, at, onset, end, comp, warned, averted, amp, power, repair = (c[order] for c in cols)
    return Timeline(
        machine=machine.astype(np.int64), at=at.astype(np.int64), onset=onset.astype(np.int64),
        end=end.astype(np.int64), component=comp.astype(np.int64), warned=warned.astype(bool),
        averted=averted.astype(bool), amp=amp.astype(float), power=power.astype(float),
        repair_min=repair.astype(np.int64),
        drift_machine=dcols[0][dorder].astype(np.int64), drift_start=dcols[1][dorder].astype(np.int64),
        drift_end=dcols[2][dorder].astype(np.int64), drift_sensor=dcols[3][dorder].astype(np.int64),
        drift_mag=dcols[4][dorder].astype(float),
    )


def severity(onset: np.ndarray, at: np.ndarray, end: np.ndarray, power: np.ndarray, amp: np.ndarray,
             wall: np.ndarray) -> np.ndarray:
    """Degradation severity at wall minutes: rows are episodes (or machines), columns minutes.

    0 outside [onset, end); inside it rises from ``ONSET_SEVERITY`` to 1 at the failure,
    times the episode's amplitude.
    """
    onset, at, end = onset[:, None], at[:, None], end[:, None]
    span = np.maximum(at - onset, 1)
    frac = np.clip((wall - onset) / span, 0.0, 1.0) ** power[:, None]
    active = (wall >= onset) & (wall < end) & (at > onset)
    return np.where(active, (ONSET_SEVERITY + (1 - ONSET_SEVERITY) * frac) * amp[:, None], 0.0)


def drift_level(start: np.ndarray, stop: np.ndarray, mag: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """Strength of harmless drifts: ramps up over the first 30 % of the episode, then holds."""
    start, stop = start[:, None], stop[:, None]
    ramp = np.clip((wall - start) / np.maximum(0.3 * (stop - start), 1), 0.0, 1.0)
    return np.where((wall >= start) & (wall < stop), ramp * mag[:, None], 0.0)
