"""The table catalog: declared once, validated, published through entry points, documented."""

from __future__ import annotations

import runpy
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse import catalog
from lakehouse.catalog import DATE, STRING, TableSpec, col

#: ``make docs`` runs it: the site's table reference is generated from the catalog on every build.
GEN_REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "gen_reference.py"


def test_layers_publish_their_tables_through_entry_points():
    names = [t.name for t in catalog.tables()]
    assert "ops.table_maintenance" in names
    assert catalog.get("ops.table_maintenance").natural_key == ("table_name", "operation", "started_at")
    assert all(t.layer == "ops" for t in catalog.tables("ops"))
    with pytest.raises(KeyError, match="known tables: .*ops.table_maintenance"):
        catalog.get("gold.nope")


def test_schema_carries_column_descriptions():
    spec = catalog.get("ops.table_maintenance")
    field = spec.schema.field("duration_s")
    assert field.metadata[b"comment"] == b"Wall time of the operation [s]"
    assert spec.schema.field("table_name").nullable is False
    assert spec.path == "ops/table_maintenance"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "platinum.x"}, "must be '<layer>.<table>'"),
        ({"columns": (col("date", DATE, "d"), col("date", DATE, "d"))}, "duplicate column"),
        ({"columns": (col("date", STRING, "d"),)}, "must be a date or a UTC timestamp"),
        ({"natural_key": ("nope",)}, "key column 'nope' is not a column"),
        ({"columns": (col("date", DATE, "d"), col("x", pa.int8(), "x"))}, "is not one BI readers can all read"),
    ],
)
def test_bad_declarations_are_refused(kwargs, message):
    args = {"name": "silver.x", "description": "x", "columns": (col("date", DATE, "d"),), **kwargs}
    with pytest.raises(ValueError, match=message):
        TableSpec(**args)


def test_docs_table_reference_is_generated_from_the_catalog(tmp_path):
    """`make docs` writes docs/reference/tables.md from the catalog: every table, as the catalog declares it."""
    written = runpy.run_path(str(GEN_REFERENCE))["main"](tmp_path)
    page = (tmp_path / "tables.md").read_text()
    assert tmp_path / "tables.md" in written
    for spec in catalog.tables():
        assert spec.markdown() in page, spec.name
