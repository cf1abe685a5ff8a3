"""Machine types and their sensors: levels, noise, which components they have, and how a
degrading component shows in the readings.

Every number here is documented in docs/simulator.md; models are expected
to find these patterns, never to read them from this module.
"""

from __future__ import annotations

import numpy as np

from sources.simulator.components import NAMES as COMPONENT_NAMES

#: The simulator's sensors (their ids in the registry, and their headers in its own format: the
#: ``plantlake`` mapping declares them), in the order the simulator computes them.
SENSORS = ("temperature_c", "vibration_mm_s", "current_a", "pressure_bar", "cycle_time_s", "voltage_v",
           "rotation_rpm")
TEMP, VIB, CUR, PRES, CYCLE, VOLT, RPM = range(len(SENSORS))

#: Running level of each sensor per machine type; None: the type has no such sensor (null).
#: Temperature is the rise over ambient at full load (degC), cycle time a factor of the
#: line's ideal cycle time, voltage the nominal supply.
PROFILES: dict[str, tuple[float | None, ...]] = {
    #                 temp  vib   cur    pres   cycle volt   rpm
    "press":          (25.0, 4.0, 120.0, 180.0, 1.0, 400.0, None),
    "body_robot":     (18.0, 1.8, 25.0,  None,  1.0, 400.0, 1500.0),
    "paint_robot":    (12.0, 1.2, 15.0,  6.0,   1.0, 400.0, 30000.0),
    "cnc":            (20.0, 2.5, 40.0,  70.0,  1.0, 400.0, 8000.0),
    "conveyor":       (10.0, 3.0, 12.0,  None,  1.0, 400.0, 1450.0),
    "welder":         (30.0, None, 300.0, 5.0,  1.0, 400.0, None),
    "assembly_robot": (15.0, 1.5, 18.0,  6.0,   1.0, 400.0, 1200.0),
}
#: The simulator's machine types (the ``plantlake`` mapping registers their sensors and components).
MACHINE_TYPES = tuple(PROFILES)

#: Level while the machine stands still, as a share of the running level (temperature cools
#: towards ambient instead; cycle time is null when no cycle runs).
IDLE_SHARE = np.array([0.0, 0.15, 0.12, 0.85, 0.0, 1.0, 0.0])
#: Minute-to-minute noise: relative standard deviation (temperature and voltage: absolute).
NOISE = np.array([0.6, 0.08, 0.05, 0.02, 0.02, 2.0, 0.01])
#: Decimals each sensor is reported with.
DECIMALS = (1, 2, 1, 2, 2, 1, 0)
#: Machine-to-machine spread of the running level (relative standard deviation).
BASELINE_SPREAD = np.array([0.15, 0.12, 0.08, 0.05, 0.03, 0.01, 0.03])

#: Components each machine type has, with their share of the type's failures.
COMPONENT_WEIGHTS: dict[str, dict[str, float]] = {
    "press": {"hydraulics": 0.4, "motor": 0.2, "bearing": 0.2, "controller": 0.2},
    "body_robot": {"gearbox": 0.35, "motor": 0.3, "bearing": 0.15, "controller": 0.2},
    "paint_robot": {"nozzle": 0.45, "motor": 0.2, "gearbox": 0.15, "controller": 0.2},
    "cnc": {"spindle": 0.4, "bearing": 0.25, "motor": 0.15, "controller": 0.2},
    "conveyor": {"belt": 0.4, "bearing": 0.25, "motor": 0.2, "gearbox": 0.15},
    "welder": {"controller": 0.35, "hydraulics": 0.35, "motor": 0.3},
    "assembly_robot": {"gearbox": 0.35, "motor": 0.3, "bearing": 0.15, "controller": 0.2},
}

#: Relative reliability by type: the machine's mean time between failures is multiplied by it.
MTBF_FACTOR = {"press": 0.95, "body_robot": 1.0, "paint_robot": 0.9, "cnc": 0.95, "conveyor": 1.15,
               "welder": 1.0, "assembly_robot": 1.05}

#: Signature of a degrading component at full severity: relative change of each sensor
#: (temperature: degC added). Severity grows from 0.1 at onset to 1 at the failure.
_SIGNATURES: dict[str, dict[int, float]] = {
    "bearing": {VIB: 1.6, TEMP: 6.0, CUR: 0.03},
    "motor": {TEMP: 18.0, CUR: 0.30, VIB: 0.25},
    "hydraulics": {PRES: -0.25, CYCLE: 0.18, TEMP: 5.0},
    "spindle": {CUR: 0.35, VIB: 0.6, RPM: -0.04},
    "gearbox": {VIB: 1.1, CUR: 0.12, TEMP: 5.0},
    "nozzle": {PRES: -0.30, CYCLE: 0.12},
    "belt": {CYCLE: 0.15, VIB: 0.7, RPM: -0.05, CUR: -0.08},
    "controller": {CYCLE: 0.05},
}
#: How much noisier a sensor gets at full severity (factor on its noise).
_NOISE_SIGNATURES: dict[str, dict[int, float]] = {
    "bearing": {VIB: 1.5},
    "gearbox": {VIB: 1.0},
    "controller": {VOLT: 3.0, CYCLE: 3.0},
    "belt": {CYCLE: 1.0},
}

SIGNATURE = np.zeros((len(COMPONENT_NAMES), len(SENSORS)))
NOISE_SIGNATURE = np.zeros((len(COMPONENT_NAMES), len(SENSORS)))
for _i, _name in enumerate(COMPONENT_NAMES):
    for _s, _v in _SIGNATURES.get(_name, {}).items():
        SIGNATURE[_i, _s] = _v
    for _s, _v in _NOISE_SIGNATURES.get(_name, {}).items():
        NOISE_SIGNATURE[_i, _s] = _v

#: Harmless drifts (a loose cover, a sensor needing calibration, a hot week): the sensors
#: they touch and their effect at full strength, like a mild degradation that ends without failure.
DRIFT_SENSORS = (TEMP, VIB, CUR, PRES)
DRIFT_EFFECT = np.array([8.0, 0.8, 0.15, -0.12])


def has_sensor(machine_type: str) -> np.ndarray:
    """Boolean mask over SENSORS: which readings the type reports."""
    return np.array([v is not None for v in PROFILES[machine_type]])


def levels(machine_type: str) -> np.ndarray:
    """Running levels over SENSORS (0 where the type has no sensor)."""
    return np.array([0.0 if v is None else v for v in PROFILES[machine_type]])


def component_table(machine_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Component indices of a type and their cumulative failure shares (for sampling)."""
    weights = COMPONENT_WEIGHTS[machine_type]
    idx = np.array([COMPONENT_NAMES.index(c) for c in weights])
    cum = np.cumsum(np.array(list(weights.values())))
    return idx, cum / cum[-1]
