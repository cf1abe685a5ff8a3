"""The plantlake command line: --help everywhere, settings masked, lake commands."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakehouse.delta import Lake
from orchestration.cli import app

runner = CliRunner()


def command_names() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)


def test_console_script_is_installed():
    done = subprocess.run(
        ["plantlake", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]},
    )
    assert done.returncode == 0 and "settings" in done.stdout


@pytest.mark.parametrize("name", command_names())
def test_every_command_has_help(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_the_demo_command_runs_the_demo_network_by_default():
    """`make demo` and `make bi` run `plantlake demo` without options: its network must be the one the docs
    describe and the promotion gate was sized for (orchestration/demo_network.py), not a copy of older numbers."""
    import dataclasses

    import typer.main

    from orchestration.demo_network import DemoNetwork

    params = {p.name: p.default for p in typer.main.get_command(app).commands["demo"].params}
    defaults = {f.name: f.default for f in dataclasses.fields(DemoNetwork)}
    assert params == {name: defaults[name] for name in ("plants", "machines_per_plant", "suppliers", "days")}
    assert params["days"] == 60  # README: "the 60 nights up to yesterday"


def test_settings_masks_secrets(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "super-secret-value")
    result = runner.invoke(app, ["settings"])
    assert result.exit_code == 0
    assert "super-secret-value" not in result.output
    assert "***" in result.output


def test_a_malformed_setting_stops_every_command_with_one_line(monkeypatch):
    monkeypatch.setenv("PLANTLAKE_SPARK_CONF", "executor.memory=8g")
    result = runner.invoke(app, ["tables"])
    assert result.exit_code == 2
    assert "PLANTLAKE_SPARK_CONF: 'executor.memory=8g' is not a 'spark.<property>=<value>' entry" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        ("PLANTLAKE_NIGHTLY_HOUR", "24", "PLANTLAKE_NIGHTLY_HOUR must be at most 23, got 24"),
        ("PLANTLAKE_FRESHNESS_HOURS", "0", "PLANTLAKE_FRESHNESS_HOURS must be at least 1, got 0"),
        ("PLANTLAKE_FIRST_DATE", "2025-13-01", "PLANTLAKE_FIRST_DATE must be a date (YYYY-MM-DD), got '2025-13-01'"),
        ("PLANTLAKE_RETRAIN_CRON", "weekly", "PLANTLAKE_RETRAIN_CRON must be a cron expression of 5 fields"),
        ("PLANTLAKE_LANDING_THREADS", "two", "PLANTLAKE_LANDING_THREADS must be a whole number, got 'two'"),
        ("PLANTLAKE_HORIZON_DAYS", "7.5", "PLANTLAKE_HORIZON_DAYS must be a whole number, got '7.5'"),
        ("PLANTLAKE_ENV", "prod", "PLANTLAKE_ENV must be 'local' or 'production', not 'prod'"),
        ("PLANTLAKE_LOG_LEVEL", "loud", "PLANTLAKE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL"),
        ("PLANTLAKE_SPARK_DRIVER_MEMORY", "4 GB", "PLANTLAKE_SPARK_DRIVER_MEMORY must be a memory size"),
        ("PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S", "soon", "PLANTLAKE_ALERT_WEBHOOK_TIMEOUT_S must be a number"),
    ],
)
def test_a_malformed_variable_stops_the_run_before_it_starts(monkeypatch, variable, value, line):
    """Read when the Dagster code location loads or a model trains: checked before any command's work."""
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["run", "--date", "2026-01-05"])
    assert result.exit_code == 2
    assert line in result.output
    assert "Traceback" not in result.output


def test_tables_history_and_maintain(monkeypatch, tmp_path):
    monkeypatch.setenv("PLANTLAKE_LAKE_URI", str(tmp_path / "lake"))
    lake = Lake()
    now = dt.datetime.now(dt.UTC)
    for i in range(3):
        row = {
            "date": [now.date()],
            "table_name": [f"t{i}"],
            "operation": ["optimize"],
            "started_at": [now],
            "duration_s": [1],
            "version_before": [0],
            "version_after": [1],
            "files_added": [1],
            "files_removed": [2],
            "details": ["{}"],
        }
        lake.append("ops.table_maintenance", pa.table(row))
    result = runner.invoke(app, ["tables", "--layer", "ops"])
    assert result.exit_code == 0 and "ops.table_maintenance" in result.output
    result = runner.invoke(app, ["tables", "--layer", "opps"])  # a typo is refused, not an empty list
    assert result.exit_code == 2 and "unknown layer opps" in result.output
    result = runner.invoke(app, ["history", "ops.table_maintenance"])
    assert result.exit_code == 0 and "WRITE" in result.output
    result = runner.invoke(app, ["maintain", "ops.table_maintenance", "--vacuum-hours", "168"])
    assert result.exit_code == 0, result.output
    assert "3 files compacted into 1" in result.output
    assert lake.file_count("ops.table_maintenance") == 1
