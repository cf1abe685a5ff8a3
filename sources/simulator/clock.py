"""Time in the simulator: plant wall-clock minutes, UTC minutes, and the minute grid of a local day.

Machine behaviour is planned in the plant's wall-clock time (shifts start at 06:00 local,
preventive maintenance happens on Sunday mornings), counted in minutes since
:data:`EPOCH`; files carry UTC. A plant's production date is local, so the drop of date D
covers the UTC minutes from local midnight of D to local midnight of D + 1 (23 or 25
hours on daylight-saving days). Ambiguous wall times take their first occurrence,
non-existent ones move forward: both stay inside their local date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Day 0 of the simulator's calendar (a Saturday). Machine histories start here, so a
#: date's behaviour does not depend on the simulated window.
EPOCH = dt.date(2000, 1, 1)
MINUTES_PER_DAY = 1440
_NS_PER_MIN = 60_000_000_000
_EPOCH_NS = np.datetime64(EPOCH.isoformat(), "ns").astype(np.int64)


def day_index(date: dt.date) -> int:
    """Days since EPOCH."""
    return (date - EPOCH).days


def date_of(day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(day))


def weekday(day: np.ndarray | int) -> np.ndarray | int:
    """Monday = 0 ... Sunday = 6."""
    return (np.asarray(day) + 5) % 7


@dataclass(frozen=True)
class Clock:
    """Conversions between a plant's wall-clock minutes (since EPOCH) and UTC minutes (since 1970)."""

    timezone: str

    def to_utc(self, wall: np.ndarray) -> np.ndarray:
        wall = np.asarray(wall, dtype=np.int64)
        if wall.size == 0:
            return wall.copy()
        naive = pd.DatetimeIndex((_EPOCH_NS + wall.ravel() * _NS_PER_MIN).astype("datetime64[ns]"))
        local = naive.tz_localize(self.timezone, ambiguous=np.ones(wall.size, dtype=bool),
                                  nonexistent="shift_forward")
        return (local.tz_convert("UTC").asi8 // _NS_PER_MIN).reshape(wall.shape)

    def to_wall(self, utc: np.ndarray) -> np.ndarray:
        utc = np.asarray(utc, dtype=np.int64)
        if utc.size == 0:
            return utc.copy()
        local = pd.DatetimeIndex(utc.ravel() * _NS_PER_MIN, tz="UTC").tz_convert(self.timezone).tz_localize(None)
        return ((local.asi8 - _EPOCH_NS) // _NS_PER_MIN).reshape(utc.shape)

    def day_grid(self, date: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """The UTC minutes of a local production date and the wall-clock minute of each."""
        start = day_index(date) * MINUTES_PER_DAY
        lo, hi = self.to_utc(np.array([start, start + MINUTES_PER_DAY]))
        utc = np.arange(lo, hi, dtype=np.int64)
        return utc, self.to_wall(utc)


def utc_micros(utc_minutes: np.ndarray) -> np.ndarray:
    """UTC minutes since 1970 as microseconds (the contracts' timestamp unit)."""
    return np.asarray(utc_minutes, dtype=np.int64) * 60_000_000


def utc_minutes_of(date: dt.date) -> int:
    """UTC midnight of a date, in minutes since 1970."""
    return (date - dt.date(1970, 1, 1)).days * MINUTES_PER_DAY
