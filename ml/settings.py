"""The models' settings, read from the environment like the rest of plantlake's.

Kept apart from ``lakehouse.settings`` because only the ML layer reads them: the horizon,
the plants' daily alert budget, the playbook and the alert webhook. The webhook token is
a secret (``lakehouse.settings.SECRET_VARIABLES``): never logged, never in a repr.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from threadpoolctl import threadpool_limits

from lakehouse.settings import env_float, env_int

DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")


@dataclass(frozen=True)
class MLSettings:
    """Effective ML settings; build with :meth:`from_env`."""

    horizon_days: int = 7
    alert_budget: int = 3
    playbook: Path = DEFAULT_PLAYBOOK
    webhook_url: str | None = None
    webhook_token: str | None = field(default=None, repr=False)
    webhook_attempts: int = 4
    webhook_backoff_s: float = 0.5
    webhook_backoff_max_s: float = 8.0
    webhook_timeout_s: float = 10.0
    threads: int = 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MLSettings:
        env = os.environ if environ is None else environ
        return cls(
            horizon_days=env_int(env, "PLANTLAKE_HORIZON_DAYS", 7, 1),
            alert_budget=env_int(env, "PLANTLAKE_ALERT_BUDGET", 3, 0),
            playbook=Path(env.get("PLANTLAKE_PLAYBOOK") or DEFAULT_PLAYBOOK).expanduser(),
            webhook_url=(env.get("PLANTLAKE_ALERT_WEBHOOK_URL") or "").strip() or None,
            webhook_token=(env.get("PLANTLAKE_ALERT_WEBHOOK_TOKEN") or "").strip() or None,
            webhook_attempts=env_int(env, "PLANTLAKE_ALERT_WEBHOOK_ATTEMPTS", 4, 1),
            webhook_backoff_s=env_float(env, "PLANTLAKE_ALERT_WEBHOOK_BACKOFF_S", 0.5, 0.0),
            webhook_backoff_max_s=env_float(env, "PLANTLAKE_ALERT_WEBHOOK_BACKOFF_MAX_S", 8.0, 0.0),
            webhook_timeout_s=env_float(env, "PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S", 10.0, 0.1),
            threads=env_int(env, "PLANTLAKE_ML_THREADS", 1, 1),
        )


def get_ml_settings() -> MLSettings:
    """The ML settings of this process (read fresh each call, like ``lakehouse.settings.get_settings``)."""
    return MLSettings.from_env()


@contextlib.contextmanager
def compute_threads(threads: int | None = None) -> Iterator[None]:
    """Limit the OpenMP threads of scikit-learn's gradient boosting (PLANTLAKE_ML_THREADS, default 1).

    HistGradientBoosting spins OpenMP threads; next to Spark executors on the same cores
    (the nightly run, the tests) that oversubscription made one fit many times slower than a
    single thread (docs/performance.md), so training and scoring use a bounded number of threads.
    """
    with threadpool_limits(limits=threads or get_ml_settings().threads, user_api="openmp"):
        yield
