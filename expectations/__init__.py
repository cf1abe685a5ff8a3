"""Great Expectations 1.x suites, one per table, and the runner.

``suite_for(spec, ranges=..., allowed=...)`` builds a table's suite from the catalog, the
caller's contract ranges and allowed values, and the table-specific rules of
:mod:`expectations.rules`; ``validate(spec, arrow_table, suite)`` runs it and returns an
:class:`Outcome` the orchestration turns into a Dagster asset check result.

GX must never phone home: analytics are switched off here, before GX is first imported
(versions that collect them read the variable at import), and again in the context's config.
GX's own logging is held at WARNING from the start: it chatters while importing.
"""

import logging
import os

os.environ["GX_ANALYTICS_ENABLED"] = "False"
logging.getLogger("great_expectations").setLevel(logging.WARNING)

from expectations.outcome import Failure, Outcome  # noqa: E402
from expectations.runner import validate  # noqa: E402
from expectations.suites import suite_for  # noqa: E402

__all__ = ["Failure", "Outcome", "suite_for", "validate"]
