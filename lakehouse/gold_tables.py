"""Gold tables: what BI tools and the models read, each declared once with how it is computed.

A gold table's :class:`~lakehouse.catalog.Derived` names its pure transform (in ``transforms``)
and the rows of each input it reads; ``orchestration.assets.gold`` turns every such declaration
into a Dagster asset with its dependencies and its check, so adding a table is its transform,
its spec here and its tests (docs/pipeline.md walks through one).

Bounds the checks enforce (each column's ``min``/``max``/``allowed``, ``at_most`` pairs):

* OEE (ISO 22400): availability = APT / PBT and quality = GQ / PQ cannot exceed 1 (a line cannot
  run longer than planned or make more good units than units). Performance = PQ x ideal cycle
  time / APT exceeds 1 only when the ideal cycle time in the line master is slower than the line
  really is (a speed-up nobody recorded): tolerated up to :data:`MAX_PERFORMANCE` so a stale
  master record does not stop the nightly load; beyond it the counts or the cycle time are wrong.
  OEE = A x P x Q is bounded by performance, hence by the same limit.
* A day's sensor mean and maximum stay within the sensor's expected range (the registry's, which
  every row carries): a reading outside it was quarantined at bronze, so a mean or maximum outside
  it means an aggregation or unit bug between silver and gold.
"""

from __future__ import annotations

from lakehouse.catalog import (
    BOOL,
    DATE,
    FLOAT64,
    INT64,
    NETWORK,
    PLANT,
    STRING,
    Input,
    TableSpec,
    col,
    derived,
)

DRIFT_WINDOWS = (7, 30)
#: The sensor whose daily mean, against the line's ideal cycle time, gives cycle_time_slowdown.
CYCLE_TIME_SENSOR = "cycle_time_s"
#: Maintenance and failures are looked back on this far for recency.
RECENCY_DAYS = 365
MAX_PERFORMANCE = 1.2
MINUTES_PER_DAY = 1440
#: A plant-local day is 25 hours long when daylight saving time ends: readings may cover that much.
LONGEST_DAY_MINUTES = 1500
#: How far back an in-transit record can still be open (sea freight takes weeks).
OPEN_SHIPMENT_DAYS = 120
#: Days of the rolling supplier scorecard.
ROLLING_DAYS = 90


_DIMENSION = {"everything": True}

MACHINE_SENSOR_DAILY = TableSpec(
    name="gold.machine_sensor_daily",
    description="One row per machine, sensor and day, for whatever sensors the machine reported: the day's "
    "statistics, drift against the machine's own 7- and 30-day baseline, and the sensor's unit and expected "
    "range from the registry (silver.dim_sensor).",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("machine_id", STRING, "Machine", nullable=False),
        col("sensor", STRING, "Sensor id (silver.dim_sensor)", nullable=False),
        col("unit", STRING, "Unit of the values (the registry's; null: not registered or unitless)"),
        col("readings", INT64, "Values of the sensor in the day's readings", nullable=False, min=1),
        col("mean", FLOAT64, "Mean of the day's values"),
        col("std", FLOAT64, "Standard deviation of the values within the day (sample; null with one value)",
            min=0),
        col("max", FLOAT64, "Maximum of the day's values"),
        *(col(f"drift_{days}d", FLOAT64, f"(day mean - mean of the previous {days} days' means) / their mean "
              "within-day std; null with fewer than 3 baseline days") for days in DRIFT_WINDOWS),
        col("expected_min", FLOAT64, "The sensor's lowest valid reading (registry; null: no bound)"),
        col("expected_max", FLOAT64, "The sensor's highest valid reading (registry; null: no bound)"),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id", "sensor"),
    at_most=(("expected_min", "mean"), ("mean", "expected_max"), ("expected_min", "max"), ("max", "expected_max")),
    scope=PLANT,
    blocking=True,  # the models read it
    derived=derived(
        "transforms.machine_daily:build_machine_sensor_daily",
        params={"windows": list(DRIFT_WINDOWS)},
        telemetry=Input("silver.telemetry", columns=("date", "plant_id", "machine_id", "readings")),
        history=Input("gold.machine_sensor_daily", days_before=max(DRIFT_WINDOWS), history_only=True,
                      columns=("date", "machine_id", "sensor", "mean", "std")),
        dim_machine=Input("silver.dim_machine", everything=True, columns=("plant_id", "machine_id", "machine_type")),
        dim_sensor=Input("silver.dim_sensor", **_DIMENSION),
    ),
)

