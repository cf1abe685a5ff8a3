"""A run-to-failure export no one prepared, onboarded by one YAML mapping (sources/mappings/turbofan.yaml).

The test writes a fleet file of the C-MAPSS shape: no header line, columns separated by runs
of spaces, trailing spaces, a unit number and a cycle counter instead of times, three operating
settings and 21 sensors (four temperatures in degrees Rankine, pressures in psia, flows in
lbm/s); each unit runs until it fails. ``plantlake import`` (in process) turns it into nightly
drops with every row accounted for, the failures being each unit's last cycle and the machines
its first; one backfill run lands and processes the nights; the tables hold all 24 sensors under
their own names, in the registry's units; the failure model's training code trains on every
sensor's features. Ten units, 1,140 cycles, 23 nights: the module takes about two minutes.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow.compute as pc
import pytest
import yaml
from typer.testing import CliRunner

from lakehouse.delta import Lake
from lakehouse.settings import environment, plantlake_home
from ml import features as F
from orchestration.runs import backfill
from sources import mapping as mappings

UNITS = 10
START = dt.date(2024, 1, 1)
#: Sensors as C-MAPSS FD001 reports them: typical level, and the change at the end of a unit's life.
SENSORS = {
    "t2": (518.67, 0.0), "t24": (642.0, 2.0), "t30": (1590.0, 25.0), "t50": (1405.0, 35.0), "p2": (14.62, 0.0),
    "p15": (21.61, 0.0), "p30": (553.9, -3.0), "nf": (2388.0, 0.2), "nc": (9050.0, 20.0), "epr": (1.3, 0.0),
    "ps30": (47.4, 1.0), "phi": (521.7, -3.0), "nrf": (2388.0, 0.2), "nrc": (8140.0, 20.0), "bpr": (8.42, 0.15),
    "far_b": (0.03, 0.0), "ht_bleed": (392.0, 6.0), "nf_dmd": (2388.0, 0.0), "pcnfr_dmd": (100.0, 0.0),
    "w31": (38.9, -0.8), "w32": (23.4, -0.5),
}
SETTINGS = ("op_setting_1", "op_setting_2", "op_setting_3")


def life(unit: int) -> int:
    """Cycles of a unit: 2-hour cycles, a unit a day later than the one before; failures every other day."""
    return 12 * (4 + unit)


def fleet_file(path) -> int:
    """The fleet's cycles as the export writes them; returns the number of lines."""
    rng = np.random.default_rng(7)
    lines = []
    for unit in range(1, UNITS + 1):
        for cycle in range(1, life(unit) + 1):
            wear = (cycle / life(unit)) ** 3
            settings = [rng.normal(0, 0.002), rng.normal(0, 0.0003), 100.0]
            values = [level + change * wear + rng.normal(0, abs(level) * 0.0005)
                      for level, change in SENSORS.values()]
            fields = [str(unit), str(cycle), *(f"{v:.4f}" for v in settings), *(f"{v:.4f}" for v in values)]
            lines.append(" ".join(fields) + "  \n")  # the published files end every line with spaces
    path.write_text("".join(lines))
    return len(lines)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, spark):
    home = tmp_path_factory.mktemp("turbofan")
    export = home / "export"
    export.mkdir()
    cycles = fleet_file(export / "train_FD001.txt")
    from orchestration.cli import app

    with plantlake_home(home), environment({"PLANTLAKE_FIRST_DATE": "2023-12-01", "PLANTLAKE_LOG_LEVEL": "WARNING"}):
        imported = CliRunner().invoke(app, ["import", "--mapping", "turbofan", "--source", str(export)])
        last_night = START + dt.timedelta(days=2 * UNITS + 2)  # unit 10 fails on its 13th day
        problems = backfill(START, last_night)
        from ml.train import build_training_set
        from ml.training import fit_failure_model

        training = build_training_set(Lake(), last_night, horizon_days=3, start_date=START)
        fit = fit_failure_model(training.frame, 3)
        yield {"home": home, "cycles": cycles, "imported": imported, "problems": problems, "lake": Lake(),
               "last_night": last_night, "training": training, "fit": fit}


def test_the_export_imports_with_every_row_accounted_for(fleet):
    out = fleet["imported"]
    assert out.exit_code == 0, out.output
    assert f"all {fleet['cycles']:,} source rows are in them" in out.output
    drops = int(re.search(r"(\d+) drops of TF-01", out.output).group(1))
    assert drops == 2 * UNITS + 3  # a drop per night from the first cycle to the last unit's failure
    derived = dict(re.findall(r"(\w+)\.derived\.train_FD001\.txt \(derived[^│]*│\s*(\d+)", out.output))
    assert derived == {"machines": str(UNITS), "failures": str(UNITS)}  # a unit's first and last cycle


