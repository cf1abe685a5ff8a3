"""A small synthetic plant history written straight into the gold and silver tables the models read.

Two plants x 10 machines x 100 days, no Spark: machines fail every 15-35 days; in the 5 days
before a failure the failing component shows in its sensor (bearing: vibration up,
motor: temperature up, hydraulics: pressure down) and alarms accumulate. Enough signal
for a model to beat its base rate clearly, small enough to train in seconds: what the
registry, gate, scoring and alert tests need. The quality floors use the real simulator
and pipeline instead (tests/test_ml_quality.py).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from lakehouse import catalog
from lakehouse.delta import Lake

START = dt.date(2025, 3, 3)
DAYS = 100
PLANTS = ("DE01", "US01")
MACHINES = 10
COMPONENTS = ("bearing", "motor", "hydraulics")
SIGNAL = {"bearing": ("vibration_mm_s", 0.8), "motor": ("temperature_c", 0.3), "hydraulics": ("pressure_bar", -0.3)}
REPAIR_H = {"bearing": 6.0, "motor": 8.0, "hydraulics": 5.0}
REPAIR_EUR = {"bearing": 3200.0, "motor": 6700.0, "hydraulics": 4000.0}
LEVEL = {"temperature_c": 45.0, "vibration_mm_s": 3.0, "current_a": 40.0, "pressure_bar": 70.0, "cycle_time_s": 50.0,
         "voltage_v": 400.0, "rotation_rpm": 1500.0}
END = START + dt.timedelta(days=DAYS - 1)


def _table(name: str, frame: pd.DataFrame) -> pa.Table:
    spec = catalog.get(name)
    frame = frame[spec.column_names].astype(object).where(frame[spec.column_names].notna(), None)
    return pa.Table.from_pandas(frame, schema=spec.schema, preserve_index=False)


def history(seed: int = 3) -> dict[str, pd.DataFrame]:
    """The tables as pandas frames (gold.machine_daily, gold.machine_component_daily, silver.*)."""
    rng = np.random.default_rng(seed)
    dates = [START + dt.timedelta(days=i) for i in range(DAYS)]
    daily, sensor_rows, comp_rows, failures, maintenance, machines = [], [], [], [], [], []
    ingested = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    for plant in PLANTS:
        for m in range(MACHINES):
            machine = f"{plant}-M{m:04d}"
            crit = "ABC"[m % 3]
            rate = {"A": 9000.0, "B": 3000.0, "C": 700.0}[crit] * (1.0 if plant == "DE01" else 0.8)
            install = dt.date(2015 + m % 8, 1 + m % 12, 1)
            machines.append({"plant_id": plant, "machine_id": machine, "line_id": f"{plant}-L01",
                             "machine_type": ("press", "cnc")[m % 2], "model": "X1", "install_date": install,
                             "criticality": crit, "downtime_cost_eur_h": rate, "first_seen": START, "as_of": END})
            fail_days, day = [], int(rng.integers(5, 25))
            while day < DAYS + 10:
                fail_days.append(day)
                day += int(rng.integers(15, 36))
            parts = [str(rng.choice(COMPONENTS)) for _ in fail_days]
            levels = {s: LEVEL[s] * rng.uniform(0.9, 1.1) for s in LEVEL}
            last_maint = -int(rng.integers(0, 40))
            for i, date in enumerate(dates):
                ahead = [(f - i, c) for f, c in zip(fail_days, parts, strict=True) if 0 < f - i <= 5]
                severity, part = ((6 - ahead[0][0]) / 5, ahead[0][1]) if ahead else (0.0, None)
                failed_today = [c for f, c in zip(fail_days, parts, strict=True) if f == i]
                earlier = [f for f in fail_days if f <= i]
                if (i - last_maint) >= 56:
                    last_maint = i
                row = {"date": date, "plant_id": plant, "line_id": f"{plant}-L01", "machine_id": machine,
                       "machine_type": ("press", "cnc")[m % 2], "criticality": crit,
                       "age_years": (date - install).days / 365.25, "downtime_cost_eur_h": rate,
                       "readings": 144, "covered_minutes": 1440.0, "cycle_time_slowdown": rng.normal(0.02, 0.01),
                       "alarm_count": int(rng.poisson(0.3 + 4 * severity)), "downtime_events": int(bool(failed_today)),
                       "downtime_minutes": 60.0 * REPAIR_H[failed_today[0]] if failed_today else 0.0,
                       "failure_count": len(failed_today), "maintenance_count": int(i == last_maint),
                       "days_since_maintenance": i - last_maint if i >= last_maint else None,
                       "max_component_days_since_maintenance": i - last_maint if i >= last_maint else None,
                       "days_since_failure": i - earlier[-1] if earlier else None}
                for sensor in LEVEL:
                    shift = SIGNAL[part][1] * severity if part and SIGNAL[part][0] == sensor else 0.0
                    mean = levels[sensor] * (1 + shift) * (1 + rng.normal(0, 0.02))
                    sensor_rows.append({"date": date, "plant_id": plant, "machine_id": machine, "sensor": sensor,
                                        "unit": None, "readings": 144, "mean": mean, "std": levels[sensor] * 0.05,
                                        "max": mean + 2 * levels[sensor] * 0.05, "expected_min": None,
                                        "expected_max": None})
                daily.append(row)
                for c in COMPONENTS:
                    fails_c = [f for f, p in zip(fail_days, parts, strict=True) if f <= i and p == c]
                    comp_rows.append({"date": date, "plant_id": plant, "machine_id": machine, "component": c,
                                      "days_since_maintenance": i - last_maint if i >= last_maint else None,
                                      "days_since_failure": i - fails_c[-1] if fails_c else None,
                                      "maintenance_count_365d": 1, "failure_count_365d": len(fails_c)})
                for c in failed_today:
                    at = dt.datetime.combine(date, dt.time(10, 0), tzinfo=dt.UTC)
                    repair = REPAIR_EUR[c] * float(rng.lognormal(0, 0.1))
                    failures.append({"date": date, "plant_id": plant, "machine_id": machine, "failed_at": at,
                                     "component": c, "failure_mode": "wear",
                                     "downtime_minutes": 60 * REPAIR_H[c] * float(rng.uniform(0.9, 1.1)),
                                     # every 5th failure comes without its cost: the corrective order has it
                                     "repair_cost_eur": None if len(failures) % 5 == 4 else repair,
                                     "_source_file": "synthetic", "_ingested_at": ingested})
                    maintenance.append({"date": date, "plant_id": plant, "work_order_id": f"WO-{machine}-{i}",
                                        "machine_id": machine, "component": c, "maintenance_type": "corrective",
                                        "performed_at": at + dt.timedelta(hours=REPAIR_H[c]),
                                        "labour_hours": 8.0, "parts_cost_eur": repair - 8 * 75.0,
                                        "_source_file": "synthetic", "_ingested_at": ingested})
    sensors = pd.DataFrame(sensor_rows)
    grouped = sensors.groupby(["machine_id", "sensor"])["mean"]
    for days in (7, 30):
        base = grouped.transform(lambda s, d=days: s.shift(1).rolling(d, min_periods=3).mean())
        sensors[f"drift_{days}d"] = (sensors["mean"] - base) / sensors["std"]
    return {"gold.machine_daily": pd.DataFrame(daily), "gold.machine_sensor_daily": sensors,
            "gold.machine_component_daily": pd.DataFrame(comp_rows),
            "silver.failures": pd.DataFrame(failures), "silver.maintenance": pd.DataFrame(maintenance),
            "silver.dim_machine": pd.DataFrame(machines)}


def write(lake: Lake, seed: int = 3) -> dict[str, pd.DataFrame]:
    """Write the synthetic history into ``lake`` (one commit per table); returns the frames."""
    frames = history(seed)
    for name, frame in frames.items():
        lake.append(name, _table(name, frame))
    return frames
