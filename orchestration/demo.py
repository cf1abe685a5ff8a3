"""`plantlake demo`: a small network simulated, landed and processed, the models trained, the machines scored.

The demo writes into the configured lake and landing zone (``PLANTLAKE_HOME`` by default)
so that ``make ui`` shows its runs, lineage, checks and MLflow experiments afterwards. Its
nights are the days up to yesterday, run as one backfill; the models are then trained on
them (the weekly retrain job) and score the last two weeks, alerting on the last night.
"""

import datetime as dt
import logging
import os
import time
from dataclasses import dataclass

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.settings import environment, get_settings
from lakehouse.sql import connect
from ml.tables import FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST
from orchestration.metadata import key
from orchestration.runs import failures, retrain, run_nights
from sources.simulator import SimulationConfig, simulate

log = logging.getLogger(__name__)

SCORING = [key(spec) for spec in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST)]


@dataclass(frozen=True)
class DemoNetwork:
    plants: int = 3
    machines_per_plant: int = 20
    suppliers: int = 50
    locations: int = 200
    days: int = 45  # enough failures to train on: 7-day labels, a 10-day holdout and a 7-day gap
    telemetry_interval_s: int = 600  # 10-minute readings keep the demo within minutes
    scored_days: int = 14
    seed: int = 42


