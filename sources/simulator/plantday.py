"""One plant's production date: shifts, stops, failures, maintenance, alarms and output.

The plan of a day holds everything except the per-minute telemetry, which is streamed in
chunks from it (:mod:`sources.simulator.telemetry`). Events belong to the drop of the
local date they start on; a shift or a repair that runs past midnight still shapes the
next day's readings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from sources.simulator import sensors, timeline
from sources.simulator.clock import MINUTES_PER_DAY, Clock, date_of, day_index, weekday
from sources.simulator.components import COMPONENTS, NAMES
from sources.simulator.network import SHIFT_MINUTES, Assets, Plant
from sources.simulator.seeds import rng
from sources.simulator.tables import table

STOP_KINDS = ("setup", "material_shortage", "quality")
STOP_CODES = ("SETUP", "MAT-SHORT", "QUAL-HOLD")
STOP_SHARE = (0.5, 0.3, 0.2)
FALSE_ALARMS_PER_DAY = 0.25
DEGRADATION_ALARMS_PER_DAY = 5.0  # at full severity
DRIFT_ALARMS_PER_DAY = 1.5
_DRIFT_ALARM = {sensors.TEMP: "motor", sensors.VIB: "bearing", sensors.CUR: "spindle", sensors.PRES: "hydraulics"}


@dataclass
class Intervals:
    """Half-open wall-clock intervals [start, end) owned by a line or a machine."""

    owner: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @classmethod
    def of(cls, owner, start, end) -> Intervals:
        return cls(np.asarray(owner, dtype=np.int64), np.asarray(start, dtype=np.int64),
                   np.asarray(end, dtype=np.int64))

    def __add__(self, other: Intervals) -> Intervals:
        return Intervals.of(np.concatenate([self.owner, other.owner]), np.concatenate([self.start, other.start]),
                            np.concatenate([self.end, other.end]))

    def near(self, lo: int, hi: int) -> Intervals:
        """Only the intervals that overlap [lo, hi)."""
        hit = (self.end > lo) & (self.start < hi)
        return Intervals.of(self.owner[hit], self.start[hit], self.end[hit])

    def mask(self, owners: np.ndarray, wall: np.ndarray) -> np.ndarray:
        """(len(owners), len(wall)) booleans: inside any interval of that owner."""
        out = np.zeros((len(owners), len(wall)), dtype=bool)
        row = {int(o): i for i, o in enumerate(owners)}
        for o, s, e in zip(self.owner, self.start, self.end, strict=True):
            i = row.get(int(o))
            if i is not None and e > wall[0] and s <= wall[-1]:
                out[i] |= (wall >= s) & (wall < e)
        return out


def shifts(assets: Assets, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(line, shift number, start wall minute) of the shifts planned on a day.

    Monday to Friday every planned shift, Saturday one shift in plants that work
    Saturdays, Sunday none.
    """
    plant = assets.plant
    wd = int(weekday(day))
    runs = production_day(plant, date_of(day))
    lines, numbers, starts = [], [], []
    for j in range(assets.lines):
        n = 0 if not runs else int(assets.planned_shifts[j]) if wd < 5 else 1
        for s in range(n):
            lines.append(j)
            numbers.append(s + 1)
            starts.append(day * MINUTES_PER_DAY + plant.first_shift_hour * 60 + s * int(SHIFT_MINUTES))
    return np.array(lines, dtype=np.int64), np.array(numbers, dtype=np.int64), np.array(starts, dtype=np.int64)


def minor_stops(seed: int, assets: Assets, date: dt.date, revision: int) -> tuple[Intervals, np.ndarray, np.ndarray]:
    """Setups, material shortages and quality holds of the shifts starting on ``date``.

    Returns the line intervals, the machine each stop is booked on, and the stop kind.
    """
    lines, _, starts = shifts(assets, day_index(date))
    r = rng(seed, assets.plant.plant_id, date, "stops", revision)
    counts = r.poisson(assets.plant.stops_per_shift, size=len(lines))
    n = int(counts.sum())
    kind = r.choice(len(STOP_KINDS), size=n, p=STOP_SHARE)
    offset = r.uniform(0, SHIFT_MINUTES - 5, size=n).astype(np.int64)
    duration = np.choose(kind, [r.uniform(10, 40, n), np.clip(r.lognormal(np.log(30), 0.5, n), 10, 120),
                                r.uniform(5, 30, n)]).astype(np.int64)
    pick = r.random(n)
    line = np.repeat(lines, counts)
    shift_start = np.repeat(starts, counts)
    start = shift_start + offset
    end = np.minimum(start + duration, shift_start + int(SHIFT_MINUTES))
    members = assets.line_members
    machine = np.array([members[j][int(u * len(members[j]))] for j, u in zip(line, pick, strict=True)],
                       dtype=np.int64)
    return Intervals.of(line, start, end), machine, kind


