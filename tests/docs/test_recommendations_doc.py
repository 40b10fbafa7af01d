"""The reading examples of docs/recommendations.md, run as written against a published lake."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec import catalog, engine
from shoprec.config import Settings

DOC = Path(__file__).parents[2] / "docs" / "recommendations.md"
RUN_DATE = date(2026, 1, 14)


def examples() -> dict[str, str]:
    """Python code blocks of the doc keyed by the heading above them."""
    text = DOC.read_text()
    found = {}
    for match in re.finditer(r"^### (.+?)\n.*?```python\n(.*?)```", text, flags=re.S | re.M):
        found[match.group(1).split(" ")[0].lower()] = match.group(2)
    return found


@pytest.fixture
def published(spark: SparkSession, settings: Settings) -> Settings:
    """Two users' recommendations and an item audience, published with the job's own writers."""
    now = datetime(2026, 1, 14, 6, tzinfo=UTC)
    rows = [
        (1, 1, 10, 0.9, "3", "co_viewed:7", now, RUN_DATE),
        (1, 2, 11, 0.5, "3", "top_category:2", now, RUN_DATE),
        (2, 1, 12, 0.4, "popularity", "cold_start:popular", now, RUN_DATE),
    ]
    recs = spark.createDataFrame(rows, engine.spark_schema(catalog.RECO_USER_RECOMMENDATIONS))
    engine.replace_partition(recs, catalog.RECO_USER_RECOMMENDATIONS, settings, {"run_date": RUN_DATE})
    engine.overwrite(recs, catalog.RECO_LATEST, settings)
    audience = spark.createDataFrame(
        [(10, 1, 1, 0.9, "3", now, RUN_DATE)], engine.spark_schema(catalog.RECO_ITEM_AUDIENCES)
    )
    engine.replace_partition(audience, catalog.RECO_ITEM_AUDIENCES, settings, {"run_date": RUN_DATE})
    return settings


def run_example(name: str, settings: Settings, **extra: str) -> dict[str, object]:
    code = examples()[name]
    code = code.replace('LAKE = ".shoprec/lake"', f"LAKE = {str(settings.lake)!r}")
    for variable, value in extra.items():
        code = re.sub(rf'^{variable} = ".*"$', f"{variable} = {value!r}", code, flags=re.M)
    namespace: dict[str, object] = {}
    exec(compile(code, f"{DOC.name}:{name}", "exec"), namespace)
    return namespace


def test_the_doc_has_the_three_readers() -> None:
    assert set(examples()) == {"pandas", "duckdb", "spark"}


def test_pandas_example(published: Settings) -> None:
    namespace = run_example("pandas", published)
    assert namespace["top3"][["user_id", "item_id"]].values.tolist() == [[1, 10], [1, 11], [2, 12]]
    assert len(namespace["latest"]) == 3


def test_duckdb_example(published: Settings) -> None:
    namespace = run_example("duckdb", published)
    assert dict(namespace["per_reason"]) == {"co_viewed": 1, "top_category": 1, "cold_start": 1}


def test_spark_example(published: Settings, sail_url: str) -> None:
    namespace = run_example("spark", published, SPARK_REMOTE=sail_url)
    assert namespace["rows"] == 3
    assert [r.user_id for r in namespace["campaign"].collect()] == [1]
