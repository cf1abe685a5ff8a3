"""SQL over the lake with DuckDB: every table's current snapshot as ``<layer>.<table>``.

Tables are handed to DuckDB as Arrow datasets of their current Delta snapshot (never the
table folder, which holds removed files too), so filters and projections are pushed
down. DuckDB's extension autoinstall and autoload are off: nothing is downloaded.
"""

from __future__ import annotations

import duckdb

from lakehouse import catalog, storage
from lakehouse.delta import Lake


def connect(lake: Lake) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with a view per existing lake table, in schemas bronze, silver, gold, ops."""
    con = duckdb.connect(
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "enable_external_access": False,
        }
    )
    for layer in catalog.LAYERS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    for spec in catalog.tables():
        if not lake.exists(spec):
            continue
        dataset = lake.delta_table(spec).to_pyarrow_dataset(filesystem=storage.subtree(lake.uri(spec), lake.settings))
        relation = f"{spec.layer}__{spec.table}"
        con.register(relation, dataset)
        con.execute(f'CREATE VIEW {spec.layer}.{spec.table} AS SELECT * FROM "{relation}"')
    return con


def query(lake: Lake, sql: str):
    """Run one statement; returns the result as an Arrow table."""
    return connect(lake).sql(sql).to_arrow_table()
