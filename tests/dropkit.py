"""Hand-made drops for the reader tests: one good row per feed, written with DropWriter.

Plant DE01 (Europe/Berlin) with line DE01-L01 and machine DE01-M001 on 2026-01-05; the
supplier drop of the same date with supplier S001, location LOC1 and part P001. Rows are
dicts of strings in the contract's column names (the ``plantlake`` format).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.settings import Settings
from sources.contracts import CONTRACTS, PLANT
from sources.landing import SUPPLIERS, Drop, DropRef, DropWriter, list_complete
from sources.reader import DropResult, KnownIds, read_drop

DAY = dt.date(2026, 1, 5)
PLANT_ID = "DE01"
ZONE = "Europe/Berlin"
RUN = "test-run"
INGESTED = dt.datetime(2026, 1, 6, 3, 0, tzinfo=dt.UTC)

GOOD: dict[str, dict[str, str]] = {
    "plants": {"plant_id": "DE01", "name": "Werk Eins", "country": "DE", "region": "Europe",
               "timezone": ZONE, "joined_on": "2020-01-01", "baseline_units_per_hour": "100.5"},
    "lines": {"line_id": "DE01-L01", "name": "Presse 1", "line_type": "press", "ideal_cycle_time_s": "30",
              "planned_shifts": "3", "shift_minutes": "480"},
    "machines": {"machine_id": "DE01-M001", "line_id": "DE01-L01", "machine_type": "press", "model": "P-100",
                 "install_date": "2015-03-01", "criticality": "A", "downtime_cost_eur_h": "1200"},
    "sensors": {"sensor_id": "temperature_c", "machine_type": "press", "unit": "degC",
                "description": "Housing temperature", "expected_min": "-50", "expected_max": "500"},
    "components": {"machine_type": "press", "component": "spindle", "description": "Main spindle"},
    "telemetry": {"machine_id": "DE01-M001", "ts": "2026-01-05T08:00:00Z", "interval_s": "60",
                  "temperature_c": "55.5", "vibration_mm_s": "2.5", "current_a": "30", "pressure_bar": "100",
                  "cycle_time_s": "31", "voltage_v": "400", "rotation_rpm": "1500"},
    "production": {"line_id": "DE01-L01", "shift": "1", "shift_start": "2026-01-05T05:00:00Z",
                   "shift_end": "2026-01-05T13:00:00Z", "planned_minutes": "480", "run_minutes": "420",
                   "total_count": "800", "good_count": "780"},
    "downtime_events": {"machine_id": "DE01-M001", "start_ts": "2026-01-05T09:00:00Z",
                        "end_ts": "2026-01-05T09:30:00Z", "code": "E17", "category": "breakdown"},
    "maintenance": {"work_order_id": "WO-1", "machine_id": "DE01-M001", "component": "spindle",
                    "maintenance_type": "preventive", "performed_at": "2026-01-05T10:00:00Z", "labour_hours": "2.5",
                    "parts_cost_eur": "120"},
    "failures": {"machine_id": "DE01-M001", "failed_at": "2026-01-05T11:00:00Z", "component": "bearing",
                 "failure_mode": "wear", "downtime_minutes": "90", "repair_cost_eur": "800"},
    "suppliers": {"supplier_id": "S001", "name": "Stahl AG", "country": "DE", "tier": "1"},
    "supplier_locations": {"location_id": "LOC1", "supplier_id": "S001", "city": "Linz", "country": "AT",
                           "region": "Europe", "latitude": "48.3", "longitude": "14.3"},
    "parts": {"part_id": "P001", "description": "Bracket", "commodity": "steel", "unit_cost_eur": "2.5"},
    "shipments": {"shipment_id": "SH1", "supplier_id": "S001", "location_id": "LOC1", "plant_id": "DE01",
                  "part_id": "P001", "status": "delivered", "updated_at": "2026-01-05T12:00:00Z",
                  "ordered_qty": "100", "delivered_qty": "100", "shipped_at": "2026-01-03T08:00:00Z",
                  "promised_at": "2026-01-05T16:00:00Z", "eta": "", "delivered_at": "2026-01-05T12:00:00Z",
                  "transport_mode": "road", "freight_cost_eur": "50", "premium_freight": "false"},
    "inspections": {"inspection_id": "I1", "shipment_id": "SH1", "lot_id": "LOT1", "supplier_id": "S001",
                    "plant_id": "DE01", "part_id": "P001", "inspected_at": "2026-01-05T14:00:00Z",
                    "inspected_qty": "50", "defective_qty": "1"},
}

PLANT_MASTERS = ("plants", "lines", "machines")
SUPPLIER_MASTERS = ("suppliers", "supplier_locations", "parts")
#: What the lake knows when a drop carries no master files of its own.
KNOWN = KnownIds(
    ids={"plants": {"DE01"}, "lines": {"DE01-L01"}, "machines": {"DE01-M001"}, "suppliers": {"S001"},
         "supplier_locations": {"LOC1"}, "parts": {"P001"}},
    timezones={"DE01": ZONE},
)


def row(feed: str, **changes: str) -> dict[str, str]:
    return {**GOOD[feed], **changes}


def csv_bytes(rows: Iterable[dict], *, delimiter: str = ",", encoding: str = "utf-8", eol: str = "\n",
              header: list[str] | None = None) -> bytes:
    rows = list(rows)
    header = header or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=eol)
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return out.getvalue().encode(encoding)


def jsonl_bytes(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps({k: (v if v != "" else None) for k, v in r.items()}) + "\n" for r in rows).encode()


def parquet_bytes(rows: list[dict], feed: str) -> bytes:
    """Typed Parquet as a plant would write it (strings turned into the contract's types)."""
    spec = CONTRACTS[feed]
    columns = {}
    for f in spec.fields:
        values = [r.get(f.name) or None for r in rows]
        if pa.types.is_timestamp(f.type):
            values = [None if v is None else dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
        elif pa.types.is_date(f.type):
            values = [None if v is None else dt.date.fromisoformat(v) for v in values]
        elif pa.types.is_floating(f.type):
            values = [None if v is None else float(v) for v in values]
        elif pa.types.is_integer(f.type):
            values = [None if v is None else int(v) for v in values]
        elif pa.types.is_boolean(f.type):
            values = [None if v is None else v == "true" for v in values]
        columns[f.name] = pa.array(values, type=f.type)
    for name in dict.fromkeys(k for r in rows for k in r if k not in spec.names):  # a sensor feed's sensors
        columns[name] = pa.array([float(r[name]) if r.get(name) else None for r in rows], type=pa.float64())
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def feed_bytes(feed: str, rows: list[dict], fmt: str = "csv") -> tuple[str, bytes]:
    """(file name, bytes) of a feed's file in the plantlake format: csv, csv.gz, parquet or jsonl."""
    if fmt == "csv":
        return f"{feed}.csv", csv_bytes(rows)
    if fmt == "csv.gz":
        return f"{feed}.csv.gz", gzip.compress(csv_bytes(rows), mtime=0)
    if fmt == "parquet":
        return f"{feed}.parquet", parquet_bytes(rows, feed)
    if fmt == "jsonl":
        return f"{feed}.jsonl", jsonl_bytes(rows)
    raise ValueError(fmt)


def write_drop(
    landing: str,
    files: dict[str, tuple[str, bytes, int]],
    *,
    source: str = PLANT_ID,
    day: dt.date = DAY,
    mapping: str = "plantlake",
    settings: Settings | None = None,
    created_at: str = "2026-01-06T01:00:00+00:00",
) -> Drop:
    """Write a drop (file name -> (feed, bytes, manifest rows)) and return it as listed."""
    ref = DropRef(day, source)
    with DropWriter(landing, ref, mapping, settings, created_at=created_at) as writer:
        for name, (feed, data, rows) in files.items():
            writer.write(name, feed, data, rows=rows)
    return find(landing, ref, settings)


def find(landing: str, ref: DropRef, settings: Settings | None = None) -> Drop:
    drops = [d for d in list_complete(landing, [ref.date], settings or Settings.from_env()) if d.ref == ref]
    assert len(drops) == 1, drops
    return drops[0]


def feed_drop(landing: str, feed: str, rows: list[dict], *, with_masters: bool = True, fmt: str = "csv",
              **kwargs) -> Drop:
    """A drop holding ``rows`` of ``feed`` (plus the scope's good master files unless ``with_masters``)."""
    scope = CONTRACTS[feed].scope
    masters = PLANT_MASTERS if scope == PLANT else SUPPLIER_MASTERS
    files = {}
    if with_masters:
        for master in masters:
            if master != feed:
                name, data = feed_bytes(master, [GOOD[master]], fmt)
                files[name] = (master, data, 1)
    name, data = feed_bytes(feed, rows, fmt)
    files[name] = (feed, data, len(rows))
    return write_drop(landing, files, source=PLANT_ID if scope == PLANT else SUPPLIERS, **kwargs)


def read(drop: Drop, known: KnownIds | None = None, settings: Settings | None = None) -> DropResult:
    return read_drop(drop, known or KnownIds(), run_id=RUN, ingested_at=INGESTED, settings=settings)
