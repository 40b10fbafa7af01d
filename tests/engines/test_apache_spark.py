"""The tiny pipeline on Apache Spark 4 Connect + delta-spark leaves the same tables as on Sail.

ingest, clean, features, the validation gate, training examples and recommend run through the same
job code on both engines, each from its own landing files (same seed); every table is then read with
delta-rs and compared row for row, without the columns that only say when or in which run a row was
written. The differences between the engines, and how the code absorbs them, are in infra/README.md.
"""

from __future__ import annotations

import pytest

from shoprec import catalog
from tests.engines import pipeline
from tests.engines.conftest import BuiltLake

pytestmark = pytest.mark.spark


def test_every_validation_gate_passes_on_apache_spark(apache_spark_built: BuiltLake) -> None:
    failures = {name: found for name, found in apache_spark_built.outcome.blocking_failures.items() if found}
    assert not failures


def test_the_steps_report_the_same_counts(apache_spark_built: BuiltLake, sail_built: BuiltLake) -> None:
    spark, sail = apache_spark_built.outcome, sail_built.outcome
    assert spark.examples == sail.examples
    for field in ("users", "cold_start_users", "candidates", "rows", "audience_rows", "model_version"):
        assert getattr(spark.published, field) == getattr(sail.published, field), field
    assert sail.published.rows > 0 and sail.examples.positives > 0


@pytest.mark.parametrize("table", list(catalog.TABLES))
def test_each_table_equals_sails(table: str, apache_spark_built: BuiltLake, sail_built: BuiltLake) -> None:
    difference = pipeline.differences(catalog.get(table), sail_built.settings, apache_spark_built.settings)
    assert difference is None, difference