def _failure_draws(seed: int, assets: Assets, machine: int, at: int, component: int) -> tuple[str, float, float]:
    """Failure mode, parts cost and labour hours of one failure: the same in every drop that shows it."""
    comp = COMPONENTS[NAMES[component]]
    r = rng(seed, assets.plant.plant_id, "repair", int(machine), int(at))
    mode = str(r.choice(comp.failure_modes))
    parts = round(comp.repair_parts_eur * float(r.lognormal(0, 0.2)), 2)
    labour = round(comp.repair_labour_h * float(r.uniform(0.8, 1.3)), 1)
    return mode, parts, labour


@dataclass
class PlantDay:
    """The plan of one plant's production date; ``feeds`` holds every feed but telemetry."""

    seed: int
    assets: Assets
    date: dt.date
    revision: int
    clock: Clock
    grid_utc: np.ndarray
    grid_wall: np.ndarray
    line_active: np.ndarray  # (lines, minutes): a planned shift runs and the line is not stopped
    down: Intervals  # per machine: under repair or preventive maintenance
    deg: dict[str, np.ndarray]  # per machine: the degradation episode touching the day
    drift: dict[str, np.ndarray]  # per machine: the harmless drift touching the day
    wear: np.ndarray  # per machine: vibration factor from time since the last preventive maintenance
    ambient: np.ndarray  # per minute: hall temperature (degC)
    performance: float
    feeds: dict[str, pa.Table]

    @property
    def minutes(self) -> int:
        return len(self.grid_utc)

    @property
    def telemetry_rows(self) -> int:
        return self.assets.machines * self.minutes


def _episodes_for_day(tl: timeline.Timeline, m: int, d0: int, d1: int) -> tuple[dict, dict]:
    hit = (tl.onset < d1) & (tl.end > d0) & (tl.at > tl.onset)
    deg = {"onset": np.full(m, -1, np.int64), "at": np.full(m, -1, np.int64), "end": np.full(m, -1, np.int64),
           "power": np.ones(m), "amp": np.zeros(m), "component": np.zeros(m, np.int64)}
    for key, src in (("onset", tl.onset), ("at", tl.at), ("end", tl.end), ("power", tl.power), ("amp", tl.amp),
                     ("component", tl.component)):
        deg[key][tl.machine[hit]] = src[hit]
    hit = (tl.drift_start < d1) & (tl.drift_end > d0)
    drift = {"start": np.full(m, -1, np.int64), "end": np.full(m, -1, np.int64), "sensor": np.zeros(m, np.int64),
             "mag": np.zeros(m)}
    for key, src in (("start", tl.drift_start), ("end", tl.drift_end), ("sensor", tl.drift_sensor),
                     ("mag", tl.drift_mag)):
        drift[key][tl.drift_machine[hit]] = src[hit]
    return deg, drift


