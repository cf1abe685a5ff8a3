"""A supplier delivery history in the shape of the public "Supply Chain Shipment Pricing Data" export.

The real export (about 10,000 delivery lines of 70+ vendors over ten years) cannot be shipped
or fetched here; this writes a file of its shape for the tests and ``bench/history.py``: its
33 headers, one row per delivered line, vendor names with commas (quoted), dates as
``2-Jun-06`` and, in some rows, ``6/2/14``, shipment modes ``Air``, ``Truck``, ``Air Charter``,
``Ocean`` and ``N/A``, freight and weight as numbers or as free text (``Freight Included in
Commodity Cost``, ``See ASN-93 (ID#:1281)``, ``Weight Captured Separately``), USD money, and
CR-only line endings. With it, a dated USD rates table (``date,currency,eur_per_unit``).
Deterministic for a seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import numpy as np

HEADERS = (
    "ID", "Project Code", "PQ #", "PO / SO #", "ASN/DN #", "Country", "Managed By", "Fulfill Via",
    "Vendor INCO Term", "Shipment Mode", "PQ First Sent to Client Date", "PO Sent to Vendor Date",
    "Scheduled Delivery Date", "Delivered to Client Date", "Delivery Recorded Date", "Product Group",
    "Sub Classification", "Vendor", "Item Description", "Molecule/Test Type", "Brand", "Dosage", "Dosage Form",
    "Unit of Measure (Per Pack)", "Line Item Quantity", "Line Item Value", "Pack Price", "Unit Price",
    "Manufacturing Site", "First Line Designation", "Weight (Kilograms)", "Freight Cost (USD)",
    "Line Item Insurance (USD)",
)
EXPORT_NAME = "SCMS_Delivery_History_Dataset.csv"
RATES_NAME = "usd_eur_rates.csv"
COUNTRIES = ("Nigeria", "Côte d'Ivoire", "South Africa", "Vietnam", "Haiti", "Zambia", "Uganda", "Tanzania",
             "Mozambique", "Rwanda", "Kenya", "Guyana")
MODES = ("Air", "Truck", "Air Charter", "Ocean", "N/A")
MODE_SHARES = (0.58, 0.26, 0.05, 0.08, 0.03)
FREIGHT_TEXTS = ("Freight Included in Commodity Cost", "Invoiced Separately")
PRODUCTS = (("ARV", "Adult"), ("ARV", "Pediatric"), ("HRDT", "HIV test"), ("ANTM", "Malaria"), ("ACT", "ACT"))


def _day(d: dt.date) -> str:
    return f"{d.day}-{d.strftime('%b-%y')}"  # 2-Jun-06


def _slash(d: dt.date) -> str:
    return f"{d.month}/{d.day}/{d.strftime('%y')}"  # 6/2/14


def export_rows(lines: int, first: dt.date, last: dt.date, days: int, vendors: int = 72,
                seed: int = 28) -> list[list[str]]:
    """``lines`` delivery lines delivered on ``days`` distinct weekdays between ``first`` and ``last`` (both
    delivery days), as the export writes them."""
    rng = np.random.default_rng(seed)
    every = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    every = [d for d in every if d.weekday() < 5]
    inner = rng.choice(np.arange(1, len(every) - 1), size=min(days, len(every)) - 2, replace=False)
    weekdays = [every[0], *(every[i] for i in sorted(inner)), every[-1]]
    days = len(weekdays)
    vendor_names = [f"Vendor {i:02d} Pharmaceuticals, Ltd." if i % 4 == 0 else f"Vendor {i:02d} Labs"
                    for i in range(vendors)]
    sites = {v: [f"{v.split(',')[0]} Site {k}" for k in range(1 + i % 3)] for i, v in enumerate(vendor_names)}
    items = [f"Item {i:03d} {PRODUCTS[i % len(PRODUCTS)][1]} 30 Tablets" for i in range(120)]
    delivered_on = np.sort(np.concatenate([np.arange(days), rng.integers(0, days, max(lines - days, 0))]))[:lines]
    rows = []
    for i in range(lines):
        delivered = weekdays[int(delivered_on[i])]
        late = int(rng.choice([0, 0, 0, 0, 0, 0, 1, 3, 12])) * (1 if rng.random() < 0.5 else 0)
        scheduled = delivered - dt.timedelta(days=late - int(rng.integers(0, 4)) if late else -int(rng.integers(0, 6)))
        recorded = delivered + dt.timedelta(days=int(rng.integers(0, 5)))
        vendor = vendor_names[int(rng.integers(0, vendors))]
        site = sites[vendor][int(rng.integers(0, len(sites[vendor])))]
        item = int(rng.integers(0, len(items)))
        group, sub = PRODUCTS[item % len(PRODUCTS)]
        quantity = int(rng.integers(1, 5000))
        value = round(quantity * float(rng.uniform(0.5, 80.0)), 2)
        mode = str(rng.choice(MODES, p=MODE_SHARES))
        kind = rng.random()
        asn = f"ASN-{int(rng.integers(1, 999))}"
        if kind < 0.55:
            freight, weight = f"{rng.uniform(50, 30000):.2f}", str(int(rng.integers(1, 9000)))
        elif kind < 0.78:
            freight, weight = FREIGHT_TEXTS[0], "Weight Captured Separately"
        elif kind < 0.95:
            ref = f"See {asn} (ID#:{int(rng.integers(1, 10000))})"
            freight, weight = ref, ref
        else:
            freight, weight = FREIGHT_TEXTS[1], str(int(rng.integers(1, 9000)))
        slash = rng.random() < 0.06  # some rows were keyed in another date format
        fmt = _slash if slash else _day
        rows.append([
            str(i + 1), f"{100 + i % 37}-{COUNTRIES[i % len(COUNTRIES)][:2].upper()}-T30", "Pre-PQ Process",
            f"SCMS-{10000 + i}", asn, COUNTRIES[int(rng.integers(0, len(COUNTRIES)))], "PMO - US",
            "Direct Drop" if rng.random() < 0.6 else "From RDC", "EXW" if rng.random() < 0.5 else "N/A - From RDC",
            mode, "Pre-PQ Process" if rng.random() < 0.5 else _slash(scheduled - dt.timedelta(days=90)),
            "Date Not Captured" if rng.random() < 0.3 else _slash(scheduled - dt.timedelta(days=60)),
            fmt(scheduled), fmt(delivered), _day(recorded), group, sub, vendor, items[item], items[item].split()[0],
            "Generic", "300mg", "Tablet", "30", str(quantity), f"{value:.2f}", f"{value / quantity * 30:.2f}",
            f"{value / quantity:.4f}", site, "Yes" if rng.random() < 0.7 else "No", weight, freight,
            f"{value * 0.0016:.2f}" if rng.random() < 0.9 else "",
        ])
    return rows


def write_export(folder: Path, lines: int, first: dt.date, last: dt.date, days: int, vendors: int = 72,
                 seed: int = 28) -> Path:
    """The export file in ``folder``: UTF-8, comma-separated, quoted where needed, CR-only line endings."""
    folder.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r")
    writer.writerow(HEADERS)
    writer.writerows(export_rows(lines, first, last, days, vendors, seed))
    path = folder / EXPORT_NAME
    path.write_bytes(out.getvalue().encode("utf-8"))
    return path


def write_rates(path: Path, first: dt.date, last: dt.date, seed: int = 28) -> Path:
    """Monthly USD -> EUR rates from the month before ``first`` to ``last`` (``date,currency,eur_per_unit``)."""
    rng = np.random.default_rng(seed)
    month = (first.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    lines = ["date,currency,eur_per_unit"]
    rate = 0.8
    while month <= last:
        rate = float(np.clip(rate + rng.normal(0, 0.015), 0.6, 1.0))
        lines.append(f"{month.isoformat()},USD,{rate:.4f}")
        month = (month + dt.timedelta(days=32)).replace(day=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
