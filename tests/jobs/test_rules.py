"""Field rules on a few string rows: typed values, and the first broken rule named per row."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.rules import FieldRule, Violation, check

RULES = (
    FieldRule("event_type", "string", required=True, allowed=("view", "purchase")),
    FieldRule("price", "double", non_negative=True),
)


def checked(spark: SparkSession, rows: list[tuple[str | None, str | None, str | None]]) -> dict:
    parsed = spark.createDataFrame(rows, "event_type string, price string, parse_reason string").withColumn(
        "parse_detail", F.lit(None).cast("string")
    )
    return {(r.event_type, r.price): r for r in check(parsed, RULES).collect()}


def test_a_good_row_is_typed_and_has_no_reason(spark: SparkSession) -> None:
    row = checked(spark, [("view", "1.5", None)])[("view", 1.5)]
    assert row.reason is None
    assert row.column_name is None


def test_the_first_broken_rule_is_named(spark: SparkSession) -> None:
    rows = checked(spark, [("", "x", None), ("refund", "-1", None), ("view", "-1", None)])
    assert rows[(None, None)].reason == "missing_event_type"  # checked before the price
    assert rows[("refund", -1.0)].reason == "unknown_event_type"
    assert rows[("refund", -1.0)].detail == "event_type 'refund' is not one of view, purchase"
    assert rows[("view", -1.0)].reason == "negative_price"
    assert rows[("view", -1.0)].column_name == "price"


def test_a_parse_failure_comes_first(spark: SparkSession) -> None:
    row = checked(spark, [("view", "1", "bad_json")])[("view", 1.0)]
    assert row.reason == "bad_json"


def test_extra_violations_apply_to_usable_rows_only(spark: SparkSession) -> None:
    parsed = spark.createDataFrame(
        [("view", "100", None), ("", "100", None)], "event_type string, price string, parse_reason string"
    ).withColumn("parse_detail", F.lit(None).cast("string"))
    extra = [Violation(F.col("price") > 50, "price_too_high", "price", F.lit("over 50"))]
    reasons = sorted(r.reason for r in check(parsed, RULES, extra).collect())
    assert reasons == ["missing_event_type", "price_too_high"]
