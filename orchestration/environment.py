"""The orchestration's own variables: when the nightly run and retraining happen, how fresh gold must
be, what the sensor watches, and the sizes landing and checks work in.

Read once, when the Dagster code location loads. ``plantlake`` reads them before a command starts,
so that a malformed one stops it with one line naming the variable, not a traceback mid-run.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from lakehouse.settings import env_int


@dataclass(frozen=True)
class Orchestration:
    deployment: str = "local"  # PLANTLAKE_ENV: which Dagster resources (orchestration.resources)
    first_date: str = "2025-01-01"
    nightly_hour: int = 6
    freshness_hours: int = 4
    retrain_cron: str = "0 9 * * 6"
    sensor_days: int = 7
    landing_buffer_rows: int = 2_000_000
    landing_threads: int = os.cpu_count() or 1
    check_part_rows: int = 4_000_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Orchestration:
        env = os.environ if environ is None else environ
        first_date = (env.get("PLANTLAKE_FIRST_DATE") or cls.first_date).strip()
        try:
            dt.date.fromisoformat(first_date)
        except ValueError:
            raise ValueError(f"PLANTLAKE_FIRST_DATE must be a date (YYYY-MM-DD), got {first_date!r}") from None
        deployment = (env.get("PLANTLAKE_ENV") or cls.deployment).strip()
        if deployment not in ("local", "production"):
            raise ValueError(f"PLANTLAKE_ENV must be 'local' or 'production', not {deployment!r}")
        retrain_cron = (env.get("PLANTLAKE_RETRAIN_CRON") or cls.retrain_cron).strip()
        if len(retrain_cron.split()) != 5:
            raise ValueError(f"PLANTLAKE_RETRAIN_CRON must be a cron expression of 5 fields, got {retrain_cron!r}")
        return cls(
            deployment=deployment,
            first_date=first_date,
            nightly_hour=env_int(env, "PLANTLAKE_NIGHTLY_HOUR", cls.nightly_hour, 0, 23),
            freshness_hours=env_int(env, "PLANTLAKE_FRESHNESS_HOURS", cls.freshness_hours, 1, 24),
            retrain_cron=retrain_cron,
            sensor_days=env_int(env, "PLANTLAKE_SENSOR_DAYS", cls.sensor_days, 1),
            landing_buffer_rows=env_int(env, "PLANTLAKE_LANDING_BUFFER_ROWS", cls.landing_buffer_rows, 1),
            landing_threads=env_int(env, "PLANTLAKE_LANDING_THREADS", cls.landing_threads, 1),
            check_part_rows=env_int(env, "PLANTLAKE_CHECK_PART_ROWS", cls.check_part_rows, 1),
        )


@functools.cache
def current() -> Orchestration:
    """This process's variables, read once: when the code location loads, every module sees the same values."""
    return Orchestration.from_env()
