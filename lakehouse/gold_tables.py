"""Gold tables: what BI tools and the models read. Declared once here; the docs' table reference lists them."""

from __future__ import annotations

from lakehouse.catalog import DATE, FLOAT64, INT64, STRING, TableSpec, col

#: Sensor columns of telemetry that machine_daily summarises (contract names and units).
SENSORS = (
    ("temperature_c", "degC"),
    ("vibration_mm_s", "mm/s"),
    ("current_a", "A"),
    ("pressure_bar", "bar"),
    ("cycle_time_s", "s"),
    ("voltage_v", "V"),
    ("rotation_rpm", "rpm"),
)
DRIFT_WINDOWS = (7, 30)


def _sensor_columns():
    for sensor, unit in SENSORS:
        yield col(f"{sensor}_mean", FLOAT64, f"Mean of {sensor} over the day's readings", unit=unit)
        yield col(f"{sensor}_std", FLOAT64, f"Standard deviation of {sensor} within the day", unit=unit)
        yield col(f"{sensor}_max", FLOAT64, f"Maximum of {sensor} in the day", unit=unit)
        for days in DRIFT_WINDOWS:
            yield col(
                f"{sensor}_drift_{days}d",
                FLOAT64,
                f"(day mean - mean of the previous {days} days' means) / their mean within-day std; "
                "null with fewer than 3 baseline days",
            )


MACHINE_DAILY = TableSpec(
    name="gold.machine_daily",
    description="One row per machine and day: sensor statistics, drift against the machine's own 7- and "
    "30-day baseline, cycle-time slowdown, alarms and downtime, maintenance recency, age.",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line of the machine"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("machine_type", STRING, "Kind of machine"),
        col("criticality", STRING, "A, B or C"),
        col("age_years", FLOAT64, "Years since installation", unit="years"),
        col("downtime_cost_eur_h", FLOAT64, "Cost of one hour of this machine standing still", unit="EUR/h"),
        col("readings", INT64, "Telemetry readings of the day", nullable=False),
        col("covered_minutes", FLOAT64, "Minutes the readings cover", unit="min", nullable=False),
        *_sensor_columns(),
        col("cycle_time_slowdown", FLOAT64, "Mean cycle time / the line's ideal cycle time - 1"),
        col("alarm_count", INT64, "Alarm events of the day", nullable=False),
        col("downtime_events", INT64, "Downtime events (not alarms) of the day", nullable=False),
        col("downtime_minutes", FLOAT64, "Minutes of downtime that started this day", unit="min", nullable=False),
        col("failure_count", INT64, "Unplanned failures of the day", nullable=False),
        col("maintenance_count", INT64, "Maintenance work orders of the day", nullable=False),
        col("days_since_maintenance", INT64, "Days since the last maintenance of any component (null: none known)"),
        col(
            "max_component_days_since_maintenance",
            INT64,
            "Days since maintenance of the machine's most overdue component",
        ),
        col("days_since_failure", INT64, "Days since the last failure (null: none known)"),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id"),
)

MACHINE_COMPONENT_DAILY = TableSpec(
    name="gold.machine_component_daily",
    description="One row per machine, component and day: days since the component's last maintenance and "
    "failure (components known from the last year's maintenance and failures).",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("machine_id", STRING, "Machine", nullable=False),
        col("component", STRING, "Component", nullable=False),
        col("days_since_maintenance", INT64, "Days since the component was last maintained (null: not in 365 days)"),
        col("days_since_failure", INT64, "Days since the component last failed (null: not in 365 days)"),
        col("maintenance_count_365d", INT64, "Maintenance work orders on it in the last 365 days", nullable=False),
        col("failure_count_365d", INT64, "Failures of it in the last 365 days", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id", "component"),
)

_OEE_COLUMNS = (
    col("planned_minutes", FLOAT64, "Planned busy time (PBT)", unit="min", nullable=False),
    col("run_minutes", FLOAT64, "Actual production time (APT)", unit="min", nullable=False),
    col("total_count", INT64, "Produced quantity (PQ)", nullable=False),
    col("good_count", INT64, "Good quantity (GQ)", nullable=False),
    col("availability", FLOAT64, "APT / PBT"),
    col("performance", FLOAT64, "PQ x ideal cycle time / APT"),
    col("quality", FLOAT64, "GQ / PQ"),
    col("oee", FLOAT64, "availability x performance x quality"),
)

OEE_DAILY = TableSpec(
    name="gold.oee_daily",
    description="OEE per line and day (ISO 22400): availability, performance, quality.",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line", nullable=False),
        col("ideal_cycle_time_s", FLOAT64, "Ideal cycle time of the line (planned runtime per item)", unit="s"),
        *_OEE_COLUMNS,
    ),
    partition_by=("date",),
    natural_key=("date", "line_id"),
)

