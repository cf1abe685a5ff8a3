"""Bad input on purpose (``--messy``): which drops get which fault, how a file is broken, and
the ground truth in ``_faults.json``.

Each kind names the outcome the landing reader must reach. Row-level kinds break exactly
the rows listed (1 = the first data row after the header); file-level kinds make every
row of one file unusable; drop-level kinds must reject the whole drop; ``missing_manifest``
leaves a drop that must wait; ``bom`` and ``cr_line_endings`` must be read as if clean.
Apart from the manifest kinds, a messy drop's manifest is honest about what is on disk.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import storage
from lakehouse.settings import Settings
from sources.contracts import DATE, FLOAT64, PLANT, SUPPLIER, TIMESTAMP, contract
from sources.landing import FAULTS
from sources.simulator import tables
from sources.simulator.seeds import rng

log = logging.getLogger(__name__)

EXPECT: dict[str, str] = {
    **dict.fromkeys(("unparsable_number", "unparsable_date", "nan_inf", "negative_count", "good_gt_total",
                     "end_before_start", "unknown_machine", "unknown_plant", "outside_date", "duplicate_rows",
                     "missing_required"), "quarantine"),
    **dict.fromkeys(("unknown_column", "missing_column"), "quarantine_file"),
    **dict.fromkeys(("manifest_row_mismatch", "manifest_checksum_mismatch", "empty_file", "truncated_gzip",
                     "path_traversal"), "reject_drop"),
    "missing_manifest": "wait",
    **dict.fromkeys(("bom", "cr_line_endings"), "read_ok"),
}
KINDS = tuple(EXPECT)
#: Kinds that only exist in text files (a Parquet run writes that one file as CSV).
TEXT_KINDS = frozenset({"unparsable_number", "unparsable_date", "bom", "cr_line_endings"})
#: Kinds that break the drop's manifest or its files as a whole rather than rows.
DROP_KINDS = frozenset(k for k, e in EXPECT.items() if e in ("reject_drop", "wait"))
UNPARSABLE_NUMBER = "#VALUE!"
UNPARSABLE_DATE = "31/02/2026 25:61"
EXTRA_COLUMN = "extra_note"
UNKNOWN_PLANT = "ZZ99"

_PLANT_EVENTS = ("telemetry", "production", "downtime_events", "maintenance", "failures")
_PLANT_SMALL = ("plants", "lines", "machines", "production", "downtime_events", "maintenance", "failures")
_SUPPLIER_EVENTS = ("shipments", "inspections")
_SUPPLIER_ALL = ("suppliers", "supplier_locations", "parts", "shipments", "inspections")
#: Feeds a kind may break, by drop scope (a seeded choice among those with rows). Row faults stay out
#: of master feeds: a quarantined machine or line would make its readings unknown references too.
CANDIDATES: dict[str, dict[str, tuple[str, ...]]] = {
    "unparsable_number": {PLANT: ("telemetry", "production", "maintenance", "failures"), SUPPLIER: _SUPPLIER_EVENTS},
    "unparsable_date": {PLANT: _PLANT_EVENTS, SUPPLIER: _SUPPLIER_EVENTS},
    "nan_inf": {PLANT: ("telemetry", "production", "maintenance", "failures"), SUPPLIER: ("shipments",)},
    "negative_count": {PLANT: ("production",), SUPPLIER: _SUPPLIER_EVENTS},
    "good_gt_total": {PLANT: ("production",), SUPPLIER: ()},
    "end_before_start": {PLANT: ("downtime_events", "production"), SUPPLIER: ()},
    "unknown_machine": {PLANT: ("telemetry", "downtime_events", "maintenance", "failures"), SUPPLIER: ()},
    "unknown_plant": {PLANT: (), SUPPLIER: ("shipments",)},
    "outside_date": {PLANT: _PLANT_EVENTS, SUPPLIER: _SUPPLIER_EVENTS},
    "duplicate_rows": {PLANT: _PLANT_EVENTS, SUPPLIER: _SUPPLIER_EVENTS},
    "missing_required": {PLANT: _PLANT_EVENTS, SUPPLIER: _SUPPLIER_EVENTS},
    "unknown_column": {PLANT: _PLANT_EVENTS[1:], SUPPLIER: _SUPPLIER_EVENTS},
    "missing_column": {PLANT: _PLANT_EVENTS[1:], SUPPLIER: _SUPPLIER_EVENTS},
    **{k: {PLANT: _PLANT_SMALL, SUPPLIER: _SUPPLIER_ALL} for k in DROP_KINDS | {"bom", "cr_line_endings"}},
}
#: Kinds a plant drop can only carry on a production day (they need production rows).
_NEED_PRODUCTION = frozenset({"negative_count", "good_gt_total", "end_before_start", "unknown_column",
                              "missing_column"})
_ROW_TEXT_KINDS = frozenset({"unparsable_number", "unparsable_date"})
_COUNTS = {"production": ("good_count",), "shipments": ("ordered_qty",), "inspections": ("defective_qty",)}
_END = {"downtime_events": "end_ts", "production": "shift_end"}


@dataclass(frozen=True)
class Slot:
    """What the planner knows about a drop before writing it."""

    drop_id: str
    scope: str
    german: bool = False
    production_day: bool = True
    parquet: bool = False  # text-only kinds then go to a small CSV file: a plant drop needs production rows


def applicable(kind: str, slot: Slot) -> bool:
    if not CANDIDATES[kind][slot.scope]:
        return False
    if kind == "bom" and slot.german:
        return False  # a UTF-8 byte-order mark in a latin-1 file would be a different fault
    needs_production = kind in _NEED_PRODUCTION or (slot.parquet and kind in _ROW_TEXT_KINDS)
    return not (slot.scope == PLANT and needs_production and not slot.production_day)


def assign(seed: int, fraction: float, slots: list[Slot]) -> dict[str, str]:
    """drop id -> fault kind for a seeded fraction of the drops, every kind at least once when
    there are at least as many drops as kinds (and the fraction is not zero)."""
    if fraction <= 0 or not slots:
        return {}
    r = rng(seed, "messy")
    order = [slots[i] for i in r.permutation(len(slots))]
    wanted = round(fraction * len(slots))
    if len(slots) >= len(KINDS):
        wanted = max(wanted, len(KINDS))
    wanted = min(wanted, len(slots))
    plan: dict[str, str] = {}
    # most constrained kinds first, so each finds a drop it fits
    for kind in sorted(KINDS, key=lambda k: (sum(applicable(k, s) for s in slots), KINDS.index(k))):
        if len(plan) >= wanted:
            break
        slot = next((s for s in order if s.drop_id not in plan and applicable(kind, s)), None)
        if slot is None:
            log.warning("--messy: no drop can carry a %s fault", kind)
            continue
        plan[slot.drop_id] = kind
    for slot in order:
        if len(plan) >= wanted:
            break
        if slot.drop_id not in plan:
            kinds = [k for k in KINDS if applicable(k, slot)]
            plan[slot.drop_id] = kinds[int(r.integers(len(kinds)))]
    return plan


@dataclass
class Fault:
    """One injected fault: the ground truth a test compares the reader's outcome with."""

    drop: str
    file: str
    kind: str
    rows: list[int] = field(default_factory=list)

    @property
    def expect(self) -> str:
        return EXPECT[self.kind]

    def to_json(self) -> dict:
        return {"drop": self.drop, "file": self.file, "rows": self.rows, "kind": self.kind, "expect": self.expect}


