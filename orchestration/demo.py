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
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.settings import environment, get_settings, home_file_values, write_home_file
from lakehouse.sql import connect
from ml.tables import (
    ALERT_OUTCOMES,
    FAILURE_RISK,
    FEATURE_DRIFT,
    MAINTENANCE_ALERTS,
    MODEL_MONITOR,
    REALIZED_SAVINGS,
    SAVINGS_FORECAST,
)
from orchestration.demo_network import DemoNetwork
from orchestration.metadata import key
from orchestration.runs import failures, retrain, run_nights
from sources.simulator import SimulationConfig, simulate

log = logging.getLogger(__name__)

SCORING = [key(spec) for spec in (FAILURE_RISK, MAINTENANCE_ALERTS, SAVINGS_FORECAST, ALERT_OUTCOMES,
                                   REALIZED_SAVINGS, MODEL_MONITOR, FEATURE_DRIFT)]


def nights(days: int, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    end = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
    return end - dt.timedelta(days=days - 1), end


def first_partition(home: Path, start: dt.date, console: Console) -> None:
    """The demo's first night becomes the first daily partition for this process and every later one (``make
    ui``), through the home's settings file, so the UI shows the demo's partitions filled, not 94 % missing.

    An earlier first date in the file is kept (a demo run again later keeps its older nights); a
    ``PLANTLAKE_FIRST_DATE`` in the environment still wins.
    """
    earlier = home_file_values({"PLANTLAKE_HOME": str(home)}).get("PLANTLAKE_FIRST_DATE")
    first = min(start, dt.date.fromisoformat(earlier)) if earlier else start
    path = write_home_file(home, {"PLANTLAKE_FIRST_DATE": first.isoformat()})
    console.print(f"  settings     {path}: first partition {first}")
    if get_settings().orchestration.first_date != first:
        console.print(f"[yellow]PLANTLAKE_FIRST_DATE is set in the environment: partitions start on "
                      f"{get_settings().orchestration.first_date}, not on the demo's first night {first}[/yellow]")


def simulation_config(network: DemoNetwork, start: dt.date) -> SimulationConfig:
    """What the simulator makes of the demo's network from its first night on."""
    settings = get_settings()
    return SimulationConfig(
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


def simulate_network(network: DemoNetwork, start: dt.date, console: Console) -> None:
    config = simulation_config(network, start)
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
        "models: the gate's last decisions, scores with their 95 % intervals (ops.model_promotions); "
        "a holdout with few failures gives wide intervals: then the score alone is noise",
        con,
        """SELECT model_name, challenger_version AS version, metric, round(challenger_score, 3) AS score,
                  '[' || round(challenger_low, 3) || ', ' || round(challenger_high, 3) || ']' AS interval,
                  round(baseline_score, 3) AS baseline, holdout_failures AS failures, promoted
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
        "savings this month: expected = the alerts' own estimates (not money saved); realized = estimated from "
        "what followed the alerts whose horizon has passed (gold.realized_savings, docs/models.md)",
        con,
        """SELECT f.plant_id, f.days_scored AS days, f.alerts, round(f.expected_saving_eur) AS expected_so_far_eur,
                  round(f.projected_month_saving_eur) AS expected_month_eur, r.alerts_resolved AS resolved,
                  r.actions AS acted_on, r.missed_failures AS missed, round(r.realized_saving_eur) AS realized_eur,
                  r.method
           FROM gold.savings_forecast f LEFT JOIN gold.realized_savings r ON r.month = f.month
                AND r.plant_id = f.plant_id
           WHERE f.month = (SELECT max(month) FROM gold.savings_forecast) ORDER BY f.plant_id""",
    )
    _show(
        console,
        "what followed the alerts (gold.alert_outcomes; a miss is a failure no alert covered)",
        con,
        """SELECT outcome, count(*) AS rows, sum(CASE WHEN acted THEN 1 ELSE 0 END) AS acted_on,
                  round(avg(failure_probability), 2) AS mean_p
           FROM gold.alert_outcomes GROUP BY outcome ORDER BY rows DESC""",
    )
    _show(
        console,
        "the champion in production (gold.model_monitor, last night): like its holdout, on days whose horizon passed",
        con,
        """SELECT model_version AS version, machine_days, round(precision_at_budget, 3) AS precision,
                  '[' || round(holdout_precision_at_budget_low, 3) || ', '
                      || round(holdout_precision_at_budget_high, 3) || ']' AS holdout_interval,
                  round(catch_rate, 3) AS catch_rate, features_drifted AS drifted, verdict
           FROM gold.model_monitor WHERE date = (SELECT max(date) FROM gold.model_monitor)""",
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
    """One query's result as a table under ``title``.

    A table the demo did not build (a first night: no champion, no alerts, no outcomes) is said
    and skipped; any other error (a column renamed under a query) is a bug and raises.
    """
    try:
        result = con.sql(sql).to_arrow_table()
    except duckdb.CatalogException as exc:
        console.print(f"[yellow]{title}: not built yet ({str(exc).splitlines()[0]})[/yellow]")
        return
    table = Table(*result.column_names, title=title)
    for row in result.to_pylist():
        table.add_row(*("" if v is None else str(v) for v in row.values()))
    console.print(table)


def run_demo(console: Console, network: DemoNetwork | None = None) -> bool:
    network = network or DemoNetwork()
    # The demo narrates through the console; per-drop and per-check logs stay in the Dagster UI.
    logging.getLogger().setLevel(logging.WARNING)
    settings = get_settings()
    start, end = nights(network.days)
    console.print(
        f"plantlake demo: {network.plants} plants x {network.machines_per_plant} machines, "
        f"{network.suppliers} suppliers, nights {start}..{end}\n"
        f"  landing zone {settings.landing_uri}\n  lake         {settings.lake_uri}"
    )
    first_partition(settings.home, start, console)
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
