"""The process's one GX context: ephemeral, in memory, analytics and progress bars off.

(``GX_ANALYTICS_ENABLED=False`` is set by the package's ``__init__``, before GX is imported.)

An ephemeral context with in-memory stores writes no ``gx/`` project folder and no data
docs, so validating never touches the repository or the lake. Creating it (and GX's
datasource) costs time, so it is built once per process; a lock serialises validations
because the shared pandas batch definition is not meant for concurrent use.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.execution_engine import pandas_execution_engine

log = logging.getLogger(__name__)

#: GX fingerprints every frame under 1 GB by hashing all its rows, twice a validation: a large
#: share of a validation's time (docs/performance.md). The fingerprint only labels the batch in
#: GX's results, which the checks do not keep, so no frame is hashed.
pandas_execution_engine.HASH_THRESHOLD = 0

_LOCK = threading.Lock()


@functools.cache
def context() -> gx.data_context.EphemeralDataContext:
    """The ephemeral context (created on first use, then reused)."""
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    ctx = gx.get_context(mode="ephemeral", project_config=config)
    log.debug("GX %s ephemeral context ready", gx.__version__)
    return ctx


@functools.cache
def _batch_definition():
    source = context().data_sources.add_pandas("plantlake")
    return source.add_dataframe_asset("table").add_batch_definition_whole_dataframe("whole")


@contextmanager
def batch(frame: pd.DataFrame) -> Iterator:
    """A GX batch over ``frame``, held under the process lock while the caller validates.

    GX's execution engine keeps the last batch (and so the whole frame) cached; the cache is
    emptied afterwards so a large slice does not stay in memory until the next check.
    """
    with _LOCK:
        gx_batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
        try:
            yield gx_batch
        finally:
            manager = gx_batch.data.execution_engine.batch_manager
            manager.reset_batch_cache()
            manager.batch_data_cache.clear()
