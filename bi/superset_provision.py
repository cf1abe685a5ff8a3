"""Provision Superset for a plant manager: the plantlake database, datasets on the gold tables, one dashboard.

Run by bi/up.sh (``make bi``) with Superset's own virtual environment, against a running
``plantlake serve``. Idempotent: the database and datasets are updated in place, the
dashboard and its charts are replaced.

The dashboard: OEE per plant and per line over time against target, the top maintenance
alerts with their action and expected saving, plant supply risk by supplier, and the savings
forecast. Each chart is saved with its query context, so Superset's chart-data API (and
bi/superset_check.py) can run it without a browser.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the API client needs Superset's environment; the table list (bi/up.sh, the tests) does not
    from superset_api import Superset

log = logging.getLogger("superset_provision")

DATABASE = "plantlake"
DASHBOARD_SLUG = "plantlake-plant-manager"
DASHBOARD_TITLE = "Plant manager: OEE, maintenance, supply, savings"
#: The OEE drawn as target: 85%, the usual world-class benchmark (the catalog has no OEE target per plant).
OEE_TARGET = 0.85

#: A virtual dataset: each plant's OEE and a 'target' series, weighted by planned time so that a week's
#: OEE is the ratio of sums (ISO 22400), not a mean of daily ratios.
OEE_VS_TARGET_SQL = f"""
SELECT date, plant_id AS series, oee, planned_minutes FROM gold.oee_plant_daily WHERE oee IS NOT NULL
UNION ALL
SELECT DISTINCT date, 'target' AS series, {OEE_TARGET} AS oee, 1.0 AS planned_minutes FROM gold.oee_plant_daily
""".strip()

#: Virtual datasets for "the latest days" (Superset refuses sub-queries in a chart's own filters).
LATEST = {
    "oee_daily_90d": "SELECT * FROM gold.oee_daily WHERE date >= date_sub((SELECT max(date) FROM gold.oee_daily), 90)",
    "maintenance_alerts_7d": "SELECT * FROM gold.maintenance_alerts "
                             "WHERE date >= date_sub((SELECT max(date) FROM gold.maintenance_alerts), 6)",
    "plant_supply_risk_latest": "SELECT * FROM gold.plant_supply_risk "
                                "WHERE date = (SELECT max(date) FROM gold.plant_supply_risk)",
}
PHYSICAL = ("savings_forecast", "realized_savings")


def dataset_tables() -> dict[str, set[str]]:
    """The gold tables each dataset reads: a physical dataset its own, a virtual one those its SQL names."""
    virtual = {"oee_vs_target": OEE_VS_TARGET_SQL, **LATEST}
    return {**{name: {name} for name in PHYSICAL},
            **{name: set(re.findall(r"\bgold\.(\w+)", sql)) for name, sql in virtual.items()}}


def tables_read() -> list[str]:
    """Every gold table a chart reads: bi/up.sh checks that each is written before it starts a server (a chart
    on a missing table has no rows)."""
    return sorted(set().union(*dataset_tables().values()))


def sql_metric(label: str, expression: str) -> dict:
    return {"expressionType": "SQL", "sqlExpression": expression, "label": label}


WEIGHTED_OEE = sql_metric("OEE", "SUM(oee * planned_minutes) / SUM(planned_minutes)")


def timeseries(name: str, viz: str, dataset: int, x: str, grain: str, metrics: list[dict], groupby: list[str],
               where: str = "", y_format: str = "SMART_NUMBER") -> dict:
    """An ECharts time-series chart (line or bar): its form data and the query context the frontend would send."""
    filters = [{"clause": "WHERE", "subject": x, "operator": "TEMPORAL_RANGE", "comparator": "No filter",
                "expressionType": "SIMPLE"}]
    if where:
        filters.append({"clause": "WHERE", "expressionType": "SQL", "sqlExpression": where})
    params = {
        "datasource": f"{dataset}__table", "viz_type": viz, "x_axis": x, "time_grain_sqla": grain,
        "x_axis_sort_asc": True, "metrics": metrics, "groupby": groupby, "adhoc_filters": filters,
        "row_limit": 10000, "order_desc": True, "show_legend": True, "rich_tooltip": True,
        "y_axis_format": y_format, "truncate_metric": True, "comparison_type": "values",
    }
    labels = [m["label"] for m in metrics]
    query = {
        "columns": [{"timeGrain": grain, "columnType": "BASE_AXIS", "sqlExpression": x, "label": x,
                     "expressionType": "SQL"}, *groupby],
        "metrics": metrics, "orderby": [[metrics[0], False]], "row_limit": 10000, "series_columns": groupby,
        "series_limit": 0, "order_desc": True, "filters": [{"col": x, "op": "TEMPORAL_RANGE", "val": "No filter"}],
        "extras": {"where": f"({where})" if where else "", "having": ""},
        "post_processing": [
            {"operation": "pivot", "options": {"index": [x], "columns": groupby, "drop_missing_columns": False,
                                               "aggregates": {label: {"operator": "mean"} for label in labels}}},
            {"operation": "flatten"},
        ],
    }
    return {"slice_name": name, "viz_type": viz, "dataset": dataset, "params": params, "query": query}


def table(name: str, dataset: int, *, columns: list[str] | None = None, groupby: list[str] | None = None,
          metrics: list[dict] | None = None, order: tuple[str | dict, bool], where: str = "", limit: int = 20) -> dict:
    """A table chart: raw rows (``columns``) or aggregated (``groupby`` and ``metrics``)."""
    raw = columns is not None
    filters = [{"clause": "WHERE", "expressionType": "SQL", "sqlExpression": where}] if where else []
    params = {"datasource": f"{dataset}__table", "viz_type": "table", "query_mode": "raw" if raw else "aggregate",
              "adhoc_filters": filters, "row_limit": limit, "server_pagination": False, "order_desc": not order[1]}
    if raw:
        params.update(all_columns=columns, order_by_cols=[json.dumps([order[0], order[1]])])
    else:
        params.update(groupby=groupby, metrics=metrics, timeseries_limit_metric=order[0])
    query = {"columns": columns if raw else groupby, "metrics": [] if raw else metrics, "row_limit": limit,
             "orderby": [[order[0], order[1]]], "order_desc": not order[1],
             "extras": {"where": f"({where})" if where else "", "having": ""}, "filters": []}
    return {"slice_name": name, "viz_type": "table", "dataset": dataset, "params": params, "query": query}


def charts(datasets: dict[str, int]) -> list[dict]:
    """The plant manager's dashboard, top to bottom, two charts a row."""
    at_risk = sql_metric("value at risk (EUR)", "SUM(at_risk_value_eur)")
    return [
        timeseries("OEE per plant per week against the 85% target", "echarts_timeseries_line",
                   datasets["oee_vs_target"], "date", "P1W", [WEIGHTED_OEE], ["series"], y_format=".0%"),
        timeseries("OEE per line per week, last 90 days", "echarts_timeseries_line", datasets["oee_daily_90d"],
                   "date", "P1W", [WEIGHTED_OEE], ["line_id"], y_format=".0%"),
        table("Top maintenance alerts, last 7 days: action and expected saving", datasets["maintenance_alerts_7d"],
              columns=["date", "plant_id", "machine_id", "component", "recommended_action", "failure_probability",
                       "expected_saving_eur", "status"],
              order=("expected_saving_eur", False), limit=20),
        table("Plant supply risk by supplier (latest day)", datasets["plant_supply_risk_latest"],
              groupby=["plant_id", "supplier_id", "risk_level"],
              metrics=[at_risk, sql_metric("shipments at risk", "SUM(at_risk_shipments)"),
                       sql_metric("worst delay (h)", "MAX(max_expected_delay_h)")],
              order=(at_risk, False), limit=50),
        timeseries("Savings forecast per plant and month (EUR)", "echarts_timeseries_bar",
                   datasets["savings_forecast"], "month", "P1M",
                   [sql_metric("projected month saving", "SUM(projected_month_saving_eur)"),
                    sql_metric("expected so far (the alerts' estimates)", "SUM(expected_saving_eur)")],
                   ["plant_id"], y_format=",.0f"),
        timeseries("Expected vs realized saving per plant and month, alerts whose horizon has passed (EUR)",
                   "echarts_timeseries_bar", datasets["realized_savings"], "month", "P1M",
                   [sql_metric("expected", "SUM(expected_saving_resolved_eur)"),
                    sql_metric("realized (estimated: gold.realized_savings)", "SUM(realized_saving_eur)")],
                   ["plant_id"], y_format=",.0f"),
    ]