OEE_PLANT_DAILY = TableSpec(
    name="gold.oee_plant_daily",
    description="OEE per plant and day, rolled up from its lines (sums of times and quantities, not means of ratios).",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("lines", INT64, "Lines that reported production", nullable=False),
        *_OEE_COLUMNS,
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id"),
)

PLANT_PRODUCTIVITY = TableSpec(
    name="gold.plant_productivity",
    description="Productivity per plant and month against the plant's baseline; the target is the baseline + 1/3.",
    columns=(
        col("month", DATE, "First day of the month", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("days", INT64, "Days with production in the month so far", nullable=False),
        col("planned_hours", FLOAT64, "Planned production hours", unit="h", nullable=False),
        col("good_count", INT64, "Good units", nullable=False),
        col("units_per_hour", FLOAT64, "Good units per planned hour", unit="units/h"),
        col("baseline_units_per_hour", FLOAT64, "The plant's baseline at joining", unit="units/h"),
        col("target_units_per_hour", FLOAT64, "Baseline x 4/3", unit="units/h"),
        col("productivity_index", FLOAT64, "units_per_hour / baseline (1.0 = baseline)"),
        col("target_attainment", FLOAT64, "units_per_hour / target (1.0 = target reached)"),
        col("oee", FLOAT64, "OEE of the month (ISO 22400, from sums)"),
    ),
    partition_by=("month",),
    natural_key=("month", "plant_id"),
)

_SCORECARD_COLUMNS = (
    col("deliveries", INT64, "Shipments delivered in the period", nullable=False),
    col("on_time_rate", FLOAT64, "Share delivered no later than promised"),
    col("in_full_rate", FLOAT64, "Share with delivered_qty >= ordered_qty"),
    col("otif_rate", FLOAT64, "Share both on time and in full"),
    col("lead_time_days_mean", FLOAT64, "Mean of delivered_at - shipped_at", unit="days"),
    col("lead_time_days_std", FLOAT64, "Standard deviation of the lead time (its spread)", unit="days"),
    col("inspected_qty", INT64, "Units inspected at incoming inspection", nullable=False),
    col("defective_qty", INT64, "Units found defective", nullable=False),
    col("defect_ppm", FLOAT64, "defective_qty / inspected_qty x 1,000,000", unit="ppm"),
    col("premium_freight_shipments", INT64, "Shipments expedited at extra cost", nullable=False),
    col("premium_freight_eur", FLOAT64, "Freight cost of expedited shipments", unit="EUR", nullable=False),
)

SUPPLIER_SCORECARD = TableSpec(
    name="gold.supplier_scorecard",
    description="Supplier scorecard per supplier and month: on-time, in-full, OTIF, lead time and spread, "
    "defect PPM, premium freight.",
    columns=(
        col("month", DATE, "First day of the month", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        *_SCORECARD_COLUMNS,
    ),
    partition_by=("month",),
    natural_key=("month", "supplier_id"),
)

SUPPLIER_SCORECARD_90D = TableSpec(
    name="gold.supplier_scorecard_90d",
    description="Supplier scorecard over the rolling 90 days ending on each date (same measures as monthly).",
    columns=(
        col("date", DATE, "Last day of the 90-day window", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        *_SCORECARD_COLUMNS,
    ),
    partition_by=("date",),
    natural_key=("date", "supplier_id"),
)

PLANT_SUPPLY_RISK = TableSpec(
    name="gold.plant_supply_risk",
    description="Inbound shipments at risk per plant, date and supplier: open shipments whose ETA is past the "
    "promise, or that come from a supplier with a poor 90-day OTIF and are due within 3 days.",
    columns=(
        col("date", DATE, "As-of date (end of the UTC day)", nullable=False),
        col("plant_id", STRING, "Receiving plant", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        col("open_shipments", INT64, "Shipments in transit to the plant", nullable=False),
        col("at_risk_shipments", INT64, "Of those, at risk", nullable=False),
        col("at_risk_qty", INT64, "Units on at-risk shipments", nullable=False),
        col("at_risk_value_eur", FLOAT64, "Value of those units", unit="EUR", nullable=False),
        col("max_expected_delay_h", FLOAT64, "Largest ETA - promise among open shipments", unit="h"),
        col("supplier_otif_90d", FLOAT64, "The supplier's OTIF over the 90 days ending on the date"),
        col("risk_level", STRING, "high (a late ETA), medium (poor OTIF, due soon) or low", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id", "supplier_id"),
)

GOLD_TABLES = [
    MACHINE_DAILY,
    MACHINE_COMPONENT_DAILY,
    OEE_DAILY,
    OEE_PLANT_DAILY,
    PLANT_PRODUCTIVITY,
    SUPPLIER_SCORECARD,
    SUPPLIER_SCORECARD_90D,
    PLANT_SUPPLY_RISK,
]
