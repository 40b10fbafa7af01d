"""The documented analyst queries run on real feature tables and return sensible rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.config import Settings
from tests.conftest import FEATURES_AS_OF

QUERIES_FILE = Path(__file__).parents[2] / "docs" / "analyst_queries.sql"


def documented_queries() -> dict[str, str]:
    """Name -> SQL for every `-- name:` block of docs/analyst_queries.sql."""
    blocks = re.split(r"^-- name: ", QUERIES_FILE.read_text(), flags=re.MULTILINE)[1:]
    return {block.split("\n", 1)[0].strip(): block.split("\n", 1)[1].strip().rstrip(";") for block in blocks}


def test_there_are_at_least_five_queries() -> None:
    assert len(documented_queries()) >= 5


@pytest.mark.parametrize("name", sorted(documented_queries()))
def test_query_runs(name: str, feature_lake: tuple[SparkSession, Settings]) -> None:
    spark, _ = feature_lake
    sql = documented_queries()[name].replace(":as_of", f"DATE'{FEATURES_AS_OF.isoformat()}'")
    rows = spark.sql(sql).collect()
    if name != "buyers_going_quiet":  # a tiny shop may have no such buyer on the day
        assert rows, f"{name} returned no rows"