def plan(seed: int, assets: Assets, tl: timeline.Timeline, date: dt.date, revision: int = 0) -> PlantDay:
    """Everything that happens in a plant on its local production date."""
    plant = assets.plant
    clock = Clock(plant.timezone)
    m = assets.machines
    day = day_index(date)
    d0, d1 = day * MINUTES_PER_DAY, (day + 1) * MINUTES_PER_DAY
    grid_utc, grid_wall = clock.day_grid(date)
    all_lines = np.arange(assets.lines)

    # yesterday's night shift and its stops run into today's first hours
    shift_iv = Intervals.of([], [], [])
    for d in (day - 1, day):
        lines, _, starts = shifts(assets, d)
        shift_iv = shift_iv + Intervals.of(lines, starts, starts + int(SHIFT_MINUTES))
    today_stops = minor_stops(seed, assets, date, revision)
    stop_iv = minor_stops(seed, assets, date - dt.timedelta(days=1), revision)[0] + today_stops[0]

    failed = tl.failed
    fail_iv = Intervals.of(tl.machine[failed], tl.at[failed], tl.at[failed] + tl.repair_min[failed])
    crit_a = assets.criticality[fail_iv.owner] == "A"
    line_down = Intervals.of(assets.machine_line[fail_iv.owner[crit_a]], fail_iv.start[crit_a], fail_iv.end[crit_a])
    pm_min = timeline.pm_minutes(assets)
    machines = np.arange(m)
    pm_prev = timeline.next_pm(assets, machines, np.full(m, d0 - MINUTES_PER_DAY))
    pm_today = timeline.next_pm(assets, machines, np.full(m, d0))
    pm_iv = Intervals.of(np.concatenate([machines, machines]), np.concatenate([pm_prev, pm_today]),
                         np.concatenate([pm_prev + pm_min, pm_today + pm_min]))
    fail_iv = fail_iv.near(d0 - MINUTES_PER_DAY, d1 + MINUTES_PER_DAY)
    line_down = line_down.near(d0 - MINUTES_PER_DAY, d1 + MINUTES_PER_DAY)
    down = (fail_iv + pm_iv).near(d0, d1)
    line_active = shift_iv.mask(all_lines, grid_wall) & ~(stop_iv + line_down).mask(all_lines, grid_wall)

    deg, drift = _episodes_for_day(tl, m, d0, d1)
    since_pm = (d0 - timeline.last_pm(assets, machines, np.full(m, d0))) / (7 * MINUTES_PER_DAY * assets.pm_weeks)
    wear = 1 + 0.12 * np.clip(since_pm, 0, 1.5)

    r = rng(seed, plant.plant_id, date, "ambient", revision)
    season = np.cos(2 * np.pi * (date.timetuple().tm_yday - 200) / 365.25) * np.sign(plant.site.lat)
    minute_of_day = grid_wall - d0
    ambient = (22 + 6 * season * min(abs(plant.site.lat) / 50, 1) + r.normal(0, 1)
               + 2 * np.cos(2 * np.pi * (minute_of_day - 900) / MINUTES_PER_DAY))

    day_plan = PlantDay(seed=seed, assets=assets, date=date, revision=revision, clock=clock, grid_utc=grid_utc,
                        grid_wall=grid_wall, line_active=line_active, down=down, deg=deg, drift=drift, wear=wear,
                        ambient=ambient, performance=plant.performance_at(date), feeds={})
    day_plan.feeds = {
        "production": _production(day_plan, stop_iv + line_down, fail_iv),
        "downtime_events": _downtime(day_plan, tl, today_stops, pm_today, pm_min, d0, d1),
        "maintenance": _maintenance(day_plan, tl, pm_today, d0, d1),
        "failures": _failures(day_plan, tl, d0, d1),
    }
    return day_plan


