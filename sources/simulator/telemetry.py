"""Per-minute sensor readings of a plant's day, streamed in blocks of machines.

With a longer ``interval_s`` (``--telemetry-interval-s``) each row is the mean of that many
minutes (the minutes with a value; null when none has one), as a plant historian exports
them: the same machine behaviour in fewer rows, for tests and demos that need many days.

A reading depends on whether the machine runs (its line in a planned shift, not stopped,
the machine not under repair), the machine's own levels and noise, the hall temperature
(with thermal lag while running), wear since the last preventive maintenance, a harmless
drift if one is on, and the signature of a degrading component. Each machine's noise
comes from its own stream, so the block size bounds memory without changing a byte.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from sources.contracts import TIMESTAMP
from sources.simulator import sensors, timeline
from sources.simulator.clock import utc_micros
from sources.simulator.plantday import PlantDay
from sources.simulator.seeds import rng
from sources.simulator.tables import schema

THERMAL_LAG_MIN = 20.0
INTERVAL_S = 60


def chunks(day: PlantDay, chunk_machines: int, interval_s: int = INTERVAL_S) -> Iterator[pa.Table]:
    """The day's telemetry, machine by machine and interval by interval, in blocks of machines.

    ``machine_id`` and ``ts`` come dictionary-encoded (each machine and minute formatted
    once); :func:`sources.simulator.formats.decoded` turns them into plain contract types.
    """
    machine_ids = pa.array(day.assets.machine_id.tolist(), type=pa.string())
    step = interval_s // 60
    stamps = pa.array(utc_micros(day.grid_utc[::step]), type=pa.int64()).cast(TIMESTAMP)
    for a in range(0, day.assets.machines, chunk_machines):
        yield block(day, np.arange(a, min(a + chunk_machines, day.assets.machines)), machine_ids, stamps, step)


def rows(day: PlantDay, interval_s: int = INTERVAL_S) -> int:
    """Telemetry rows of the day: one per machine and interval."""
    return day.assets.machines * len(range(0, day.minutes, interval_s // 60))


def _interval_means(values: np.ndarray, valid: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each run of ``step`` minutes over the minutes with a value; valid where any has one."""
    starts = np.arange(0, values.shape[1], step)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts, axis=1)
    counts = np.add.reduceat(valid.astype(np.int64), starts, axis=1)
    return sums / np.maximum(counts, 1), counts > 0


def block(day: PlantDay, idx: np.ndarray, machine_ids: pa.Array, stamps: pa.Array, step: int = 1) -> pa.Table:
    from scipy.signal import lfilter  # here, not with the module: the CLI imports the simulator

    assets = day.assets
    n, b = day.minutes, len(idx)
    starts = np.arange(0, n, step)
    r = len(starts)
    wall = day.grid_wall
    running = day.line_active[assets.machine_line[idx]] & ~day.down.mask(idx, wall)
    alpha = 1.0 / THERMAL_LAG_MIN
    x = running.astype(float)
    load, _ = lfilter([alpha], [1.0, alpha - 1.0], x, axis=1, zi=(1 - alpha) * x[:, :1])
    deg = timeline.severity(day.deg["onset"][idx], day.deg["at"][idx], day.deg["end"][idx], day.deg["power"][idx],
                            day.deg["amp"][idx], wall)
    comp = day.deg["component"][idx]
    drift = timeline.drift_level(day.drift["start"][idx], day.drift["end"][idx], day.drift["mag"][idx], wall)
    drift_sensor = np.asarray(sensors.DRIFT_SENSORS)[day.drift["sensor"][idx]]
    drift_effect = sensors.DRIFT_EFFECT[day.drift["sensor"][idx]]
    plant_id = assets.plant.plant_id
    z = np.stack([rng(day.seed, plant_id, day.date, "telemetry", int(m), day.revision)
                  .standard_normal((len(sensors.SENSORS), n)) for m in idx])
    level, scale, has = assets.level[idx], assets.noise[idx], assets.has[idx]
    cycle_base = assets.ideal_cycle_s[assets.machine_line[idx]] * assets.slack[idx] / day.performance

    columns: dict[str, pa.Array] = {
        "machine_id": pa.DictionaryArray.from_arrays(pa.array(np.repeat(idx, r).astype(np.int32)), machine_ids),
        "ts": pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(r, dtype=np.int32), b)), stamps),
        "interval_s": pa.array(np.tile(np.diff(np.append(starts, n)) * INTERVAL_S, b).astype(np.int64)),
    }
    for k, name in enumerate(sensors.SENSORS):
        sig = sensors.SIGNATURE[comp, k][:, None] * deg
        noise = sensors.NOISE[k] * scale[:, k, None] * (1 + sensors.NOISE_SIGNATURE[comp, k][:, None] * deg) * z[:, k]
        shift = np.where(drift_sensor == k, drift_effect, 0.0)[:, None] * drift
        valid = np.broadcast_to(has[:, k, None], (b, n))
        if k == sensors.TEMP:
            values = day.ambient[None, :] + level[:, k, None] * load + sig + shift + noise
        elif k == sensors.VOLT:
            values = level[:, k, None] + noise
        elif k == sensors.CYCLE:
            values = cycle_base[:, None] * (1 + sig + shift) * (1 + noise)
            valid = valid & running
        else:
            state = sensors.IDLE_SHARE[k] + (1 - sensors.IDLE_SHARE[k]) * running
            values = level[:, k, None] * state * (1 + sig + shift) * (1 + noise)
            if k == sensors.VIB:
                values = values * day.wear[idx, None]
        values = np.round(np.maximum(values, 0.0 if k != sensors.TEMP else -50.0), sensors.DECIMALS[k])
        if step > 1:
            values, valid = _interval_means(values, valid, step)
            values = np.round(values, sensors.DECIMALS[k])
        columns[name] = pa.array(values.ravel(), mask=~valid.ravel(), type=pa.float64())
    return pa.Table.from_arrays([columns[f.name] for f in schema("telemetry")],
                                names=[f.name for f in schema("telemetry")])
