"""The supply network: suppliers, their ship-from locations, parts, and the lanes along which
plants buy (supplier location -> plant, one part), with mode, rhythm, transit time and freight.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sources.simulator.clock import day_index
from sources.simulator.config import SimulationConfig
from sources.simulator.geography import distance_km, supplier_cities
from sources.simulator.seeds import rng

if TYPE_CHECKING:
    from sources.simulator.network import Plant

REGION_WEIGHTS = {"Europe": 0.4, "China": 0.2, "North America": 0.18, "Asia Pacific": 0.12,
                  "South America": 0.06, "Africa": 0.04}
LEGAL_FORMS = {"DE": "GmbH", "AT": "GmbH", "FR": "SAS", "ES": "S.A.", "IT": "S.p.A.", "US": "Inc.", "CA": "Inc.",
               "GB": "Ltd", "CN": "Co. Ltd", "JP": "K.K.", "KR": "Co. Ltd", "BR": "Ltda.", "MX": "S.A. de C.V."}
_SYLLABLES = ("ar", "bel", "con", "dor", "el", "fer", "gal", "hel", "in", "kor", "lin", "mar", "nor", "or",
              "pra", "quin", "ros", "sal", "tek", "ul", "ven", "wer", "xan", "zen")
COMMODITIES = {  # commodity: (parts, median unit cost EUR)
    "electronics": (("ECU", "Wiring harness", "Sensor module", "Infotainment unit", "Camera module"), 120.0),
    "steel": (("Body panel", "Bracket", "Crossmember", "Door hinge", "Seat frame"), 25.0),
    "aluminium": (("Wheel rim", "Cylinder head casting", "Control arm", "Battery housing"), 80.0),
    "plastics": (("Bumper fascia", "Dashboard panel", "Trim clip", "Door trim"), 15.0),
    "rubber": (("Door seal", "Coolant hose", "Engine mount", "Tyre"), 12.0),
    "glass": (("Windshield", "Side window", "Rear window"), 60.0),
    "textiles": (("Seat cover", "Headliner", "Carpet"), 30.0),
    "fasteners": (("Bolt M8", "Bolt M10", "Nut M8", "Rivet"), 0.2),
    "chemicals": (("Primer", "Adhesive", "Clearcoat", "Sealant"), 9.0),
    "batteries": (("Battery cell", "12V battery", "Battery module"), 300.0),
}
MODES = ("road", "rail", "sea", "air")
SHIP_INTERVALS = np.array([1, 2, 3, 5, 7, 14])


@dataclass
class SupplyNetwork:
    """Suppliers, their locations, parts and the lanes (supplier location -> plant, part)."""

    supplier_id: np.ndarray
    supplier_name: list[str]
    supplier_country: list[str]
    tier: np.ndarray
    p_late: np.ndarray  # base probability that a shipment is late
    p_partial: np.ndarray  # probability of a partial delivery
    ppm: np.ndarray  # defective parts per million
    deteriorates_from: np.ndarray  # day index from which the supplier gets worse (huge: never)
    location_id: np.ndarray
    location_supplier: np.ndarray
    location_city: list[str]
    location_country: list[str]
    location_region: list[str]
    location_lat: np.ndarray
    location_lon: np.ndarray
    part_id: np.ndarray
    part_description: list[str]
    part_commodity: list[str]
    part_unit_cost: np.ndarray
    lane_plant: np.ndarray  # plant index
    lane_location: np.ndarray
    lane_supplier: np.ndarray
    lane_part: np.ndarray
    lane_interval: np.ndarray  # days between shipments
    lane_phase: np.ndarray
    lane_qty: np.ndarray
    lane_mode: np.ndarray  # index into MODES
    lane_transit_days: np.ndarray  # nominal transit time
    lane_freight_eur: np.ndarray  # normal freight cost per shipment
    lane_region: list[str]  # region of the ship-from location


def build(config: SimulationConfig, plants: list[Plant]) -> SupplyNetwork:
    """Suppliers, their locations and parts, and every plant's lanes."""
    r = rng(config.seed, "supply")
    n_s, n_l = config.suppliers, config.locations
    cities = supplier_cities()
    regions = list(REGION_WEIGHTS)
    region_p = np.array(list(REGION_WEIGHTS.values()))
    by_region = {g: [i for i, c in enumerate(cities) if c.region == g] for g in regions}

    home_region = r.choice(regions, size=n_s, p=region_p)
    home_city = [cities[int(r.choice(by_region[g]))] for g in home_region]
    names = []
    for city in home_city:
        stem = "".join(r.choice(_SYLLABLES, size=int(r.integers(2, 4)))).capitalize()
        kind = r.choice(["", " Automotive", " Components", " Industries", " Technik", " Systems"])
        names.append(f"{stem}{kind} {LEGAL_FORMS.get(city.country, 'Ltd')}".replace("  ", " "))
    tier = r.choice([1, 2, 3], size=n_s, p=[0.4, 0.4, 0.2])
    weak = r.random(n_s) < 0.1
    p_late = np.clip(0.02 + r.beta(1.2, 8, size=n_s) * 0.4 + weak * 0.15, 0.01, 0.6)
    p_partial = np.clip(r.beta(1, 25, size=n_s) * (1 + 2 * weak), 0, 0.3)
    ppm = np.clip(r.lognormal(np.log(300), 1.0, size=n_s) * (1 + 3 * weak), 10, 20000)
    deteriorating = r.random(n_s) < 0.12
    start = day_index(dt.date(2025, 9, 1))
    deteriorates_from = np.where(deteriorating, start + r.integers(0, 240, size=n_s), 10**9)

    # locations: each supplier gets its share, mostly in its home region
    loc_supplier = np.sort(np.arange(n_l) % n_s)
    at_home = r.random(n_l) < 0.7
    loc_city = [cities[int(r.choice(by_region[home_region[s]]))] if h else cities[int(r.integers(len(cities)))]
                for s, h in zip(loc_supplier, at_home, strict=True)]
    lat = np.clip(np.array([c.lat for c in loc_city]) + r.normal(0, 0.25, n_l), -89.0, 89.0).round(4)
    lon = ((np.array([c.lon for c in loc_city]) + r.normal(0, 0.25, n_l) + 180) % 360 - 180).round(4)

    n_p = max(4 * n_s, 10)
    commodity = r.choice(list(COMMODITIES), size=n_p)
    descr, cost = [], np.empty(n_p)
    for i, c in enumerate(commodity):
        items, median = COMMODITIES[c]
        descr.append(f"{r.choice(items)} {chr(65 + int(r.integers(26)))}{int(r.integers(100, 999))}")
        cost[i] = round(float(median * r.lognormal(0, 0.5)), 2)
    part_supplier = r.permutation(np.arange(n_p) % n_s)

    # lanes: every plant buys parts, each from the part's supplier at one of its locations
    per_plant = max(3, min(200, (4 * n_l) // (5 * max(len(plants), 1))))
    locs_of = np.split(np.arange(n_l), np.searchsorted(loc_supplier, np.arange(1, n_s)))
    lane_plant, lane_part, lane_loc = [], [], []
    for p in plants:
        parts = r.choice(n_p, size=per_plant, replace=per_plant > n_p)
        for part in parts:
            options = locs_of[part_supplier[part]]
            if r.random() < 0.6:
                d = distance_km(lat[options], lon[options], p.site.lat, p.site.lon)
                loc = options[int(np.argmin(d))]
            else:
                loc = options[int(r.integers(len(options)))]
            lane_plant.append(p.index)
            lane_part.append(int(part))
            lane_loc.append(int(loc))
    lane_plant, lane_part, lane_loc = np.array(lane_plant), np.array(lane_part), np.array(lane_loc)
    k = len(lane_plant)
    plant_lat = np.array([plants[i].site.lat for i in lane_plant])
    plant_lon = np.array([plants[i].site.lon for i in lane_plant])
    dist = np.maximum(distance_km(lat[lane_loc], lon[lane_loc], plant_lat, plant_lon), 20.0) * 1.25  # by road/sea
    same_region = np.array([loc_city[lc].region == plants[pi].site.region for lc, pi in zip(lane_loc, lane_plant,
                                                                                          strict=True)])
    u = r.random(k)
    mode = np.where(same_region, np.where(u < np.where(dist < 2500, 0.85, 0.5), 0, 1), np.where(u < 0.9, 2, 3))
    transit = np.choose(mode, [0.5 + dist / 650, 1.5 + dist / 450, 6 + dist / 550, 1.5 + dist / 9000])
    interval = np.where(mode == 2, r.choice([7, 14], size=k), r.choice(SHIP_INTERVALS[:5], size=k))
    interval[np.arange(0, k, per_plant)] = 1  # every plant's first lane is a daily milk run
    qty = np.maximum(10, np.round(r.lognormal(np.log(400), 0.7, size=k) * interval / np.sqrt(
        np.maximum(cost[lane_part], 0.5)) / 10) * 10).astype(np.int64)
    freight = np.choose(mode, [150 + 1.1 * dist, 300 + 0.7 * dist, 800 + 0.12 * dist, 500 + 4.5 * dist])
    freight = np.round(freight * (0.8 + 0.1 * np.log10(qty)) * r.uniform(0.9, 1.1, size=k), 2)
    return SupplyNetwork(
        supplier_id=np.array([f"S{i + 1:05d}" for i in range(n_s)], dtype=object),
        supplier_name=names,
        supplier_country=[c.country for c in home_city],
        tier=tier.astype(np.int64),
        p_late=p_late,
        p_partial=p_partial,
        ppm=ppm,
        deteriorates_from=deteriorates_from.astype(np.int64),
        location_id=np.array([f"LOC{i + 1:06d}" for i in range(n_l)], dtype=object),
        location_supplier=loc_supplier,
        location_city=[c.city for c in loc_city],
        location_country=[c.country for c in loc_city],
        location_region=[c.region for c in loc_city],
        location_lat=lat,
        location_lon=lon,
        part_id=np.array([f"P{i + 1:06d}" for i in range(n_p)], dtype=object),
        part_description=descr,
        part_commodity=[str(c) for c in commodity],
        part_unit_cost=cost,
        lane_plant=lane_plant,
        lane_location=lane_loc,
        lane_supplier=loc_supplier[lane_loc],
        lane_part=lane_part,
        lane_interval=interval.astype(np.int64),
        lane_phase=r.integers(0, 14, size=k) % interval,
        lane_qty=qty,
        lane_mode=mode.astype(np.int64),
        lane_transit_days=transit,
        lane_freight_eur=freight,
        lane_region=[loc_city[i].region for i in lane_loc],
    )