def test_every_night_lands_and_nothing_is_quarantined(fleet):
    assert fleet["problems"] == []
    lake = fleet["lake"]
    drops = lake.read("ops.landed_drops").to_pylist()
    assert {d["status"] for d in drops} == {"landed"} and len(drops) == 2 * UNITS + 3
    assert all(d["manifest_rows"] == d["bronze_rows"] + d["quarantined_rows"] for d in drops)
    assert lake.count("bronze.quarantine") == 0
    assert lake.count("silver.telemetry") == fleet["cycles"]


def test_units_become_machines_and_their_last_cycles_failures(fleet):
    lake = fleet["lake"]
    machines = lake.read("silver.dim_machine").to_pylist()
    assert sorted(m["machine_id"] for m in machines) == [f"TF-U{u:03d}" for u in range(1, UNITS + 1)]
    assert {m["machine_type"] for m in machines} == {"turbofan"}
    # the export does not say when a unit was installed: unknown (null), not a made-up date, and no age in gold
    assert {m["install_date"] for m in machines} == {None} and {m["criticality"] for m in machines} == {"A"}
    daily = lake.read("gold.machine_daily", columns=["age_years"])
    assert daily.num_rows > 0 and daily.column("age_years").null_count == daily.num_rows
    failures = {f["machine_id"]: f for f in lake.read("silver.failures").to_pylist()}
    assert set(failures) == {f"TF-U{u:03d}" for u in range(1, UNITS + 1)}
    # unit 3 starts 2 days after unit 1 and fails at the start of its last (7 x 12 = 84th) 2-hour cycle
    assert failures["TF-U003"]["failed_at"] == dt.datetime(2024, 1, 3, tzinfo=dt.UTC) + dt.timedelta(hours=2 * 83)
    assert failures["TF-U003"]["component"] == "engine"
    # the component registry is the mapping's ``components:``, read here from the YAML file itself
    declared = yaml.safe_load((mappings.BUILTIN_DIR / "turbofan.yaml").read_text())["components"]
    registry = lake.read("silver.dim_component").to_pylist()
    assert sorted((r["plant_id"], r["machine_type"], r["component"], r["description"]) for r in registry) == sorted(
        ("TF-01", machine_type, component, text) for machine_type, listed in declared.items()
        for component, text in listed.items())
    types = {m["machine_id"]: m["machine_type"] for m in machines}
    assert {(types[f["machine_id"]], f["component"]) for f in failures.values()} <= {
        (r["machine_type"], r["component"]) for r in registry}  # every failure names a registered component


def test_every_sensor_reaches_gold_under_its_own_name_in_the_registrys_unit(fleet):
    lake = fleet["lake"]
    registry = {r["sensor_id"]: r for r in lake.read("silver.dim_sensor").to_pylist()}
    assert set(registry) == {*SENSORS, *SETTINGS} and len(registry) == 24
    assert set(mappings.get("turbofan").master["sensors"][i]["sensor_id"] for i in range(24)) == set(registry)
    night = lake.read("gold.machine_sensor_daily", filters=[("date", "=", START + dt.timedelta(days=1))])
    assert set(night.column("sensor").to_pylist()) == set(registry)
    t2 = night.filter(pc.and_(pc.equal(night["sensor"], "t2"), pc.equal(night["machine_id"], "TF-U001")))
    assert t2["unit"][0].as_py() == "degC"
    assert t2["mean"][0].as_py() == pytest.approx(15.0, abs=0.05)  # 518.67 degR = 15 degC
    assert t2["readings"][0].as_py() == 12  # a 2-hour cycle: 12 a day
    p30 = night.filter(pc.equal(night["sensor"], "p30"))
    assert p30["unit"][0].as_py() == "bar" and p30["mean"][0].as_py() == pytest.approx(553.9 * 0.0689476, rel=0.01)
    daily = lake.read("gold.machine_daily", filters=[("date", "=", fleet["last_night"])])
    assert daily.column("machine_id").to_pylist() == ["TF-U010"] and daily["covered_minutes"][0].as_py() > 0


def test_the_failure_model_trains_on_every_sensor(fleet):
    frame = fleet["training"].frame
    assert int(frame["failure_within_h"].sum()) > 0
    numeric = set(fleet["fit"].model.numeric)
    for sensor in (*SENSORS, *SETTINGS):
        assert set(F.sensor_features(sensor)) <= numeric, sensor
    assert {"days_since_failure_engine", *F.NUMERIC} <= numeric
    assert {f"{s}_mean" for s in SENSORS} <= set(F.sensor_means_and_spreads(frame))  # the baseline's inputs
