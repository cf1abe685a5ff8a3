"""The ``plantlake`` command line: every command has ``--help``; settings come from the environment."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from lakehouse import catalog
from lakehouse.delta import VACUUM_RETENTION_HOURS, Lake
from lakehouse.errors import LakeError
from lakehouse.settings import get_settings
from orchestration.demo_network import DemoNetwork
from sources.importer import import_export
from sources.simulator.cli import simulate

app = typer.Typer(
    name="plantlake",
    help="A nightly lakehouse for a car maker's production network.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
console = Console()


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")] = False) -> None:
    try:  # every variable plantlake reads: the lake's, the models', the orchestration's, the log level
        level = "DEBUG" if verbose else get_settings().log_level
    except ValueError as exc:  # a malformed setting: one line naming it, before any work starts
        _exit_with(exc, 2)
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("py4j", "botocore", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _exit_with(error: Exception, code: int) -> NoReturn:
    """One red line on stderr instead of a traceback, then exit with ``code``."""
    Console(stderr=True, soft_wrap=True).print(str(error), style="red", markup=False)
    raise typer.Exit(code) from None


def _layers(values: list[str]) -> list[str]:
    """``--layer`` values, checked against the catalog's layers."""
    unknown = sorted(set(values) - set(catalog.LAYERS))
    if unknown:
        raise typer.BadParameter(f"unknown layer {', '.join(unknown)}; one of {', '.join(catalog.LAYERS)}",
                                 param_hint="--layer")
    return values


@app.command()
def settings() -> None:
    """Show the effective settings (from the environment; secrets masked)."""
    table = Table("setting", "value", title="plantlake settings")
    for key, value in get_settings().describe().items():
        table.add_row(key, value)
    console.print(table)


@app.command()
def tables(
    layer: Annotated[str | None, typer.Option(help="Only this layer: bronze, silver, gold or ops.")] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the catalog as Markdown.")] = False,
) -> None:
    """List the tables of the catalog, with their current version in the lake."""
    if markdown:
        typer.echo(catalog.markdown())
        return
    lake = Lake()
    table = Table(title=f"tables in {lake.root}")
    table.add_column("table", no_wrap=True)
    for name in ("partitioned by", "natural key", "version", "description"):
        table.add_column(name)
    for spec in catalog.tables(_layers([layer])[0] if layer else None):
        version = lake.version(spec)
        table.add_row(
            spec.name,
            ", ".join(spec.partition_by),
            ", ".join(spec.natural_key),
            "-" if version is None else str(version),
            spec.description,
        )
    console.print(table)


@app.command()
def history(
    table_name: Annotated[str, typer.Argument(metavar="TABLE", help="Catalog name, e.g. gold.oee_daily.")],
    limit: Annotated[int, typer.Option(help="Show at most this many commits.")] = 20,
) -> None:
    """Show a table's commits, newest first (the versions time travel can read)."""
    out = Table("version", "timestamp", "operation", "parameters", "run", title=table_name)
    for commit in Lake().history(table_name, limit):
        out.add_row(
            str(commit.get("version")),
            str(commit.get("timestamp")),
            str(commit.get("operation")),
            str(commit.get("operationParameters", "")),
            str(commit.get("plantlake.run_id", "")),
        )
    console.print(out)


@app.command()
def maintain(
    table_names: Annotated[
        list[str] | None, typer.Argument(metavar="[TABLE]...", help="Tables to maintain (default: all).")
    ] = None,
    vacuum_hours: Annotated[
        int, typer.Option(help="Vacuum retention: time travel reaches this far back.")
    ] = VACUUM_RETENTION_HOURS,
) -> None:
    """Compact small files, vacuum removed files and checkpoint the log of lake tables."""
    lake = Lake()
    specs = [catalog.get(n) for n in table_names] if table_names else catalog.tables()
    for spec in specs:
        if not lake.exists(spec):
            continue
        compacted = lake.optimize(spec)
        vacuumed = lake.vacuum(spec, retention_hours=vacuum_hours)
        lake.checkpoint(spec)
        console.print(
            f"{spec.name}: {compacted.get('numFilesRemoved', 0)} files compacted into "
            f"{compacted.get('numFilesAdded', 0)}, {vacuumed['numFilesDeleted']} files vacuumed"
        )