MACHINE_DAILY = TableSpec(
    name="gold.machine_daily",
    description="One row per machine and day: readings, cycle-time slowdown, alarms and downtime, maintenance "
    "recency, age (the sensors' statistics: gold.machine_sensor_daily).",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line of the machine"),
        col("machine_id", STRING, "Machine", nullable=False),
        col("machine_type", STRING, "Kind of machine"),
        col("criticality", STRING, "A, B or C", allowed=("A", "B", "C")),
        col("age_years", FLOAT64, "Years since installation", unit="years", min=0),
        col("downtime_cost_eur_h", FLOAT64, "Cost of one hour of this machine standing still", unit="EUR/h", min=0),
        col("readings", INT64, "Telemetry readings of the day", nullable=False, min=1),
        col("covered_minutes", FLOAT64, "Minutes the readings cover", unit="min", nullable=False,
            min=0, max=LONGEST_DAY_MINUTES),
        col("cycle_time_slowdown", FLOAT64, f"Mean cycle time (sensor {CYCLE_TIME_SENSOR}) / the line's ideal "
            "cycle time - 1 (null: no such sensor)", min=-1),
        col("alarm_count", INT64, "Alarm events of the day", nullable=False, min=0),
        col("downtime_events", INT64, "Downtime events (not alarms) of the day", nullable=False, min=0),
        col("downtime_minutes", FLOAT64, "Minutes of downtime that started this day", unit="min", nullable=False,
            min=0),
        col("failure_count", INT64, "Unplanned failures of the day", nullable=False, min=0),
        col("maintenance_count", INT64, "Maintenance work orders of the day", nullable=False, min=0),
        col("days_since_maintenance", INT64, "Days since the last maintenance of any component (null: none known)",
            min=0),
        col("max_component_days_since_maintenance", INT64,
            "Days since maintenance of the machine's most overdue component", min=0),
        col("days_since_failure", INT64, "Days since the last failure (null: none known)", min=0),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id"),
    scope=PLANT,
    blocking=True,  # the models read it
    derived=derived(
        "transforms.machine_daily:build_machine_daily",
        write_via="arrow",
        params={"cycle_time_sensor": CYCLE_TIME_SENSOR},
        telemetry=Input("silver.telemetry", columns=("date", "plant_id", "machine_id", "interval_s")),
        sensor_days=Input("gold.machine_sensor_daily", columns=("date", "machine_id", "sensor", "mean")),
        downtime="silver.downtime_events",
        failures="silver.failures",
        maintenance="silver.maintenance",
        maintenance_year=Input("silver.maintenance", days_before=RECENCY_DAYS),
        failures_year=Input("silver.failures", days_before=RECENCY_DAYS),
        dim_machine=Input("silver.dim_machine", **_DIMENSION),
        dim_line=Input("silver.dim_line", **_DIMENSION),
    ),
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
        col("days_since_maintenance", INT64, "Days since the component was last maintained (null: not in 365 days)",
            min=0),
        col("days_since_failure", INT64, "Days since the component last failed (null: not in 365 days)", min=0),
        col("maintenance_count_365d", INT64, "Maintenance work orders on it in the last 365 days", nullable=False,
            min=0),
        col("failure_count_365d", INT64, "Failures of it in the last 365 days", nullable=False, min=0),
    ),
    partition_by=("date",),
    natural_key=("date", "machine_id", "component"),
    scope=PLANT,
    blocking=True,  # the models read it
    derived=derived(
        "transforms.machine_daily:build_machine_component_daily",
        machine_days=Input("gold.machine_daily", columns=("date", "plant_id", "machine_id")),
        maintenance_year=Input("silver.maintenance", days_before=RECENCY_DAYS),
        failures_year=Input("silver.failures", days_before=RECENCY_DAYS),
    ),
)


def _oee_columns(planned_max: float | None = None):
    return (
        col("planned_minutes", FLOAT64, "Planned busy time (PBT)", unit="min", nullable=False, min=0, max=planned_max),
        col("run_minutes", FLOAT64, "Actual production time (APT)", unit="min", nullable=False, min=0),
        col("total_count", INT64, "Produced quantity (PQ)", nullable=False, min=0),
        col("good_count", INT64, "Good quantity (GQ)", nullable=False, min=0),
        col("availability", FLOAT64, "APT / PBT", min=0, max=1),
        col("performance", FLOAT64, "PQ x ideal cycle time / APT", min=0, max=MAX_PERFORMANCE),
        col("quality", FLOAT64, "GQ / PQ", min=0, max=1),
        col("oee", FLOAT64, "availability x performance x quality", min=0, max=MAX_PERFORMANCE),
    )


_OEE_ORDER = (("good_count", "total_count"), ("run_minutes", "planned_minutes"))

