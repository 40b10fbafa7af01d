"""The table catalog: declarations check themselves; names resolve; DDL escapes its strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from shoprec import catalog
from shoprec.catalog import CatalogError, Column, Table


def test_every_table_is_documented_and_partitioned_last() -> None:
    for table in catalog.TABLES.values():
        assert table.description
        assert all(c.comment for c in table.columns)
        if table.partition_by:
            assert table.column_names[-len(table.partition_by) :] == list(table.partition_by)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "events"}, "table name 'events' must look like 'schema.table'"),
        ({"description": ""}, "table raw.t: a description is required"),
        ({"columns": (Column("a", "STRING", ""),)}, "table raw.t: column a needs a comment"),
        ({"columns": (Column("a", "TEXT", "x"),)}, "table raw.t: column a has unsupported type 'TEXT'"),
        ({"columns": (Column("a", "STRING", "x"), Column("a", "STRING", "y"))}, r"duplicate columns \['a'\]"),
        ({"partition_by": ("a",)}, r"partition columns \['a'\] must exist and be the last columns"),
    ],
)
def test_bad_declarations_are_refused(kwargs: dict, message: str) -> None:
    base = {
        "name": "raw.t",
        "description": "d",
        "columns": (Column("a", "STRING", "x"), Column("b", "DATE", "y")),
    }
    with pytest.raises(CatalogError, match=message):
        Table(**{**base, **kwargs})


def test_unknown_table_names_the_known_ones() -> None:
    with pytest.raises(CatalogError, match=r"unknown table 'raw.nope'; known tables: .*raw.events"):
        catalog.get("raw.nope")
    assert catalog.get("raw.events") is catalog.RAW_EVENTS


def test_ddl_escapes_quotes_and_places_table_under_lake() -> None:
    table = Table("x.t", "it's a 'table'", (Column("a", "STRING", "the user's id", nullable=False),))
    ddl = table.ddl(Path("/lake"))
    assert "a STRING NOT NULL COMMENT 'the user\\'s id'" in ddl
    assert "LOCATION '/lake/x/t'" in ddl
    assert "COMMENT 'it\\'s a \\'table\\''" in ddl
    assert "NOT NULL" not in table.ddl(Path("/lake"), not_null=False)
