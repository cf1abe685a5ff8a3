"""Security: secrets never leave the environment; paths never leave the landing zone.

The searches for secrets where they could leak live with the runs that produce the places searched:
nights on a real S3 server at DEBUG with a webhook secret set (their output, the Dagster event log:
run config, materialization and check metadata, and the lake's own tables) in
tests/test_faults.py (the rerun after the store came back, and the failed run before it); a whole
training run (MLflow params, tags, registered versions, the promotion table, the DEBUG logs) in
tests/test_ml.py (the module's champion is trained with the secrets set).
"""

from __future__ import annotations

import pytest
import yaml

from lakehouse.settings import Settings
from sources import mapping


def test_a_mapping_cannot_point_outside_its_drop(tmp_path):
    body = yaml.safe_load((mapping.BUILTIN_DIR / "plantlake.yaml").read_text())
    for escape in ("../telemetry.csv", "/etc/passwd", "sub/telemetry.csv"):
        body["feeds"]["telemetry"]["file"] = escape
        path = tmp_path / "escape.yaml"
        path.write_text(yaml.safe_dump(body))
        with pytest.raises(ValueError, match="must be a file name inside the drop"):
            mapping.load(path)


def test_settings_and_errors_mask_secrets():
    settings = Settings.from_env({"AWS_SECRET_ACCESS_KEY": "masked-value-123", "AWS_ACCESS_KEY_ID": "AKIA"})
    assert "masked-value-123" not in repr(settings) + repr(settings.describe())
