"""PyHive's SQLAlchemy dialect against the Spark Thrift server (``plantlake serve``): table names.

Hive answers ``SHOW TABLES`` with one column (``tab_name``); Spark answers with three
(``namespace``, ``tableName``, ``isTemporary``). PyHive's ``hive://`` dialect reads the first
column, so against Spark every schema seems to hold one table named after the schema (and
Superset, which subtracts ``SHOW VIEWS`` from it, finds none). :func:`patch_pyhive` makes the
dialect read the table name from either answer.

This module imports nothing of plantlake, so a BI tool's own environment (``make bi``'s
Superset) can load it by path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table_names(rows: Iterable[Sequence]) -> list[str]:
    """Names from a ``SHOW TABLES`` or ``SHOW VIEWS`` answer of Hive (name first) or Spark (namespace first)."""
    return [row[1] if len(row) >= 3 else row[0] for row in rows]


def patch_pyhive() -> None:
    """Make PyHive's dialect list table names correctly on Spark too (idempotent)."""
    from pyhive import sqlalchemy_hive
    from sqlalchemy import text

    dialect = sqlalchemy_hive.HiveDialect
    if getattr(dialect.get_table_names, "plantlake", False):
        return

    def get_table_names(self, connection, schema=None, **kw):
        query = "SHOW TABLES"
        if schema:
            query += " IN " + self.identifier_preparer.quote_identifier(schema)
        return table_names(connection.execute(text(query)))

    get_table_names.plantlake = True
    dialect.get_table_names = get_table_names