def provision(api: Superset, uri: str) -> int:
    database = upsert(api, "database", "database_name", DATABASE,
                      {"database_name": DATABASE, "sqlalchemy_uri": uri, "expose_in_sqllab": True,
                       "allow_run_async": False, "allow_dml": False})
    datasets = {name: dataset(api, database, name) for name in PHYSICAL}
    datasets["oee_vs_target"] = dataset(api, database, "oee_vs_target", OEE_VS_TARGET_SQL)
    datasets.update({name: dataset(api, database, name, sql) for name, sql in LATEST.items()})

    old = api.find("dashboard", "slug", DASHBOARD_SLUG)
    if old is not None:
        for chart in api.call("GET", f"dashboard/{old}/charts", "list the old dashboard's charts")["result"]:
            api.call("DELETE", f"chart/{chart['id']}", "delete an old chart")
        api.call("DELETE", f"dashboard/{old}", "delete the old dashboard")
    dashboard = api.call("POST", "dashboard/", "create the dashboard",
                         json={"dashboard_title": DASHBOARD_TITLE, "slug": DASHBOARD_SLUG, "published": True})["id"]
    placed = []
    for spec in charts(datasets):
        params = spec["params"]
        context = {"datasource": {"id": spec["dataset"], "type": "table"}, "force": False,
                   "queries": [spec["query"]], "form_data": params, "result_format": "json", "result_type": "full"}
        chart = api.call("POST", "chart/", f"create chart {spec['slice_name']!r}", json={
            "slice_name": spec["slice_name"], "viz_type": spec["viz_type"], "datasource_id": spec["dataset"],
            "datasource_type": "table", "params": json.dumps(params), "query_context": json.dumps(context),
            "dashboards": [dashboard]})["id"]
        placed.append((chart, spec["slice_name"]))
        log.info("chart %s: %s", chart, spec["slice_name"])
    api.call("PUT", f"dashboard/{dashboard}", "lay out the dashboard",
             json={"position_json": json.dumps(layout(placed))})
    return dashboard


