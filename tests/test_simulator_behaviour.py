"""What models and KPIs should find in the simulated network: the real network's shape, OEE,
failure rates, degradation before warned failures, supplier reliability, costs."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from sources.contracts import REGIONS
from sources.simulator import Simulation, SimulationConfig, sensors, telemetry, timeline
from sources.simulator.clock import MINUTES_PER_DAY, day_index
from sources.simulator.components import COMPONENTS, CRITICALITY_FACTOR, NAMES

START = dt.date(2026, 1, 5)


def sim(**overrides) -> Simulation:
    base = dict(landing="unused", start=START, days=14, plants=3, machines_per_plant=40, suppliers=30,
                locations=120, seed=5)
    return Simulation(SimulationConfig(**{**base, **overrides}))


def test_defaults_are_the_real_network():
    s = Simulation(SimulationConfig(landing="unused", start=START))
    plants = s.network.plants
    assert len(plants) == 122 and len({p.plant_id for p in plants}) == 122
    assert {p.site.region for p in plants} == set(REGIONS)
    assert len({p.timezone for p in plants}) >= 20
    for p in plants:
        zoneinfo.ZoneInfo(p.timezone)
        assert p.plant_id[:2] == p.site.country
    joining = [p for p in plants if p.joined_on >= START]
    assert 1 <= len(joining) <= 6 and all(p.joined_on <= s.config.end for p in joining)
    assert sum(p.joined_on < dt.date(2024, 1, 1) for p in plants) > 100  # most joined years ago
    sn = s.network.supply
    assert len(sn.supplier_id) == 1500 and len(sn.location_id) == 30000
    assert set(sn.location_region) == set(REGIONS)
    assert np.abs(sn.location_lat).max() <= 90 and np.abs(sn.location_lon).max() <= 180
    assets = s.network.assets("DE01")
    assert assets.machines == 800 and 15 <= assets.lines <= 25
    assert set(assets.machine_type) <= set(sensors.MACHINE_TYPES) and len(set(assets.machine_type)) >= 5


def test_costs_follow_the_line_rate_criticality_and_components():
    s = sim()
    assets = s.network.assets("US01")
    factor = np.vectorize(CRITICALITY_FACTOR.get)(assets.criticality)
    assert np.allclose(assets.downtime_cost_eur_h, np.round(assets.line_rate_eur_h[assets.machine_line] * factor, -1))
    rate = assets.plant.labour_rate_eur_h
    for comp in COMPONENTS.values():
        assert comp.repair_cost_eur(rate) > comp.preventive_cost_eur(rate) > 0
        expected = comp.repair_hours * 1000 + comp.repair_cost_eur(rate)
        assert comp.failure_cost_eur(1000.0, rate) == pytest.approx(expected)
    failures = pd.concat([s.plant_day("US01", d).feeds["failures"].to_pandas() for d in s.config.dates])
    assert len(failures) > 0
    for row in failures.itertuples():
        comp = COMPONENTS[row.component]
        assert row.failure_mode in comp.failure_modes
        assert 0.3 * comp.repair_cost_eur(rate) < row.repair_cost_eur < 2 * comp.repair_cost_eur(rate)


def test_oee_is_mostly_55_to_85_percent_and_varies_by_plant():
    s = sim(plants=5, days=10, machines_per_plant=60)
    rows = []
    for p in s.network.plants:
        ideal = dict(zip(s.network.assets(p.plant_id).line_id, s.network.assets(p.plant_id).ideal_cycle_s,
                         strict=True))
        for d in s.config.dates:
            if p.joined_on <= d:
                prod = s.plant_day(p.plant_id, d).feeds["production"].to_pandas()
                prod["plant"] = p.plant_id
                prod["ideal"] = prod.line_id.map(ideal)
                rows.append(prod)
    prod = pd.concat(rows)
    assert (prod.good_count <= prod.total_count).all() and (prod.run_minutes <= prod.planned_minutes).all()
    prod["value"] = prod.good_count * prod.ideal / 60
    line_days = prod.groupby(["plant", "line_id", prod.shift_start.dt.date])[["value", "planned_minutes"]].sum()
    oee = line_days.value / line_days.planned_minutes
    assert ((oee >= 0.55) & (oee <= 0.85)).mean() > 0.7
    by_plant = oee.groupby(level="plant").mean()
    assert by_plant.between(0.5, 0.9).all() and by_plant.max() - by_plant.min() > 0.05
    trend = [p.oee_at(dt.date(2027, 1, 1)) / p.oee_at(dt.date(2026, 1, 1)) for p in s.network.plants]
    assert len({round(t, 3) for t in trend}) == len(trend)  # every plant has its own productivity trend


def test_failure_rates_warnings_and_preventive_maintenance():
    s = sim(plants=1, machines_per_plant=300)
    assets = s.network.assets("DE01")
    lo, hi = day_index(dt.date(2025, 1, 1)) * MINUTES_PER_DAY, day_index(dt.date(2026, 1, 1)) * MINUTES_PER_DAY
    tl = timeline.build(5, assets, lo, hi)
    year = (tl.at >= lo) & (tl.at < hi)
    failed = year & tl.failed
    assert 40 <= assets.machines * 365 / failed.sum() <= 80  # one failure per machine every 40-80 days
    assert 0.68 <= tl.warned[failed].mean() <= 0.82  # about a quarter strike without warning
    assert tl.averted[year].sum() > 0 and (tl.end[tl.averted] < tl.at[tl.averted]).all()
    # a preventive maintenance never falls inside the degradation of a failure that happened
    pm = timeline.next_pm(assets, tl.machine[failed], tl.onset[failed])
    assert (pm >= tl.at[failed]).all()
    lead_days = (tl.at - tl.onset)[failed & tl.warned] / MINUTES_PER_DAY
    assert lead_days.min() >= timeline.LEAD_DAYS[0] and lead_days.max() <= timeline.LEAD_DAYS[1]


def _daily_means(s: Simulation, plant_id: str) -> pd.DataFrame:
    """Per machine and date: each sensor's mean over the minutes the machine ran."""
    frames = []
    for d in s.config.dates:
        day = s.plant_day(plant_id, d)
        for chunk in telemetry.chunks(day, 50):
            df = chunk.select(["machine_id", *sensors.SENSORS]).to_pandas()
            df["machine_id"] = df.machine_id.astype(str)
            df = df[df.cycle_time_s.notna()]  # running minutes
            means = df.groupby("machine_id")[list(sensors.SENSORS)].mean()
            means["date"] = d
            frames.append(means.reset_index())
    return pd.concat(frames).sort_values(["machine_id", "date"]).reset_index(drop=True)


