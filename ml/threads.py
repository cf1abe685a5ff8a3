"""How many threads scikit-learn may use: its own module, so that the code that only needs the limit (the
scoring and training entry points, imported by the Dagster code location) does not import scikit-learn."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from threadpoolctl import threadpool_limits

from lakehouse.settings import get_settings


@contextlib.contextmanager
def compute_threads(threads: int | None = None) -> Iterator[None]:
    """Limit the OpenMP threads of scikit-learn's gradient boosting (PLANTLAKE_ML_THREADS, default 1).

    HistGradientBoosting spins OpenMP threads; next to Spark executors on the same cores
    (the nightly run, the tests) that oversubscription made one fit many times slower than a
    single thread (docs/performance.md), so training and scoring use a bounded number of threads.
    """
    with threadpool_limits(limits=threads or get_settings().ml.threads, user_api="openmp"):
        yield