@app.command()
def publish(
    layers: Annotated[
        list[str] | None, typer.Option("--layer", help="Publish this layer (repeatable; default: gold).")
    ] = None,
    prefix: Annotated[
        str | None,
        typer.Option(help="Glue databases are <prefix>_<layer> "
                          "(default: $PLANTLAKE_GLUE_DATABASE_PREFIX or plantlake)."),
    ] = None,
) -> None:
    """Register the lake's tables in the AWS Glue Data Catalog, so Athena and BI tools can query them."""
    from lakehouse.glue import glue_client
    from lakehouse.glue import publish as publish_tables

    settings = get_settings()
    specs = [spec for layer in _layers(layers or ["gold"]) for spec in catalog.tables(layer)]
    try:
        done = publish_tables(Lake(settings=settings), specs, glue_client(settings),
                              prefix or settings.glue_database_prefix)
    except (LakeError, ValueError) as exc:
        _exit_with(exc, 1)
    out = Table("table", "Glue entry", title=f"Glue Data Catalog ({len(specs)} tables)")
    for outcome in ("created", "updated", "unchanged", "missing"):
        for name in getattr(done, outcome):
            out.add_row(name, "not in the lake yet" if outcome == "missing" else outcome)
    console.print(out)


app.command()(simulate)
app.command("import")(import_export)


def _parse_date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


@app.command()
def run(
    date: Annotated[str, typer.Option("--date", help="Night to process (plant-local date, YYYY-MM-DD).")],
    to: Annotated[str | None, typer.Option("--to", help="Last night of a backfill (inclusive); one run.")] = None,
    plants: Annotated[
        str | None, typer.Option(help="Comma-separated plant ids (and/or 'suppliers'); default: all.")
    ] = None,
    reland: Annotated[bool, typer.Option(help="Land every complete drop of the nights again.")] = False,
    one_event_per_asset: Annotated[bool, typer.Option(
        "--one-event-per-asset/--events-per-night",
        help="A range of nights records one 'materialization planned' event per asset (the default: Dagster's "
             "bookkeeping follows the run, not its nights) instead of one per asset and night (the UI then marks "
             "a failed run's nights failed).")] = True,
    history: Annotated[bool, typer.Option(
        "--history", help="The nights are history: land them and build silver and gold, but do not score them "
                          "with today's champion, raise alerts or send them.")] = False,
) -> None:
    """Run the nightly pipeline in this process for one night or a range of nights."""
    from orchestration.runs import run_nights

    start = _parse_date(date, "--date")
    end = _parse_date(to, "--to") if to else start
    scope = [p.strip() for p in plants.split(",") if p.strip()] if plants else None
    _finish(run_nights(start, end, scope, reland=reland, planned_per_asset=one_event_per_asset and end > start,
                       history=history), f"nights {start}..{end}" + (" (history)" if history else ""))


def _finish(result, what: str) -> None:
    """Print a run's failed steps and checks; exit non-zero if the run failed."""
    from orchestration.runs import failures, succeeded

    problems = failures(result)
    for line in problems:
        console.print(line, style="red", markup=False, soft_wrap=True)
    if not succeeded(result):
        console.print(f"[red]run {result.run_id} failed[/red]")
        raise typer.Exit(1)
    console.print(f"run {result.run_id} succeeded: {what}" + (f" ({len(problems)} warnings)" if problems else ""))


@app.command()
def train(
    end_date: Annotated[
        str | None, typer.Option("--end-date", help="Last night trained on (YYYY-MM-DD); default: the latest.")
    ] = None,
) -> None:
    """Retrain the failure and cost models now (the weekly retrain job) and pass them through the promotion gate."""
    from orchestration.runs import retrain, skipped

    end = _parse_date(end_date, "--end-date") if end_date else None
    with console.status("training set, failure model, cost model, promotion gate"):
        result = retrain(dagster_instance=None, end_date=end)
    for line in skipped(result):  # e.g. no failure with a known cost: the failure model trained alone
        console.print(line, style="yellow", markup=False, soft_wrap=True)
    _finish(result, "retrain (see ops.model_promotions and the MLflow UI)")


