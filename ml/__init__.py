"""Features, training, evaluation, registry, scoring, the cost model and alerts.

Importing any of it switches MLflow's usage telemetry off (``MLFLOW_DISABLE_TELEMETRY``,
unless the environment already says otherwise) before MLflow is imported: MLflow starts
its telemetry client at import time, and plantlake sends nothing anywhere by default.
"""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