OEE_DAILY = TableSpec(
    name="gold.oee_daily",
    description="OEE per line and day (ISO 22400): availability, performance, quality.",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("line_id", STRING, "Line", nullable=False),
        col("ideal_cycle_time_s", FLOAT64, "Ideal cycle time of the line (planned runtime per item)", unit="s",
            min=0),
        *_oee_columns(planned_max=MINUTES_PER_DAY),
    ),
    partition_by=("date",),
    natural_key=("date", "line_id"),
    at_most=_OEE_ORDER,
    scope=PLANT,
    derived=derived(
        "transforms.oee:oee_by_line",
        production="silver.production",
        dim_line=Input("silver.dim_line", **_DIMENSION),
    ),
)

OEE_PLANT_DAILY = TableSpec(
    name="gold.oee_plant_daily",
    description="OEE per plant and day, rolled up from its lines (sums of times and quantities, not means of ratios).",
    columns=(
        col("date", DATE, "Plant-local production date", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("lines", INT64, "Lines that reported production", nullable=False, min=1),
        *_oee_columns(),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id"),
    at_most=_OEE_ORDER,
    scope=PLANT,
    derived=derived("transforms.oee:oee_by_plant", oee_line="gold.oee_daily"),
)

PLANT_PRODUCTIVITY = TableSpec(
    name="gold.plant_productivity",
    description="Productivity per plant and month against the plant's baseline; the target is the baseline + 1/3. "
    "Each night recomputes its month so far.",
    columns=(
        col("month", DATE, "First day of the month", nullable=False),
        col("plant_id", STRING, "Plant", nullable=False),
        col("days", INT64, "Days with production in the month so far", nullable=False, min=1, max=31),
        col("planned_hours", FLOAT64, "Planned production hours", unit="h", nullable=False, min=0),
        col("good_count", INT64, "Good units", nullable=False, min=0),
        col("units_per_hour", FLOAT64, "Good units per planned hour", unit="units/h", min=0),
        col("baseline_units_per_hour", FLOAT64, "The plant's baseline at joining", unit="units/h", min=0),
        col("target_units_per_hour", FLOAT64, "Baseline x 4/3", unit="units/h", min=0),
        col("productivity_index", FLOAT64, "units_per_hour / baseline (1.0 = baseline)", min=0),
        col("target_attainment", FLOAT64, "units_per_hour / target (1.0 = target reached)", min=0),
        col("oee", FLOAT64, "OEE of the month (ISO 22400, from sums)", min=0, max=MAX_PERFORMANCE),
    ),
    partition_by=("month",),
    natural_key=("month", "plant_id"),
    at_most=(("baseline_units_per_hour", "target_units_per_hour"),),
    scope=PLANT,
    derived=derived(
        "transforms.productivity:plant_productivity",
        oee_line=Input("gold.oee_daily", whole_months=True),
        dim_plant=Input("silver.dim_plant", **_DIMENSION),
    ),
)

_SCORECARD_COLUMNS = (
    col("deliveries", INT64, "Shipments delivered in the period", nullable=False, min=0),
    col("on_time_rate", FLOAT64, "Share delivered no later than promised", min=0, max=1),
    col("in_full_rate", FLOAT64, "Share with delivered_qty >= ordered_qty", min=0, max=1),
    col("otif_rate", FLOAT64, "Share both on time and in full", min=0, max=1),
    col("lead_time_days_mean", FLOAT64, "Mean of delivered_at - shipped_at", unit="days", min=0),
    col("lead_time_days_std", FLOAT64, "Standard deviation of the lead time (its spread)", unit="days", min=0),
    col("inspected_qty", INT64, "Units inspected at incoming inspection", nullable=False, min=0),
    col("defective_qty", INT64, "Units found defective", nullable=False, min=0),
    col("defect_ppm", FLOAT64, "defective_qty / inspected_qty x 1,000,000", unit="ppm", min=0, max=1_000_000),
    col("premium_freight_shipments", INT64, "Shipments expedited at extra cost (null: the source does not say "
        "which were)", min=0),
    col("premium_freight_eur", FLOAT64, "Freight cost of expedited shipments (null: as above)", unit="EUR", min=0),
)
_SCORECARD_ORDER = (("defective_qty", "inspected_qty"), ("otif_rate", "on_time_rate"), ("otif_rate", "in_full_rate"))

SUPPLIER_SCORECARD = TableSpec(
    name="gold.supplier_scorecard",
    description="Supplier scorecard per supplier and month: on-time, in-full, OTIF, lead time and spread, "
    "defect PPM, premium freight. Each night recomputes its month so far.",
    columns=(
        col("month", DATE, "First day of the month", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        *_SCORECARD_COLUMNS,
    ),
    partition_by=("month",),
    natural_key=("month", "supplier_id"),
    at_most=_SCORECARD_ORDER,
    scope=NETWORK,
    derived=derived(
        "transforms.suppliers:monthly_scorecard",
        shipments=Input("silver.shipments", whole_months=True),
        inspections=Input("silver.inspections", whole_months=True),
    ),
)

SUPPLIER_SCORECARD_90D = TableSpec(
    name="gold.supplier_scorecard_90d",
    description="Supplier scorecard over the rolling 90 days ending on each date (same measures as monthly).",
    columns=(
        col("date", DATE, "Last day of the 90-day window", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        *_SCORECARD_COLUMNS,
        col("window_days_covered", INT64, "Days of the 90-day window on or after the first night the supplier "
            "drops were loaded (fewer: the window reaches back before the history)", nullable=False, min=0,
            max=ROLLING_DAYS),
        col("window_complete", BOOL, "The whole window lies in loaded history (window_days_covered = 90); a "
            "new source's first windows are not", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "supplier_id"),
    at_most=_SCORECARD_ORDER,
    scope=NETWORK,
    derived=derived(
        "transforms.suppliers:rolling_scorecard",
        params={"days": ROLLING_DAYS, "source": "suppliers"},
        shipments=Input("silver.shipments", days_before=ROLLING_DAYS - 1),
        inspections=Input("silver.inspections", days_before=ROLLING_DAYS - 1),
        landed=Input("ops.landed_drops", everything=True, columns=("date", "plant_id", "status")),
    ),
)

PLANT_SUPPLY_RISK = TableSpec(
    name="gold.plant_supply_risk",
    description="Inbound shipments at risk per plant, date and supplier: open shipments whose ETA is past the "
    "promise, or that come from a supplier with a poor 90-day OTIF and are due within 3 days; window_complete "
    "says whether that OTIF's 90 days lie in loaded history.",
    columns=(
        col("date", DATE, "As-of date (end of the UTC day)", nullable=False),
        col("plant_id", STRING, "Receiving plant", nullable=False),
        col("supplier_id", STRING, "Supplier", nullable=False),
        col("open_shipments", INT64, "Shipments in transit to the plant", nullable=False, min=0),
        col("at_risk_shipments", INT64, "Of those, at risk", nullable=False, min=0),
        col("at_risk_qty", INT64, "Units on at-risk shipments", nullable=False, min=0),
        col("at_risk_value_eur", FLOAT64, "Value of those units (null: a part's unit cost is unknown)", unit="EUR",
            min=0),
        col("max_expected_delay_h", FLOAT64, "Largest ETA - promise among open shipments", unit="h"),
        col("supplier_otif_90d", FLOAT64, "The supplier's OTIF over the 90 days ending on the date "
            "(gold.supplier_scorecard_90d; window_complete says whether the history covers all 90)", min=0, max=1),
        col("risk_level", STRING, "high (a late ETA), medium (poor OTIF, due soon) or low", nullable=False,
            allowed=("high", "medium", "low")),
        col("window_days_covered", INT64, "Days of supplier_otif_90d's 90-day window on or after the first night "
            "the supplier drops were loaded (fewer: the window reaches back before the history)", nullable=False,
            min=0, max=ROLLING_DAYS),
        col("window_complete", BOOL, "supplier_otif_90d's whole window lies in loaded history "
            "(window_days_covered = 90); a new source's first windows are not, and their OTIF is over part of "
            "the window only", nullable=False),
    ),
    partition_by=("date",),
    natural_key=("date", "plant_id", "supplier_id"),
    at_most=(("at_risk_shipments", "open_shipments"),),
    scope=NETWORK,  # the supplier drop is one per night: every plant's inbound risk is recomputed with it
    derived=derived(
        "transforms.suppliers:supply_risk_of",
        params={"days": ROLLING_DAYS, "source": "suppliers"},
        shipments=Input("silver.shipments", days_before=OPEN_SHIPMENT_DAYS),
        scorecard_90d="gold.supplier_scorecard_90d",
        parts=Input("silver.dim_part", **_DIMENSION),
        landed=Input("ops.landed_drops", everything=True, columns=("date", "plant_id", "status")),
    ),
)

GOLD_TABLES = [
    MACHINE_SENSOR_DAILY,
    MACHINE_DAILY,
    MACHINE_COMPONENT_DAILY,
    OEE_DAILY,
    OEE_PLANT_DAILY,
    PLANT_PRODUCTIVITY,
    SUPPLIER_SCORECARD,
    SUPPLIER_SCORECARD_90D,
    PLANT_SUPPLY_RISK,
]