def _production(day: PlantDay, line_stops: Intervals, fail_iv: Intervals) -> pa.Table:
    """Per line and shift: planned and run minutes, total and good units.

    Run time loses every line stop; B-critical machines under repair slow the line by up
    to 30 %; the slowest degrading machine sets the pace; a worn paint nozzle costs quality.
    """
    assets, plant = day.assets, day.assets.plant
    lines, numbers, starts = shifts(assets, day_index(day.date))
    ends = starts + int(SHIFT_MINUTES)
    r = rng(day.seed, plant.plant_id, day.date, "production", day.revision)
    members = assets.line_members
    crit_b = assets.criticality[fail_iv.owner] == "B"
    b_iv = Intervals.of(assets.machine_line[fail_iv.owner[crit_b]], fail_iv.start[crit_b], fail_iv.end[crit_b])
    nozzle = NAMES.index("nozzle")
    planned, run, total, good = [], [], [], []
    utc = day.clock.to_utc(np.concatenate([starts, ends])) if len(starts) else np.zeros(0, np.int64)
    for k, (j, s, e) in enumerate(zip(lines, starts, ends, strict=True)):
        wall = np.arange(s, e)
        stopped = int(line_stops.mask(np.array([j]), wall).sum())
        slowed = int(b_iv.mask(np.array([j]), wall).sum())
        on = members[j]
        sev = timeline.severity(day.deg["onset"][on], day.deg["at"][on], day.deg["end"][on], day.deg["power"][on],
                                day.deg["amp"][on], np.array([(s + e) // 2]))[:, 0]
        comp = day.deg["component"][on]
        slow = 1 + float(np.max(sensors.SIGNATURE[comp, sensors.CYCLE] * sev, initial=0.0))
        quality = plant.quality * (1 - 0.05 * float(np.max(sev * (comp == nozzle), initial=0.0)))
        minutes = float(utc[len(starts) + k] - utc[k])
        run_min = max(0.0, minutes - stopped)
        perf = day.performance * (1 - 0.3 * slowed / SHIFT_MINUTES) / slow * r.normal(1, 0.015)
        units = int(run_min * 60 / assets.ideal_cycle_s[j] * perf)
        planned.append(minutes)
        run.append(run_min)
        total.append(units)
        good.append(int(r.binomial(units, min(quality, 1.0))))
    return table("production", {
        "line_id": [assets.line_id[j] for j in lines], "shift": numbers,
        "shift_start": utc[: len(starts)], "shift_end": utc[len(starts):],
        "planned_minutes": np.array(planned, dtype=float), "run_minutes": np.array(run, dtype=float),
        "total_count": np.array(total, dtype=np.int64), "good_count": np.array(good, dtype=np.int64),
    })


def _alarms(day: PlantDay, d0: int, d1: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Alarms: a few false ones on every machine, many more of the degrading component's code."""
    assets = day.assets
    m = assets.machines
    hours = np.arange(d0 + 30, d1, 60)
    deg_sev = timeline.severity(day.deg["onset"], day.deg["at"], day.deg["end"], day.deg["power"], day.deg["amp"],
                                hours).mean(axis=1)
    drift = timeline.drift_level(day.drift["start"], day.drift["end"], day.drift["mag"], hours).mean(axis=1)
    deg_rate = DEGRADATION_ALARMS_PER_DAY * deg_sev
    drift_rate = DRIFT_ALARMS_PER_DAY * drift
    rate = FALSE_ALARMS_PER_DAY + deg_rate + drift_rate
    r = rng(day.seed, assets.plant.plant_id, day.date, "alarms", day.revision)
    counts = r.poisson(rate)
    machine = np.repeat(np.arange(m), counts)
    n = len(machine)
    u = r.random(n) * rate[machine]
    minute = d0 + (r.random(n) * MINUTES_PER_DAY).astype(np.int64)
    pick = r.random(n)
    codes = []
    for i, mach in enumerate(machine):
        if u[i] < deg_rate[mach]:
            comp = NAMES[day.deg["component"][mach]]
        elif u[i] < deg_rate[mach] + drift_rate[mach]:
            comp = _DRIFT_ALARM[sensors.DRIFT_SENSORS[day.drift["sensor"][mach]]]
        else:
            options = np.unique(assets.comp_options[mach])
            comp = NAMES[options[int(pick[i] * len(options))]]
        codes.append(COMPONENTS[comp].alarm)
    return machine, minute, codes


def _downtime(day: PlantDay, tl: timeline.Timeline, stops, pm_today: np.ndarray, pm_min: np.ndarray,
              d0: int, d1: int) -> pa.Table:
    assets = day.assets
    rows_m, rows_s, rows_e, rows_code, rows_cat = [], [], [], [], []

    hit = tl.failed & (tl.at >= d0) & (tl.at < d1)
    for mach, at, rep, comp in zip(tl.machine[hit], tl.at[hit], tl.repair_min[hit], tl.component[hit], strict=True):
        rows_m.append(mach), rows_s.append(at), rows_e.append(at + rep)
        rows_code.append(f"{COMPONENTS[NAMES[comp]].code}-FAIL"), rows_cat.append("breakdown")
    pm = np.flatnonzero((pm_today >= d0) & (pm_today < d1))
    for mach in pm:
        rows_m.append(mach), rows_s.append(pm_today[mach]), rows_e.append(pm_today[mach] + pm_min[mach])
        rows_code.append("PM"), rows_cat.append("planned")
    iv, stop_machine, kind = stops
    for mach, s, e, k in zip(stop_machine, iv.start, iv.end, kind, strict=True):
        if d0 <= s < d1:
            rows_m.append(mach), rows_s.append(s), rows_e.append(e)
            rows_code.append(STOP_CODES[k]), rows_cat.append(STOP_KINDS[k])
    machine, minute, codes = _alarms(day, d0, d1)
    rows_m += list(machine)
    rows_s += list(minute)
    rows_e += list(minute)
    rows_code += codes
    rows_cat += ["alarm"] * len(codes)

    mach = np.array(rows_m, dtype=np.int64)
    start = np.array(rows_s, dtype=np.int64)
    end = np.array(rows_e, dtype=np.int64)
    code = np.array(rows_code, dtype=object)
    # one row per natural key (machine, start, code), ordered by machine and time
    order = np.lexsort((code.astype(str), start, mach))
    keys = list(zip(mach[order], start[order], code[order], strict=True))
    first = [i for k, i in enumerate(order) if k == 0 or keys[k] != keys[k - 1]]
    first = np.array(first, dtype=np.int64)
    utc = day.clock.to_utc(np.concatenate([start[first], end[first]]))
    return table("downtime_events", {
        "machine_id": assets.machine_id[mach[first]] if len(first) else [],
        "start_ts": utc[: len(first)], "end_ts": utc[len(first):],
        "code": list(code[first]), "category": [rows_cat[i] for i in first],
    })


def _maintenance(day: PlantDay, tl: timeline.Timeline, pm_today: np.ndarray, d0: int, d1: int) -> pa.Table:
    """Preventive work orders (one row per component serviced) and corrective ones after failures."""
    assets = day.assets
    ids, mach, comps, kinds, walls, labour, parts = [], [], [], [], [], [], []
    stamp = day.date.strftime("%Y%m%d")
    for m in np.flatnonzero((pm_today >= d0) & (pm_today < d1)):
        saved = tl.averted & (tl.machine == m) & (tl.end == pm_today[m])
        saved_comp = set(tl.component[saved].tolist())
        for c in np.unique(assets.comp_options[m]):
            comp = COMPONENTS[NAMES[c]]
            replaced = int(c) in saved_comp  # the worn part found and replaced
            ids.append(f"PM-{assets.machine_id[m]}-{stamp}"), mach.append(m), comps.append(comp.name)
            kinds.append("preventive"), walls.append(pm_today[m])
            labour.append(comp.pm_labour_h + (comp.repair_labour_h / 2 if replaced else 0.0))
            parts.append(comp.repair_parts_eur if replaced else comp.pm_parts_eur)
    done = tl.at + tl.repair_min
    hit = tl.failed & (done >= d0) & (done < d1)
    for m, at, c, when in zip(tl.machine[hit], tl.at[hit], tl.component[hit], done[hit], strict=True):
        _, part_cost, hours = _failure_draws(day.seed, assets, m, at, c)
        ids.append(f"CM-{assets.machine_id[m]}-{int(at)}"), mach.append(m), comps.append(NAMES[c])
        kinds.append("corrective"), walls.append(when), labour.append(hours), parts.append(part_cost)
    utc = day.clock.to_utc(np.array(walls, dtype=np.int64))
    order = np.lexsort((np.array(comps, dtype=str), utc, np.array(mach, dtype=np.int64))) if walls else []
    return table("maintenance", {
        "work_order_id": [ids[i] for i in order], "machine_id": [assets.machine_id[mach[i]] for i in order],
        "component": [comps[i] for i in order], "maintenance_type": [kinds[i] for i in order],
        "performed_at": utc[order] if walls else np.zeros(0, np.int64),
        "labour_hours": [round(labour[i], 1) for i in order], "parts_cost_eur": [round(parts[i], 2) for i in order],
    })


def _failures(day: PlantDay, tl: timeline.Timeline, d0: int, d1: int) -> pa.Table:
    assets, plant = day.assets, day.assets.plant
    hit = np.flatnonzero(tl.failed & (tl.at >= d0) & (tl.at < d1))
    modes, costs = [], []
    for i in hit:
        mode, part_cost, hours = _failure_draws(day.seed, assets, tl.machine[i], tl.at[i], tl.component[i])
        modes.append(mode)
        costs.append(round(part_cost + hours * plant.labour_rate_eur_h, 2))
    return table("failures", {
        "machine_id": assets.machine_id[tl.machine[hit]] if len(hit) else [],
        "failed_at": day.clock.to_utc(tl.at[hit]),
        "component": [NAMES[c] for c in tl.component[hit]],
        "failure_mode": modes,
        "downtime_minutes": tl.repair_min[hit].astype(float),
        "repair_cost_eur": np.array(costs, dtype=float),
    })


def master(assets: Assets) -> dict[str, pa.Table]:
    """The plant drop's snapshots: the plant itself, its lines, its machines."""
    plant = assets.plant
    return {
        "plants": table("plants", {
            "plant_id": [plant.plant_id], "name": [plant.name], "country": [plant.site.country],
            "region": [plant.site.region], "timezone": [plant.timezone], "joined_on": [plant.joined_on],
            "baseline_units_per_hour": [assets.baseline_units_per_hour],
        }),
        "lines": table("lines", {
            "line_id": assets.line_id, "name": assets.line_name, "line_type": assets.line_type,
            "ideal_cycle_time_s": assets.ideal_cycle_s, "planned_shifts": assets.planned_shifts.astype(np.int64),
            "shift_minutes": np.full(assets.lines, SHIFT_MINUTES),
        }),
        "machines": table("machines", {
            "machine_id": assets.machine_id, "line_id": [assets.line_id[j] for j in assets.machine_line],
            "machine_type": assets.machine_type, "model": assets.model, "install_date": assets.install_date,
            "criticality": assets.criticality.astype(object), "downtime_cost_eur_h": assets.downtime_cost_eur_h,
        }),
    }


def production_day(plant: Plant, date: dt.date) -> bool:
    """Whether the plant runs shifts on a date: Monday to Friday, Saturdays in some plants."""
    wd = int(weekday(day_index(date)))
    return wd < 5 or (wd == 5 and plant.saturday_shift)
