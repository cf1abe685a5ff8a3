"""``plantlake simulate``: the typer command, registered by ``orchestration.cli``."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lakehouse.settings import get_settings
from sources.landing import SUPPLIERS, DropRef
from sources.simulator.config import SimulationConfig
from sources.simulator.geography import MAX_PLANTS
from sources.simulator.run import Simulation


class Format(enum.StrEnum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


def simulate(
    start: Annotated[dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First production date (YYYY-MM-DD).")],
    landing: Annotated[str | None, typer.Option(
        help="Landing zone: a folder or s3://bucket/prefix [default: PLANTLAKE_LANDING_URI].")] = None,
    days: Annotated[int, typer.Option(min=1, help="Number of nightly drops per plant.")] = 21,
    plants: Annotated[int, typer.Option(min=1, max=MAX_PLANTS, help="Plants in the network.")] = MAX_PLANTS,
    machines_per_plant: Annotated[int, typer.Option(min=1, help="Machines in every plant.")] = 800,
    suppliers: Annotated[int, typer.Option(min=1, help="Suppliers.")] = 1500,
    locations: Annotated[int, typer.Option(min=1, help="Supplier ship-from locations.")] = 30000,
    seed: Annotated[int, typer.Option(min=0, help="Seed: the same arguments give byte-identical drops.")] = 42,
    format: Annotated[Format, typer.Option(  # noqa: A002 - the flag is --format
        help="File format; with csv, German plants write the german_csv export.")] = Format.csv,
    gzip: Annotated[bool, typer.Option(
        "--gzip", help="Gzip CSV and JSON-lines files (.gz); Parquet uses its gzip codec instead.")] = False,
    messy: Annotated[bool, typer.Option(
        "--messy", help="Inject bad input into some drops and write the ground truth to _faults.json.")] = False,
    messy_fraction: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of drops that get a fault with --messy (every kind at least once).")] = 0.3,
    german_csv: Annotated[bool, typer.Option(
        "--german-csv/--no-german-csv", help="German plants write the German MES export when --format csv.")] = True,
    chunk_machines: Annotated[int, typer.Option(
        min=1, help="Machines per telemetry chunk: bounds memory, never changes the output.")] = 100,
    telemetry_interval_s: Annotated[int, typer.Option(
        help="Seconds one telemetry row covers (the mean of its minutes): 60, 120, ..., 600, ..., 3600.")] = 60,
) -> None:
    """Simulate the production network: nightly plant and supplier drops in the landing zone."""
    settings = get_settings()
    try:
        config = SimulationConfig(
            landing=landing or settings.landing_uri, start=start.date(), days=days, plants=plants,
            machines_per_plant=machines_per_plant, suppliers=suppliers, locations=locations, seed=seed,
            format=format.value, gzip=gzip, messy=messy, messy_fraction=messy_fraction, german_csv=german_csv,
            chunk_machines=chunk_machines, telemetry_interval_s=telemetry_interval_s, settings=settings,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    sim = Simulation(config)
    refs = sim.drops()
    n_plant = sum(r.source != SUPPLIERS for r in refs)
    err = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err) as bar:
        plant_task = bar.add_task("plant-nights", total=n_plant)
        supplier_task = bar.add_task("supplier-nights", total=len(refs) - n_plant)

        def advance(ref: DropRef) -> None:
            bar.advance(supplier_task if ref.source == SUPPLIERS else plant_task)

        summary = sim.run(advance)
    table = Table("feed", "rows", title=f"simulated into {config.landing}")
    for feed, rows in sorted(summary.rows.items()):
        table.add_row(feed, f"{rows:,}")
    console = Console()
    console.print(table)
    console.print(
        f"{summary.plant_drops} plant drops and {summary.supplier_drops} supplier drops, "
        f"{summary.bytes / 1e6:,.1f} MB in {summary.seconds:,.1f} s"
        + (f"; {len(summary.faults)} faults in _faults.json" if messy else "")
    )
