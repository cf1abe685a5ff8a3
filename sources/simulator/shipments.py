"""The supply side: shipments along the lanes, their delays, deliveries and inspections.

Every lane ships on a fixed rhythm (every 1-14 days). Whether a shipment is late depends
on its supplier's reliability, the season (winter roads, Chinese New Year, European
August, the monsoon, the sea-freight peak before Christmas) and, for suppliers that
deteriorate, how long they have been getting worse. A shipment running more than a day
late (three by sea) is expedited as premium freight at 2.5-4x the cost, which recovers
about half the delay. Some deliveries are partial; delivered lots are inspected, and
defects follow the supplier's ppm with occasional quality incidents.

A ship day's shipments come from that day's own stream, so a supplier drop is the same
whatever window is simulated; the status records land in the drop of the UTC date they
were recorded on.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pyarrow as pa

from sources.contracts import TIMESTAMP
from sources.simulator.clock import MINUTES_PER_DAY, date_of, day_index, utc_micros, utc_minutes_of
from sources.simulator.network import Network
from sources.simulator.seeds import rng
from sources.simulator.suppliers import MODES
from sources.simulator.tables import table

HORIZON_DAYS = 75  # no shipment (or its inspection) takes longer than this
SAMPLE_SIZES = np.array([32, 50, 80, 125, 200, 315])
INSPECTED_SHARE = 0.7
PREMIUM_FACTOR = (2.5, 4.0)
SEA = MODES.index("sea")


def seasonal_delay(day: int, region: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """Extra probability of being late for shipments leaving on ``day``."""
    date = date_of(day)
    month, md = date.month, (date.month, date.day)
    extra = np.zeros(len(mode))
    overland = mode <= 1
    if month in (12, 1, 2):
        extra += 0.06 * (overland & np.isin(region, ["Europe", "North America", "China"]))
    if (1, 20) <= md <= (2, 25):
        extra += 0.25 * (region == "China")
    if month == 8:
        extra += 0.04 * (region == "Europe")
    if month in (6, 7, 8, 9):
        extra += 0.08 * ((region == "Asia Pacific") & (mode == SEA))
    if month in (10, 11):
        extra += 0.05 * (mode == SEA)
    return extra


class Shipments:
    """Shipments by ship day, cached over a rolling horizon while drops are written in date order."""

    def __init__(self, network: Network):
        self.network = network
        self.seed = network.config.seed
        self._cache: dict[int, dict[str, np.ndarray]] = {}

    @functools.cached_property
    def _lane_region(self) -> np.ndarray:
        return np.array(self.network.supply.lane_region)

    def shipped_on(self, day: int) -> dict[str, np.ndarray]:
        if day not in self._cache:
            self._cache[day] = self._generate(day)
        return self._cache[day]

    def forget_before(self, day: int) -> None:
        for d in [d for d in self._cache if d < day]:
            del self._cache[d]

    def _generate(self, day: int) -> dict[str, np.ndarray]:
        sn = self.network.supply
        date = date_of(day)
        joined = np.array([p.joined_on <= date for p in self.network.plants])
        lanes = np.flatnonzero(((day - sn.lane_phase) % sn.lane_interval == 0) & joined[sn.lane_plant])
        k = len(lanes)
        sup = sn.lane_supplier[lanes]
        mode = sn.lane_mode[lanes]
        r = rng(self.seed, "shipments", date)
        shipped = utc_minutes_of(date) + r.integers(360, 1200, k)
        nominal = np.round(sn.lane_transit_days[lanes] * MINUTES_PER_DAY).astype(np.int64)
        buffer = np.round(r.uniform(4, 24, k) * 60).astype(np.int64)
        worse_days = np.maximum(0, day - sn.deteriorates_from[sup])
        p_late = (sn.p_late[sup] + seasonal_delay(day, self._lane_region[lanes], mode)
                  + np.minimum(0.5, 0.25 * worse_days / 90))
        late = r.random(k) < p_late
        delay_days = np.clip(r.exponential(0.3 * sn.lane_transit_days[lanes] + 0.7), 0.05, 14)
        jitter = r.normal(0, 0.03, k)
        premium = late & (delay_days > np.where(mode == SEA, 3.0, 1.0)) & (r.random(k) < 0.85)
        factor = r.uniform(*PREMIUM_FACTOR, k)
        delay_days = np.where(premium, delay_days * 0.45, delay_days)
        on_time = np.minimum(np.round(nominal * (1 + jitter)), nominal + buffer - 1)
        transit = np.where(late, nominal + buffer + np.round(delay_days * MINUTES_PER_DAY), on_time)
        delivered_at = shipped + np.maximum(transit, 60).astype(np.int64)
        ordered = sn.lane_qty[lanes]
        partial = r.random(k) < sn.p_partial[sup]
        delivered_qty = np.where(partial, np.round(ordered * r.uniform(0.5, 0.95, k)), ordered).astype(np.int64)
        inspected = r.random(k) < INSPECTED_SHARE
        inspected_at = delivered_at + np.round(r.uniform(2, 20, k) * 60).astype(np.int64)
        sample = SAMPLE_SIZES[np.clip(np.log10(np.maximum(delivered_qty, 1)).astype(int) + 1, 0, 5)]
        inspected_qty = np.minimum(delivered_qty, sample)
        incident = r.random(k) < 0.03
        ppm = sn.ppm[sup] * (1 + np.minimum(worse_days / 60, 4)) * np.where(incident, 20, 1)
        defective = r.binomial(inspected_qty, np.clip(ppm / 1e6, 0, 0.5))
        stamp = date.strftime("%Y%m%d")
        return {
            "lane": lanes, "id": np.array([f"{stamp}-{i:06d}" for i in lanes], dtype=object),
            "shipped_at": shipped, "promised_at": shipped + nominal + buffer, "eta": shipped + nominal,
            "delivered_at": delivered_at, "ordered_qty": ordered, "delivered_qty": delivered_qty,
            "freight": np.round(sn.lane_freight_eur[lanes] * np.where(premium, factor, 1.0), 2),
            "premium": premium, "inspected": inspected, "inspected_at": inspected_at,
            "inspected_qty": inspected_qty.astype(np.int64), "defective": defective.astype(np.int64),
        }

    def drop(self, date: dt.date, revision: int = 0) -> dict[str, pa.Table]:
        """Shipment status records and inspections recorded on a UTC date."""
        sn = self.network.supply
        day = day_index(date)
        lo, hi = utc_minutes_of(date), utc_minutes_of(date) + MINUTES_PER_DAY
        parts: list[tuple[dict[str, np.ndarray], np.ndarray, str]] = []
        checks: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
        for d in range(day - HORIZON_DAYS, day + 1):
            b = self.shipped_on(d)
            if d == day:
                parts.append((b, np.ones(len(b["lane"]), dtype=bool), "in_transit"))
            parts.append((b, (b["delivered_at"] >= lo) & (b["delivered_at"] < hi), "delivered"))
            checks.append((b, b["inspected"] & (b["inspected_at"] >= lo) & (b["inspected_at"] < hi)))

        def pick(key: str, rows: list[tuple[dict[str, np.ndarray], np.ndarray]]) -> np.ndarray:
            return np.concatenate([b[key][m] for b, m, *_ in rows]) if rows else np.zeros(0)

        status = np.concatenate([np.full(int(m.sum()), s, dtype=object) for _, m, s in parts])
        transit = status == "in_transit"
        lane = pick("lane", parts).astype(np.int64)
        shipped = pick("shipped_at", parts).astype(np.int64)
        delivered_at = pick("delivered_at", parts).astype(np.int64)
        freight = pick("freight", parts)
        ci = pick("inspected_at", checks).astype(np.int64)
        defective = pick("defective", checks).astype(np.int64)
        inspected_qty = pick("inspected_qty", checks).astype(np.int64)
        if revision:  # a corrected resend: invoices and inspection counts revised
            r = rng(self.seed, "resend", date, revision)
            freight = np.round(freight * r.uniform(0.97, 1.03, len(freight)), 2)
            defective = np.minimum(inspected_qty, defective + r.integers(0, 3, len(defective)))
        ids = pick("id", parts)
        order = np.lexsort((status.astype(str), ids.astype(str), np.where(transit, shipped, delivered_at)))
        plant_ids = np.array([p.plant_id for p in self.network.plants], dtype=object)
        null_int = pa.nulls(len(order), pa.int64())
        shipments = table("shipments", {
            "shipment_id": pa.array(["ASN-" + s for s in ids[order]]),
            "supplier_id": sn.supplier_id[sn.lane_supplier[lane[order]]],
            "location_id": sn.location_id[sn.lane_location[lane[order]]],
            "plant_id": plant_ids[sn.lane_plant[lane[order]]],
            "part_id": sn.part_id[sn.lane_part[lane[order]]],
            "status": status[order],
            "updated_at": np.where(transit, shipped, delivered_at)[order],
            "ordered_qty": pick("ordered_qty", parts).astype(np.int64)[order],
            "delivered_qty": pa.array(np.where(transit, 0, pick("delivered_qty", parts))[order],
                                      mask=transit[order]) if len(order) else null_int,
            "shipped_at": shipped[order],
            "promised_at": pick("promised_at", parts).astype(np.int64)[order],
            "eta": _minutes_or_null(pick("eta", parts).astype(np.int64)[order], ~transit[order]),
            "delivered_at": _minutes_or_null(delivered_at[order], transit[order]),
            "transport_mode": np.array(MODES, dtype=object)[sn.lane_mode[lane[order]]],
            "freight_cost_eur": freight[order],
            "premium_freight": pick("premium", parts).astype(bool)[order],
        })
        clane = pick("lane", checks).astype(np.int64)
        cids = pick("id", checks)
        corder = np.lexsort((cids.astype(str), ci))
        inspections = table("inspections", {
            "inspection_id": pa.array(["QI-" + s for s in cids[corder]], type=pa.string()),
            "shipment_id": pa.array(["ASN-" + s for s in cids[corder]], type=pa.string()),
            "lot_id": pa.array(["LOT-" + s for s in cids[corder]], type=pa.string()),
            "supplier_id": sn.supplier_id[sn.lane_supplier[clane[corder]]],
            "plant_id": plant_ids[sn.lane_plant[clane[corder]]],
            "part_id": sn.part_id[sn.lane_part[clane[corder]]],
            "inspected_at": ci[corder],
            "inspected_qty": inspected_qty[corder],
            "defective_qty": defective[corder],
        })
        self.forget_before(day - HORIZON_DAYS)
        return {"shipments": shipments, "inspections": inspections}


def _minutes_or_null(minutes: np.ndarray, null: np.ndarray) -> pa.Array:
    return pa.array(utc_micros(minutes), mask=null, type=pa.int64()).cast(TIMESTAMP)


def master(network: Network) -> dict[str, pa.Table]:
    """The supplier drop's snapshots: suppliers, their locations, parts."""
    sn = network.supply
    return {
        "suppliers": table("suppliers", {
            "supplier_id": sn.supplier_id, "name": sn.supplier_name, "country": sn.supplier_country,
            "tier": sn.tier,
        }),
        "supplier_locations": table("supplier_locations", {
            "location_id": sn.location_id, "supplier_id": sn.supplier_id[sn.location_supplier],
            "city": sn.location_city, "country": sn.location_country, "region": sn.location_region,
            "latitude": sn.location_lat, "longitude": sn.location_lon,
        }),
        "parts": table("parts", {
            "part_id": sn.part_id, "description": sn.part_description, "commodity": sn.part_commodity,
            "unit_cost_eur": sn.part_unit_cost,
        }),
    }
