"""The code location as the settings build it (``orchestration.definitions.build_definitions``), without running
anything: how each job executes and whether the landing sensor starts with the daemon.

tests/test_daemon.py shows the same through a real daemon for the default settings; these tests cover what the
settings change and every job, in a moment."""

from __future__ import annotations

import dagster as dg
import pytest

from lakehouse.settings import Settings, plantlake_home
from orchestration.definitions import build_definitions, defs


@pytest.mark.parametrize(("switch", "status"), [("false", dg.DefaultSensorStatus.STOPPED),
                                                ("true", dg.DefaultSensorStatus.RUNNING),
                                                (None, dg.DefaultSensorStatus.RUNNING)])
def test_the_landing_sensor_starts_with_the_daemon_unless_it_is_switched_off(tmp_path, switch, status):
    """``PLANTLAKE_LANDING_SENSOR=false`` leaves ``landing_sensor`` stopped until someone starts it; otherwise (the
    default) the daemon runs it from its start."""
    environ = {"PLANTLAKE_HOME": str(tmp_path)} | ({"PLANTLAKE_LANDING_SENSOR": switch} if switch else {})
    built = build_definitions(Settings.from_env(environ))
    assert built.resolve_sensor_def("landing_sensor").default_status == status


def test_the_code_location_follows_the_loading_process_s_switch(tmp_path, monkeypatch):
    """``defs`` (what workspace.yaml loads: the daemon's and the webserver's code location) reads the setting from
    the process's environment."""
    monkeypatch.setenv("PLANTLAKE_LANDING_SENSOR", "false")
    with plantlake_home(tmp_path):
        assert defs().resolve_sensor_def("landing_sensor").default_status == dg.DefaultSensorStatus.STOPPED


def test_every_job_runs_its_steps_in_the_run_s_process(tmp_path):
    """The in-process executor for every job, the implicit asset job (the UI's Materialize) included: the Spark
    steps share one session, whatever launched the run (the default executor starts a process, and a JVM, per
    step)."""
    built = build_definitions(Settings.from_env({"PLANTLAKE_HOME": str(tmp_path)}))
    jobs = {job.name: job.executor_def for job in built.resolve_all_job_defs()}
    assert {"nightly", "retrain", "maintenance"} <= set(jobs)
    assert built.resolve_implicit_global_asset_job_def().name in jobs
    assert {name: executor.name for name, executor in jobs.items()} == {name: "in_process" for name in jobs}
    assert all(executor is dg.in_process_executor for executor in jobs.values())
