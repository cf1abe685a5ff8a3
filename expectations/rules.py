"""Table-specific rules: what must hold in a table beyond its catalog schema, keyed by table name.

Rules are plain data (:class:`Between`, :class:`AtMost`, :class:`OneOf`) so every suite gets
fresh GX expectations and the rules read like the KPI definitions they protect. Nulls pass
every rule: whether a column may be null is the catalog's business.

OEE bounds (ISO 22400): availability = APT / PBT and quality = GQ / PQ cannot exceed 1 (a
line cannot run longer than planned or make more good units than units). Performance =
PQ x ideal cycle time / APT exceeds 1 only when the ideal cycle time in the line master is
slower than the line really is (e.g. after a speed-up nobody recorded). Such a line is
tolerated up to :data:`MAX_PERFORMANCE` = 1.2 so a stale master record does not stop the
nightly gold load; beyond that the counts or the cycle time are wrong, not stale, and the
check fails. OEE = A x P x Q is bounded by performance, hence by the same limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import great_expectations as gx
from great_expectations.expectations.expectation import Expectation

from lakehouse.gold_tables import SENSORS

MAX_PERFORMANCE = 1.2
MINUTES_PER_DAY = 1440
#: A plant-local day is 25 hours long when daylight saving time ends: readings may cover that much.
LONGEST_DAY_MINUTES = 1500

#: Physical limits of a day's sensor mean and maximum (those of the telemetry contract):
#: a summary outside them means an aggregation or unit bug between silver and gold.
SENSOR_BOUNDS: dict[str, tuple[float, float]] = {
    "temperature_c": (-50, 500),
    "vibration_mm_s": (0, 500),
    "current_a": (0, 5000),
    "pressure_bar": (0, 2000),
    "cycle_time_s": (0, 86400),
    "voltage_v": (0, 2000),
    "rotation_rpm": (0, 100000),
}


@dataclass(frozen=True)
class Between:
    """``low <= column <= high`` (either bound may be open)."""

    column: str
    low: float | None = None
    high: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnValuesToBeBetween(
            column=self.column, min_value=self.low, max_value=self.high, description=self.text
        )

    @property
    def text(self) -> str:
        if self.high is None:
            return f"{self.column} >= {self.low:g}"
        if self.low is None:
            return f"{self.column} <= {self.high:g}"
        return f"{self.low:g} <= {self.column} <= {self.high:g}"


@dataclass(frozen=True)
class AtMost:
    """``column <= other`` in every row where both are present."""

    column: str
    other: str

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column, self.other)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=self.other,
            column_B=self.column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            description=self.text,
        )

    @property
    def text(self) -> str:
        return f"{self.column} <= {self.other}"


@dataclass(frozen=True)
class OneOf:
    """The column's values come from a fixed set."""

    column: str
    values: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)

    def expectation(self) -> Expectation:
        return gx.expectations.ExpectColumnValuesToBeInSet(
            column=self.column, value_set=list(self.values), description=self.text
        )

    @property
    def text(self) -> str:
        return f"{self.column} in ({', '.join(self.values)})"


Rule = Between | AtMost | OneOf


def _non_negative(*columns: str) -> tuple[Between, ...]:
    return tuple(Between(c, 0) for c in columns)


def _ratio(*columns: str, high: float = 1.0) -> tuple[Between, ...]:
    return tuple(Between(c, 0, high) for c in columns)


def _sensor_rules() -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for sensor, _unit in SENSORS:
        rules.append(Between(f"{sensor}_std", 0))
        if sensor in SENSOR_BOUNDS:
            low, high = SENSOR_BOUNDS[sensor]
            rules += [Between(f"{sensor}_mean", low, high), Between(f"{sensor}_max", low, high)]
    return tuple(rules)


_OEE = (
    *_ratio("availability", "quality"),
    *_ratio("performance", "oee", high=MAX_PERFORMANCE),
    *_non_negative("planned_minutes", "run_minutes", "total_count", "good_count"),
    AtMost("good_count", "total_count"),
    AtMost("run_minutes", "planned_minutes"),
)

_SCORECARD = (
    *_ratio("on_time_rate", "in_full_rate", "otif_rate"),
    Between("defect_ppm", 0, 1_000_000),
    *_non_negative("deliveries", "inspected_qty", "defective_qty", "lead_time_days_mean", "lead_time_days_std",
                   "premium_freight_shipments", "premium_freight_eur"),
    AtMost("defective_qty", "inspected_qty"),
    AtMost("otif_rate", "on_time_rate"),
    AtMost("otif_rate", "in_full_rate"),
)