@app.command()
def sql(
    statement: Annotated[
        str, typer.Argument(help="A SQL query; tables are bronze.<t>, silver.<t>, gold.<t>, ops.<t>.")
    ],
    format: Annotated[str, typer.Option("--format", help="table, csv or json.")] = "table",
    limit: Annotated[int, typer.Option(help="Rows shown in table format.")] = 50,
) -> None:
    """Query the current snapshot of every lake table with DuckDB."""
    import sys

    from lakehouse.sql import query

    if format not in ("table", "csv", "json"):
        raise typer.BadParameter("must be table, csv or json", param_hint="--format")
    try:
        result = query(Lake(), statement)
    except Exception as exc:  # DuckDB parse/bind errors: one clear line, no traceback
        console.print(f"[red]{type(exc).__name__}: {exc}[/red]")
        raise typer.Exit(1) from None
    if format == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(result, sys.stdout.buffer)
    elif format == "json":
        import json

        typer.echo(json.dumps(result.to_pylist(), default=str, indent=1))
    else:
        out = Table(*result.column_names)
        for row in result.slice(0, limit).to_pylist():
            out.add_row(*("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
        console.print(out)
        if result.num_rows > limit:
            console.print(f"({result.num_rows} rows, {limit} shown; --limit or --format csv for more)")


@app.command()
def demo(
    plants: Annotated[int, typer.Option(help="Plants in the demo network.")] = DemoNetwork.plants,
    machines_per_plant: Annotated[int, typer.Option(help="Machines per plant.")] = DemoNetwork.machines_per_plant,
    suppliers: Annotated[int, typer.Option(help="Suppliers.")] = DemoNetwork.suppliers,
    days: Annotated[int, typer.Option(
        help="Nights to simulate and process, ending yesterday (fewer may leave the first failure model short of "
             "the promotion gate, and the demo without alerts).")] = DemoNetwork.days,
) -> None:
    """Simulate a small network, land and process every night, train and score, and show what was built."""
    from orchestration.demo import run_demo

    network = DemoNetwork(
        plants=plants,
        machines_per_plant=machines_per_plant,
        suppliers=suppliers,
        days=days,
        locations=suppliers * DemoNetwork.locations // DemoNetwork.suppliers,  # the demo's locations per supplier
    )
    if not run_demo(console, network):
        raise typer.Exit(1)


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port of the Dagster UI.")] = 3000,
    mlflow_port: Annotated[int, typer.Option(help="Port of the MLflow UI.")] = 5000,
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 keeps the UIs private).")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI and the MLflow UI on this machine and print their addresses."""
    from orchestration.ui import serve

    serve(host, port, mlflow_port, console)


@app.command("serve")
def serve_tables(
    host: Annotated[str, typer.Option(help="Address to bind (127.0.0.1 keeps the server private).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the Thrift (HiveServer2) server.")] = 10000,
    layers: Annotated[
        list[str] | None, typer.Option("--layer", help="Serve this layer (repeatable; default: gold).")
    ] = None,
    poll: Annotated[float, typer.Option(
        min=0.1, help="Seconds between looks at the tables' versions: a commit is visible within this.")] = 10.0,
) -> None:
    """Serve the lake's tables to BI tools over JDBC/ODBC/hive:// (the Spark Thrift server) until Ctrl-C."""
    from lakehouse.serve import ServeError, run

    try:
        run(get_settings(), _layers(layers or ["gold"]), host, port, poll,
            on_ready=lambda line: console.print(line, markup=False, soft_wrap=True))
    except (ServeError, LakeError) as exc:
        _exit_with(exc, 1)


@app.command("spark-archive")
def spark_archive() -> None:
    """Write the archive of the Spark driver's classes (PLANTLAKE_SPARK_CLASS_ARCHIVE) that drivers then start from."""
    from lakehouse.class_archive import build

    with console.status("Running a Spark driver to archive its classes..."):
        try:
            path = build(get_settings().spark_class_archive)
        except (RuntimeError, TimeoutError) as exc:
            _exit_with(exc, 1)
    console.print(f"Spark class archive: {path} ({path.stat().st_size / 2**20:.0f} MiB)", markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