def choose_feed(kind: str, scope: str, rows: dict[str, int], fmt: str, r: np.random.Generator) -> str:
    """The feed (file) of the drop that carries the fault: a seeded choice among those with rows."""
    options = [f for f in CANDIDATES[kind][scope] if rows.get(f, 0) > 0]
    if fmt == "parquet" and kind in TEXT_KINDS:
        options = [f for f in options if f != "telemetry"]  # written as CSV: keep that file small
    if not options:
        raise ValueError(f"no feed of this drop can carry a {kind} fault")
    return options[int(r.integers(len(options)))]


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    array = table[column].combine_chunks()
    fresh = pa.array([value], type=array.type)
    new = pa.concat_arrays([array.slice(0, row), fresh, array.slice(row + 1)])
    return table.set_column(table.schema.get_field_index(column), column, new)


def _cell(table: pa.Table, columns: list[str], r: np.random.Generator, limit: int) -> tuple[int, str]:
    """A seeded non-null cell among ``columns`` in the first ``limit`` rows."""
    cells = [(i, c) for c in columns for i in np.flatnonzero(table[c].slice(0, limit).is_valid().to_numpy(
        zero_copy_only=False))]
    if not cells:
        raise ValueError(f"no non-null cell in {columns}")
    row, column = cells[int(r.integers(len(cells)))]
    return int(row), column


