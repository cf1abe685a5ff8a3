"""Random streams: each one seeded from (seed, plant, date, purpose), never from global state.

A stream per purpose keeps the output independent of the order things are generated in
and of the chunk sizes that bound memory: a machine's readings come from its own stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np

Key = int | str | dt.date


def _entropy(key: Key) -> int:
    if isinstance(key, dt.date):
        return key.toordinal()
    if isinstance(key, int):
        if key < 0:
            raise ValueError(f"seed keys must be non-negative, got {key}")
        return key
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")


def rng(seed: int, *keys: Key) -> np.random.Generator:
    """The random stream for ``keys`` (e.g. ``"DE01", date, "telemetry", 17``) under ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([_entropy(seed), *(_entropy(k) for k in keys)]))