def test_warned_failures_show_their_signature_days_ahead_but_are_not_trivially_separable():
    """A cheap proxy of the failure model: drift of daily means against the machine's own
    two-week baseline ranks the days before a failure far above the base rate."""
    s = sim(plants=1, machines_per_plant=30, days=100, start=dt.date(2025, 9, 1))
    means = _daily_means(s, "DE01")
    assets = s.network.assets("DE01")
    lo = day_index(s.config.start) * MINUTES_PER_DAY
    tl = s.timeline("DE01")
    drift = pd.DataFrame({"machine_id": means.machine_id, "date": means.date})
    scores = []
    for name in sensors.SENSORS:
        if name in ("voltage_v", "cycle_time_s"):
            continue
        base = means.groupby("machine_id")[name].transform(lambda v: v.shift(3).rolling(14, min_periods=7).median())
        scores.append(((means[name] - base) / base).abs())
    drift["score"] = pd.concat(scores, axis=1).max(axis=1)
    ids = assets.machine_id
    failed = tl.failed & (tl.at >= lo)
    fail_days = pd.DataFrame({"machine_id": ids[tl.machine[failed]],
                              "fail": [day_index(s.config.start) + (a - lo) // MINUTES_PER_DAY for a in tl.at[failed]],
                              "warned": tl.warned[failed], "component": tl.component[failed]})
    day_no = drift.date.map(day_index)
    drift["y"] = False
    for f in fail_days.itertuples():
        drift.loc[(drift.machine_id == f.machine_id) & (day_no < f.fail) & (day_no >= f.fail - 7), "y"] = True
    drift = drift.dropna()
    ap = average_precision_score(drift.y, drift.score)
    assert ap >= 3 * drift.y.mean(), (ap, drift.y.mean())
    assert ap < 0.95  # unwarned failures, harmless drifts and noise keep it from being trivial

    # warned failures of components with a sensor signature stand out 3 days ahead; unwarned ones do not
    ahead = {True: [], False: []}
    for f in fail_days.itertuples():
        if NAMES[f.component] == "controller":
            continue
        row = drift[(drift.machine_id == f.machine_id) & (drift.date.map(day_index) == f.fail - 3)]
        if len(row):
            ahead[bool(f.warned)].append(float(row.score.iloc[0]))
    typical = drift.score[~drift.y].median()
    assert len(ahead[True]) >= 5
    assert np.median(ahead[True]) > 3 * typical
    if len(ahead[False]) >= 3:
        assert np.median(ahead[False]) < 3 * typical


def test_suppliers_differ_in_reliability_and_expedite_when_late():
    s = sim(plants=3, suppliers=25, locations=100, days=1)
    sn = s.network.supply
    rows = pd.concat([s.shipments.drop(START + dt.timedelta(days=i))["shipments"].to_pandas() for i in range(60)])
    delivered = rows[rows.status == "delivered"].copy()
    delivered["late"] = delivered.delivered_at > delivered.promised_at
    per_supplier = delivered.groupby("supplier_id").late.agg(["mean", "size"])
    per_supplier = per_supplier[per_supplier["size"] >= 15]
    assert len(per_supplier) >= 5 and per_supplier["mean"].max() - per_supplier["mean"].min() > 0.2
    assert delivered.premium_freight.any()
    assert delivered.late[delivered.premium_freight].all()  # premium freight only when late
    freight = delivered.groupby("premium_freight").freight_cost_eur.median()
    assert freight[True] > freight[False]
    assert (delivered.delivered_qty < delivered.ordered_qty).mean() > 0.01  # partial deliveries
    in_transit = rows[rows.status == "in_transit"]
    assert in_transit.eta.notna().all() and in_transit.delivered_at.isna().all()
    assert set(delivered.shipment_id) & set(in_transit.shipment_id)  # both records of a shipment
    insp = pd.concat([s.shipments.drop(START + dt.timedelta(days=i))["inspections"].to_pandas() for i in range(60)])
    assert (insp.defective_qty <= insp.inspected_qty).all() and insp.defective_qty.sum() > 0
    assert (sn.deteriorates_from < 10**9).any()


def test_seasonal_delays_and_deteriorating_suppliers():
    from sources.simulator.shipments import seasonal_delay

    region = np.array(["China", "Europe", "Asia Pacific"])
    mode = np.array([0, 0, 2])
    cny = seasonal_delay(day_index(dt.date(2026, 2, 10)), region, mode)
    spring = seasonal_delay(day_index(dt.date(2026, 4, 20)), region, mode)
    assert cny[0] > 0.2 and (spring == 0).all()
    assert seasonal_delay(day_index(dt.date(2026, 7, 15)), region, mode)[2] > 0

    s = sim(plants=3, suppliers=60, locations=120, days=1)
    sn = s.network.supply
    worse = np.flatnonzero(sn.deteriorates_from < 10**9)
    assert len(worse) > 0
    late_before, late_after = [], []
    for day in (day_index(dt.date(2025, 6, 1)), day_index(dt.date(2026, 9, 1))):
        for d in range(day, day + 40):
            b = s.shipments.shipped_on(d)
            mine = np.isin(sn.lane_supplier[b["lane"]], worse)
            (late_before if day < day_index(dt.date(2026, 1, 1)) else late_after).append(
                (b["delivered_at"] > b["promised_at"])[mine])
    assert np.concatenate(late_after).mean() > np.concatenate(late_before).mean() + 0.1