@dataclass
class Injection:
    """How one file is broken. ``on_table`` changes the typed rows (the first chunk of a
    streamed feed); ``on_cells`` changes their text; the writer handles the rest by kind."""

    kind: str
    feed: str
    plant_id: str | None
    r: np.random.Generator
    rows: list[int] = field(default_factory=list)
    nulled: str | None = None  # a required column that now holds a null (Parquet: made nullable)
    _text: tuple[int, str, str] | None = None

    def on_table(self, table: pa.Table, fmt: str) -> pa.Table:
        spec = contract(self.feed)
        limit = table.num_rows
        if self.feed == "telemetry":  # the first machine's readings: the first chunk, whatever its size
            ids = table["machine_id"]
            limit = pc.sum(pc.equal(ids, ids[0])).as_py() if table.num_rows else 0
        kind, r = self.kind, self.r
        fields = list(tables.schema(self.feed))  # the file's columns: a sensor feed's sensors too
        numbers = [f.name for f in fields if pa.types.is_integer(f.type) or f.type == FLOAT64]
        times = [f.name for f in fields if f.type in (TIMESTAMP, DATE)]
        if kind == "unparsable_number":
            row, column = _cell(table, numbers, r, limit)
            self._text = (row, column, UNPARSABLE_NUMBER)
        elif kind == "unparsable_date":
            row, column = _cell(table, times, r, limit)
            self._text = (row, column, UNPARSABLE_DATE)
        elif kind == "nan_inf":
            row, column = _cell(table, [f.name for f in fields if f.type == FLOAT64], r, limit)
            bad = float("inf") if fmt == "jsonl" or r.random() < 0.5 else float("nan")
            table = _set(table, column, row, bad)
        elif kind == "negative_count":
            row, column = _cell(table, list(_COUNTS[self.feed]), r, limit)
            table = _set(table, column, row, -1 - abs(int(table[column][row].as_py())))
        elif kind == "good_gt_total":
            row = int(r.integers(limit))
            table = _set(table, "good_count", row, int(table["total_count"][row].as_py()) + int(r.integers(1, 50)))
        elif kind == "end_before_start":
            row, column = int(r.integers(limit)), _END[self.feed]
            start = table["start_ts" if self.feed == "downtime_events" else "shift_start"][row].as_py()
            table = _set(table, column, row, start - dt.timedelta(minutes=int(r.integers(5, 60))))
        elif kind == "unknown_machine":
            row = int(r.integers(limit))
            table = _set(table, "machine_id", row, f"{self.plant_id}-U{int(r.integers(1000, 10000))}")
        elif kind == "unknown_plant":
            row = int(r.integers(limit))
            table = _set(table, "plant_id", row, UNKNOWN_PLANT)
        elif kind == "outside_date":
            row = int(r.integers(limit))
            shift = dt.timedelta(days=2 if r.random() < 0.5 else -2)
            for column in [f.name for f in spec.fields if f.type == TIMESTAMP]:
                value = table[column][row].as_py()
                if value is not None:
                    table = _set(table, column, row, value + shift)
        elif kind == "duplicate_rows":
            row = int(r.integers(limit))
            table = pa.concat_tables([table.slice(0, row + 1), table.slice(row, 1), table.slice(row + 1)])
            row += 1  # the copy is the bad row; the original lands
        elif kind == "missing_required":
            row, column = _cell(table, spec.required, r, limit)
            table = _set(table, column, row, None)
            self.nulled = column
        elif kind == "unknown_column":
            table = table.append_column(EXTRA_COLUMN, pa.array(["checked"] * table.num_rows, type=pa.string()))
        elif kind == "missing_column":
            column = spec.required[int(r.integers(len(spec.required)))]
            table = table.drop_columns([column])
        if EXPECT[kind] == "quarantine":
            self.rows = [int(self._text[0] if self._text else row) + 1]
        elif EXPECT[kind] == "quarantine_file":
            self.rows = list(range(1, table.num_rows + 1))
        return table

    def on_cells(self, cells: pa.Table, text) -> pa.Table:
        """Put an unparsable text where a value was (``text`` renders a raw value for the format)."""
        if self._text is None:
            return cells
        row, column, value = self._text
        return _set(cells, column, row, text(value))


def write(landing: str, faults: list[Fault], rewritten: set[str], settings: Settings | None) -> None:
    """Update ``_faults.json`` at the landing root: drops rewritten now replace their entries."""
    uri = storage.join(landing, FAULTS)
    entries = []
    if storage.exists(uri, settings):
        entries = [e for e in json.loads(storage.read_bytes(uri, settings)) if e["drop"] not in rewritten]
    if not faults and not entries and not storage.exists(uri, settings):
        return
    entries += [f.to_json() for f in faults]
    entries.sort(key=lambda e: (e["drop"][-10:], e["drop"], e["file"]))  # by date, then drop
    storage.write_bytes(uri, (json.dumps(entries, indent=1) + "\n").encode(), settings)