RULES: dict[str, tuple[Rule, ...]] = {
    "gold.machine_daily": (
        Between("readings", 1),
        Between("covered_minutes", 0, LONGEST_DAY_MINUTES),
        OneOf("criticality", ("A", "B", "C")),
        *_non_negative("age_years", "downtime_cost_eur_h", "alarm_count", "downtime_events", "downtime_minutes",
                       "failure_count", "maintenance_count", "days_since_maintenance",
                       "max_component_days_since_maintenance", "days_since_failure"),
        Between("cycle_time_slowdown", -1),
        *_sensor_rules(),
    ),
    "gold.machine_component_daily": _non_negative(
        "days_since_maintenance", "days_since_failure", "maintenance_count_365d", "failure_count_365d"
    ),
    "gold.oee_daily": (
        *_OEE,
        Between("planned_minutes", 0, MINUTES_PER_DAY),
        Between("ideal_cycle_time_s", 0),
    ),
    "gold.oee_plant_daily": (*_OEE, Between("lines", 1)),
    "gold.plant_productivity": (
        Between("days", 1, 31),
        *_non_negative("planned_hours", "good_count", "units_per_hour", "baseline_units_per_hour",
                       "target_units_per_hour", "productivity_index", "target_attainment"),
        Between("oee", 0, MAX_PERFORMANCE),
        AtMost("baseline_units_per_hour", "target_units_per_hour"),
    ),
    "gold.supplier_scorecard": _SCORECARD,
    "gold.supplier_scorecard_90d": _SCORECARD,
    "gold.plant_supply_risk": (
        AtMost("at_risk_shipments", "open_shipments"),
        OneOf("risk_level", ("high", "medium", "low")),
        *_non_negative("open_shipments", "at_risk_shipments", "at_risk_qty", "at_risk_value_eur"),
        Between("supplier_otif_90d", 0, 1),
    ),
    # The models' outputs: probabilities are probabilities, costs are costs, alerts are within the budget's ranks.
    "gold.failure_risk": (
        *_ratio("failure_probability", "component_probability"),
        Between("horizon_days", 1),
        *_non_negative("predicted_failure_cost_eur", "action_duration_h", "action_cost_eur"),
    ),
    "gold.maintenance_alerts": (
        Between("failure_probability", 0, 1),
        Between("expected_saving_eur", 0),
        Between("rank_in_plant", 1),
        OneOf("status", ("pending", "delivered")),
        *_non_negative("delivery_attempts", "action_cost_eur", "predicted_failure_cost_eur"),
    ),
    # Silver feeds the KPIs: the contract's cross-column rules again, after conforming and deduplication.
    "silver.production": (
        AtMost("good_count", "total_count"),
        AtMost("run_minutes", "planned_minutes"),
        AtMost("shift_start", "shift_end"),
    ),
    "silver.downtime_events": (AtMost("start_ts", "end_ts"),),
    "silver.inspections": (AtMost("defective_qty", "inspected_qty"),),
    "silver.shipments": (AtMost("shipped_at", "promised_at"), AtMost("shipped_at", "delivered_at")),
    "ops.landed_drops": (OneOf("status", ("landed", "rejected")),),
    "ops.table_maintenance": (OneOf("operation", ("optimize", "vacuum", "checkpoint")),),
}


def rules_for(table: str) -> tuple[Rule, ...]:
    """The table's own rules (none for a table without any)."""
    return RULES.get(table, ())


def range_rules(ranges: dict[str, tuple[float | None, float | None]] | None) -> tuple[Between, ...]:
    """The caller's ``{column: (min, max)}`` as rules; a pair of open bounds adds nothing."""
    return tuple(Between(c, lo, hi) for c, (lo, hi) in (ranges or {}).items() if lo is not None or hi is not None)


def allowed_rules(allowed: dict[str, Sequence[str]] | None) -> tuple[OneOf, ...]:
    """The caller's ``{column: allowed values}`` as rules."""
    rules = []
    for column, values in (allowed or {}).items():
        if isinstance(values, str):
            raise ValueError(f"allowed values of {column!r} must be a sequence of strings, not the string {values!r}")
        rules.append(OneOf(column, tuple(values)))
    return tuple(rules)
