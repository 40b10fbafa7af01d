"""The engine module: engine failures name the table or step they happened in."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import catalog, engine
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
    with pytest.raises(engine.EngineError, match=r"^features\.item_cooccurrence: .*zero"):
        engine.replace_partition(rows, catalog.ITEM_COOCCURRENCE, settings, {"as_of_date": day})


def test_a_failing_scratch_step_names_the_step(spark: SparkSession, settings: Settings) -> None:
    with (
        engine.scratch(spark, settings) as scratch,
        pytest.raises(engine.EngineError, match=r"^step 'ratios': "),
    ):
        scratch.materialize(spark.range(3).select((F.col("id") / F.lit(0)).alias("x")), "ratios")


def test_first_line_keeps_only_the_headline() -> None:
    assert engine.first_line(ValueError("boom\n  at server frame 1\n")) == "boom"
    assert engine.first_line(ValueError("")) == "ValueError"
