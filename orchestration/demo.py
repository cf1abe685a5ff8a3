"""`plantlake demo`: a small network simulated, landed and processed, the models trained, the machines scored.

The demo writes into the configured lake and landing zone (``PLANTLAKE_HOME`` by default)
so that ``make ui`` shows its runs, lineage, checks and MLflow experiments afterwards. Its
nights are the days up to yesterday: all but the last run as one backfill; the models are
trained on them (the weekly retrain job) and score the last two weeks; the last night then
runs as the nightly run would, scoring and alerting with the new champion.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lakehouse import catalog
from lakehouse.delta import Lake
from lakehouse.settings import get_settings
from lakehouse.sql import query
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
    days: int = 60  # enough failures to train on: 7-day labels, a 2-week holdout and a 7-day gap
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


def _report(console: Console, label: str, result) -> bool:
    console.print(f"{'[green]ok[/green]' if result.success else '[red]failed[/red]'}  {label}, run {result.run_id}")
    for line in failures(result):
        console.print(f"   [yellow]{line}[/yellow]")
    return result.success


def process(start: dt.date, end: dt.date, console: Console, scored_days: int = 14) -> bool:
    """Backfill all nights but the last, train, score the last ``scored_days`` nights, then run the last night."""
    ok = True
    backfill_end = end - dt.timedelta(days=1)
    if backfill_end >= start:
        label = f"nights {start}..{backfill_end} (one backfill run)"
        with console.status(f"landing and processing {label}: bronze, silver, gold, checks"):
            ok = _report(console, label, run_nights(start, backfill_end, log_level="WARNING"))
        with console.status("training the failure and cost models (MLflow), promotion gate"):
            trained = retrain(log_level="WARNING")
        ok = _report(console, "retrain: training set, failure model, cost model", trained) and ok
        first = max(start, backfill_end - dt.timedelta(days=scored_days - 1))
        label = f"scoring nights {first}..{backfill_end} with the champions"
        with console.status(label):
            ok = _report(console, label, run_nights(first, backfill_end, log_level="WARNING", assets=SCORING)) and ok
    label = f"night {end} (nightly run: landing to alerts)"
    with console.status(label):
        ok = _report(console, label, run_nights(end, end, log_level="WARNING")) and ok
    return ok


def summary(lake: Lake, console: Console) -> None:
    rows = Table("table", "rows", "version", title="what was built")
    for spec in catalog.tables():
        if lake.exists(spec):
            rows.add_row(spec.name, f"{lake.count(spec):,}", str(lake.version(spec)))
    console.print(rows)
    _show(
        console,
        "OEE per plant (whole period, from sums)",
        lake,
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
        lake,
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
        lake,
        """SELECT model_name, challenger_version AS version, metric, round(challenger_score, 3) AS score, promoted
           FROM ops.model_promotions ORDER BY decided_at DESC LIMIT 2""",
    )
    _show(
        console,
        "top alerts (latest night): the machine, what to do, what acting saves",
        lake,
        """SELECT machine_id AS machine, component, round(failure_probability, 2) AS p,
                  recommended_action AS action, round(expected_saving_eur) AS saving_eur
           FROM gold.maintenance_alerts WHERE date = (SELECT max(date) FROM gold.maintenance_alerts)
           ORDER BY expected_saving_eur DESC LIMIT 10""",
    )
    _show(
        console,
        "savings forecast (this month)",
        lake,
        """SELECT plant_id, days_scored AS days, alerts, round(expected_saving_eur) AS saved_so_far_eur,
                  round(projected_month_saving_eur) AS projected_eur
           FROM gold.savings_forecast WHERE month = (SELECT max(month) FROM gold.savings_forecast)
           ORDER BY plant_id""",
    )
    _show(
        console,
        "bad input: quarantine by rule, refused drops",
        lake,
        """SELECT feed, rule, count(*) AS rows FROM bronze.quarantine GROUP BY feed, rule
           UNION ALL SELECT 'drops refused', coalesce(max(reason), '-'), count(*) FROM ops.landed_drops
           WHERE status = 'rejected' ORDER BY rows DESC""",
    )


def _show(console: Console, title: str, lake: Lake, sql: str) -> None:
    try:
        result = query(lake, sql)
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
        "  make ui                                   Dagster UI http://127.0.0.1:3000 (runs, lineage, checks)\n"
        "                                            MLflow UI  http://127.0.0.1:5000\n"
        '  plantlake sql "SELECT * FROM gold.oee_daily LIMIT 10"\n'
        f"  plantlake run --date {end}                 process a night again (idempotent)"
    )
    return ok
