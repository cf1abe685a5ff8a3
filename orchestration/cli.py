"""The ``plantlake`` command line: every command has ``--help``; settings come from the environment."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from lakehouse import catalog
from lakehouse.delta import VACUUM_RETENTION_HOURS, Lake
from lakehouse.settings import get_settings

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
    level = "DEBUG" if verbose else os.environ.get("PLANTLAKE_LOG_LEVEL", "INFO")
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=True)],
        force=True,
    )
    for noisy in ("py4j", "botocore", "urllib3", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


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
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the catalog as README markdown.")] = False,
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
    for spec in catalog.tables(layer):
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