def upsert(api: Superset, resource: str, column: str, value: str, body: dict) -> int:
    found = api.find(resource, column, value)
    if found is None:
        return api.call("POST", f"{resource}/", f"create {resource} {value}", json=body)["id"]
    api.call("PUT", f"{resource}/{found}", f"update {resource} {value}", json=body)
    return found


def dataset(api: Superset, database: int, name: str, sql: str | None = None) -> int:
    """A dataset on gold.<name> (or a virtual one), its columns read afresh from plantlake serve."""
    body = {"database": database, "schema": "gold", "table_name": name, **({"sql": sql} if sql else {})}
    found = api.find("dataset", "table_name", name)
    if found is None:
        found = api.call("POST", "dataset/", f"create dataset {name}", json=body)["id"]
    elif sql:
        api.call("PUT", f"dataset/{found}", f"update dataset {name}", json={"sql": sql})
    api.call("PUT", f"dataset/{found}/refresh", f"refresh the columns of dataset {name}")
    return found


def layout(charts_: list[tuple[int, str]]) -> dict:
    """Superset's dashboard layout (position_json): rows of two charts."""
    position = {"DASHBOARD_VERSION_KEY": "v2", "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
                "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
                "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": DASHBOARD_TITLE}}}
    for start in range(0, len(charts_), 2):
        row = f"ROW-{start // 2}"
        position["GRID_ID"]["children"].append(row)
        position[row] = {"type": "ROW", "id": row, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                         "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for chart, name in charts_[start:start + 2]:
            key = f"CHART-{chart}"
            position[row]["children"].append(key)
            position[key] = {"type": "CHART", "id": key, "children": [], "parents": ["ROOT_ID", "GRID_ID", row],
                             "meta": {"width": 6, "height": 60, "chartId": chart, "sliceName": name}}
    return position


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8088")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password")
    parser.add_argument("--hive-uri", default="hive://bi@127.0.0.1:10000/gold")
    parser.add_argument("--tables", action="store_true", help="print the gold tables the charts read, then stop")
    args = parser.parse_args()
    if args.tables:
        print(" ".join(f"gold.{name}" for name in tables_read()))
        return
    if not args.password:
        parser.error("--password is required to provision")
    from superset_api import Superset

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    dashboard = provision(Superset(args.url, args.user, args.password), args.hive_uri)
    print(f"dashboard: {args.url}/superset/dashboard/{DASHBOARD_SLUG}/ (id {dashboard})")


if __name__ == "__main__":
    main()
