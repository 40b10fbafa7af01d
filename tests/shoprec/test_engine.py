"""The engine module: engine failures name the table or step they happened in."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import catalog, engine, engine_errors
from shoprec.config import Settings


def test_a_failing_write_names_its_table(spark: SparkSession, settings: Settings) -> None:
    day = date(2026, 1, 1)
    rows = engine.empty(spark, catalog.ITEM_COOCCURRENCE).unionByName(
        spark.range(1).select(
            F.lit(1).alias("item_id"),
            F.lit(2).alias("other_item_id"),
            (F.lit(1) / F.lit(0)).cast("bigint").alias("co_view_sessions"),
            F.lit(0).alias("co_buy_sessions"),
            F.lit(0.5).alias("score"),
            F.lit(1).alias("pair_rank"),
            F.lit(day).alias("as_of_date"),
        ),
        allowMissingColumns=True,
    )
    with pytest.raises(engine_errors.EngineError, match=r"^features\.item_cooccurrence: .*zero"):
        engine.replace_partition(rows, catalog.ITEM_COOCCURRENCE, settings, {"as_of_date": day})


def test_a_failing_scratch_step_names_the_step(spark: SparkSession, settings: Settings) -> None:
    with (
        engine.scratch(spark, settings) as scratch,
        pytest.raises(engine_errors.EngineError, match=r"^step 'ratios': "),
    ):
        scratch.materialize(spark.range(3).select((F.col("id") / F.lit(0)).alias("x")), "ratios")


def test_first_line_keeps_only_the_headline() -> None:
    assert engine_errors.first_line(ValueError("boom\n  at server frame 1\n")) == "boom"
    assert engine_errors.first_line(ValueError("")) == "ValueError"


def test_partition_predicate_escapes_every_value() -> None:
    predicate = engine.partition_predicate(catalog.USER_DAILY, {"as_of_date": date(2026, 1, 2)})
    assert predicate == "as_of_date = DATE '2026-01-02'"


def test_partition_predicate_names_the_partition_columns_it_needs() -> None:
    with pytest.raises(ValueError, match=r"features\.user_daily is partitioned by \['as_of_date'\]"):
        engine.partition_predicate(catalog.USER_DAILY, {"run_date": date(2026, 1, 2)})


def test_range_predicate_spans_both_ends() -> None:
    predicate = engine.range_predicate(catalog.USER_DAILY, date(2026, 1, 1), date(2026, 1, 7))
    assert predicate == "as_of_date >= DATE '2026-01-01' AND as_of_date <= DATE '2026-01-07'"


def test_rows_predicate_refuses_undeclared_columns() -> None:
    with pytest.raises(ValueError, match=r"has no columns \['nope'\]"):
        engine.rows_predicate(catalog.USER_DAILY, {"nope": 1})
