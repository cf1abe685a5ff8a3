"""The plant manager's dashboard (bi/superset_provision.py) against the catalog, without Superset.

``make bi`` provisions the dashboard into a real Superset and checks that every chart returns data
(docs/bi.md); it is not part of ``make test`` (Superset's own environment takes minutes to
install). What can drift without it is checked here: every table a chart reads is a gold table of
the catalog, ``--tables`` (what bi/up.sh checks before it starts a server) names exactly those, and
every column a chart selects, groups by or computes a metric from is a column of its dataset.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from lakehouse import catalog

BI = Path(__file__).resolve().parents[1] / "bi"


def _script(name: str):
    """One of bi/'s scripts as a module (bi/ is a folder of scripts run by Superset's Python, not a package)."""
    spec = importlib.util.spec_from_file_location(name, BI / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dashboard = _script("superset_provision")

#: The columns of the one dataset that is not a gold table's own rows (its SELECT names them).
OEE_VS_TARGET = {"date", "series", "oee", "planned_minutes"}


def columns_of_datasets() -> dict[str, set[str]]:
    """Each dataset's columns: a physical dataset or a ``SELECT *`` over one gold table has that table's."""
    out = {}
    for name, tables in dashboard.dataset_tables().items():
        if name != "oee_vs_target":
            (table,) = tables
            out[name] = set(catalog.get(f"gold.{table}").column_names)
    out["oee_vs_target"] = OEE_VS_TARGET
    return out


def referenced(chart: dict) -> set[str]:
    """The column names a chart's query uses: its columns and the identifiers of its SQL metrics."""
    names = set()
    for column in chart["query"]["columns"]:
        names.add(column["sqlExpression"] if isinstance(column, dict) else column)
    for metric in chart["query"]["metrics"]:
        # identifiers not followed by "(" (SUM, MAX are functions)
        names.update(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?!\s*\()", metric["sqlExpression"]))
    return names


def unknown_columns(datasets: dict[str, set[str]]) -> dict[str, set[str]]:
    """The dashboard's charts built on ``datasets``, by title: the columns each uses that its dataset lacks."""
    names = list(datasets)
    return {chart["slice_name"]: referenced(chart) - datasets[names[chart["dataset"]]]
            for chart in dashboard.charts({name: number for number, name in enumerate(names)})}


def test_every_table_a_chart_reads_is_a_gold_table():
    tables = dashboard.tables_read()
    assert tables, "the dashboard reads no table?"
    for name in tables:
        assert catalog.get(f"gold.{name}").layer == "gold", name
    for name, read in dashboard.dataset_tables().items():
        assert read and read <= set(tables), name  # every dataset reads a gold table, and the list has it
    assert set(dashboard.PHYSICAL) <= set(tables)


def test_up_sh_checks_the_tables_the_charts_read():
    printed = subprocess.run([sys.executable, str(BI / "superset_provision.py"), "--tables"], check=True,
                             capture_output=True, text=True).stdout.split()
    assert printed == [f"gold.{name}" for name in dashboard.tables_read()]
    assert "superset_provision.py --tables" in (BI / "up.sh").read_text()


def test_every_column_a_chart_uses_is_in_its_dataset():
    unknown = unknown_columns(columns_of_datasets())
    assert len(unknown) == 6
    assert not {title: sorted(columns) for title, columns in unknown.items() if columns}


def test_a_renamed_column_is_caught():
    datasets = columns_of_datasets()
    datasets["savings_forecast"].discard("projected_month_saving_eur")
    unknown = unknown_columns(datasets)
    assert {title: columns for title, columns in unknown.items() if columns} == {
        "Savings forecast per plant and month (EUR)": {"projected_month_saving_eur"}}


def test_provisioning_needs_a_password():
    result = subprocess.run([sys.executable, str(BI / "superset_provision.py")], capture_output=True, text=True)
    assert result.returncode == 2 and "--password is required" in result.stderr