def nights(days: int, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    end = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
    return end - dt.timedelta(days=days - 1), end


def simulate_network(network: DemoNetwork, start: dt.date, console: Console) -> None:
    settings = get_settings()
    config = SimulationConfig(
        landing=settings.landing_uri,
        start=start,
        days=network.days,
        plants=network.plants,
        machines_per_plant=network.machines_per_plant,
        suppliers=network.suppliers,
        locations=network.locations,
        seed=network.seed,
        telemetry_interval_s=network.telemetry_interval_s,
        settings=settings,
    )
    drops = network.days * (network.plants + 1)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("simulating drops", total=drops)
        simulate(config, progress=lambda _ref: progress.advance(task))


def _stage(console: Console, label: str, work: str, run) -> bool:
    """Run one Dagster run of the demo under a spinner, then say how it went and how long it took."""
    started = time.perf_counter()
    with console.status(f"{label}: {work}"):
        result = run()
    verdict = "[green]ok[/green]" if result.success else "[red]failed[/red]"
    console.print(f"{verdict}  {label} in {time.perf_counter() - started:.0f} s, run {result.run_id}")
    for line in failures(result):
        console.print(f"   [yellow]{line}[/yellow]")
    return result.success


def process(start: dt.date, end: dt.date, console: Console, scored_days: int = 14) -> bool:
    """Backfill every night as one run, train, then score the last ``scored_days`` nights with the champions."""
    label = f"nights {start}..{end}" + (" (one backfill run)" if end > start else "")
    # one planned event per asset: the demo reports failures itself (runs.ONE_PLANNED_EVENT_PER_ASSET)
    ok = _stage(console, label, "landing, silver, gold, checks",
                lambda: run_nights(start, end, log_level="WARNING", planned_per_asset=True))
    if end == start:
        return ok  # one night is too little to train on
    with environment({"PLANTLAKE_ML_THREADS": str(os.cpu_count() or 1)}):  # Spark is idle while models train
        ok = _stage(console, "retrain: training set, failure model, cost model",
                    "MLflow runs, promotion gate", lambda: retrain(log_level="WARNING")) and ok
    first = max(start, end - dt.timedelta(days=scored_days - 1))
    return _stage(console, f"scoring nights {first}..{end} with the champions", "risk, alerts, savings",
                  lambda: run_nights(first, end, log_level="WARNING", assets=SCORING)) and ok


def summary(lake: Lake, console: Console) -> None:
    rows = Table("table", "rows", "version", title="what was built")
    for spec in catalog.tables():
        if lake.exists(spec):
            rows.add_row(spec.name, f"{lake.count(spec):,}", str(lake.version(spec)))
    console.print(rows)
    con = connect(lake)  # one connection for every query: registering the tables is what costs
    _show(
        console,
        "OEE per plant (whole period, from sums)",
        con,
        """SELECT plant_id, count(*) AS days,
                  round(sum(run_minutes) / sum(planned_minutes), 3) AS availability,
                  round(avg(performance), 3) AS performance,
                  round(sum(good_count) / sum(total_count), 3) AS quality,
                  round(avg(oee), 3) AS oee
           FROM gold.oee_plant_daily GROUP BY plant_id ORDER BY plant_id""",
    )
    _show(
        console,
        "top supplier risks (latest night)",
        con,
        """SELECT plant_id, supplier_id, risk_level, open_shipments, at_risk_shipments,
                  round(at_risk_value_eur) AS at_risk_eur, round(max_expected_delay_h, 1) AS delay_h,
                  round(supplier_otif_90d, 3) AS otif_90d
           FROM gold.plant_supply_risk
           WHERE date = (SELECT max(date) FROM gold.plant_supply_risk) AND at_risk_shipments > 0
           ORDER BY at_risk_value_eur DESC LIMIT 8""",
    )
    _show(
        console,
        "models: the champions' holdout scores (ops.model_promotions)",
        con,
        """SELECT model_name, challenger_version AS version, metric, round(challenger_score, 3) AS score, promoted
           FROM ops.model_promotions ORDER BY decided_at DESC LIMIT 2""",
    )
    _show(
        console,
        "top alerts (latest night): the machine, what to do, what acting saves",
        con,
        """SELECT machine_id AS machine, component, round(failure_probability, 2) AS p,
                  recommended_action AS action, round(expected_saving_eur) AS saving_eur
           FROM gold.maintenance_alerts WHERE date = (SELECT max(date) FROM gold.maintenance_alerts)
           ORDER BY expected_saving_eur DESC LIMIT 10""",
    )
    _show(
        console,
        "savings forecast (this month)",
        con,
        """SELECT plant_id, days_scored AS days, alerts, round(expected_saving_eur) AS saved_so_far_eur,
                  round(projected_month_saving_eur) AS projected_eur
           FROM gold.savings_forecast WHERE month = (SELECT max(month) FROM gold.savings_forecast)
           ORDER BY plant_id""",
    )
    _show(
        console,
        "bad input: quarantine by rule, refused drops",
        con,
        """SELECT feed, rule, count(*) AS rows FROM bronze.quarantine GROUP BY feed, rule
           UNION ALL SELECT 'drops refused', coalesce(max(reason), '-'), count(*) FROM ops.landed_drops
           WHERE status = 'rejected' ORDER BY rows DESC""",
    )


def _show(console: Console, title: str, con: duckdb.DuckDBPyConnection, sql: str) -> None:
    try:
        result = con.sql(sql).to_arrow_table()
    except Exception as exc:  # a table the demo did not produce: say so, do not stop the summary
        console.print(f"[yellow]{title}: {exc}[/yellow]")
        return
    table = Table(*result.column_names, title=title)
    for row in result.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)


def run_demo(console: Console, network: DemoNetwork = DemoNetwork()) -> bool:
    # The demo narrates through the console; per-drop and per-check logs stay in the Dagster UI.
    logging.getLogger().setLevel(logging.WARNING)
    settings = get_settings()
    start, end = nights(network.days)
    console.print(
        f"plantlake demo: {network.plants} plants x {network.machines_per_plant} machines, "
        f"{network.suppliers} suppliers, nights {start}..{end}\n"
        f"  landing zone {settings.landing_uri}\n  lake         {settings.lake_uri}"
    )
    simulate_network(network, start, console)
    ok = process(start, end, console, network.scored_days)
    summary(Lake(), console)
    console.print(
        "\nNext:\n"
        "  make ui\n"
        "      Dagster UI http://127.0.0.1:3000   runs, lineage, checks\n"
        "      MLflow UI  http://127.0.0.1:5000   experiments, registered models\n"
        '  plantlake sql "SELECT * FROM gold.oee_daily LIMIT 10"\n'
        f"  plantlake run --date {end}    process a night again (idempotent)"
    )
    return ok
