"""Clean layer on real Sail: attribute history (SCD-2), sessions for sessionless sources, catalogue joins."""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import SparkSession

from jobs import clean

D1, D2, D3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)


def test_history_opens_a_period_only_on_change(spark: SparkSession) -> None:
    exports = spark.createDataFrame(
        [(1, 10, 9.99, D1), (1, 10, 9.99, D2), (1, None, 7.50, D3), (2, 20, 5.00, D2)],
        "item_id BIGINT, category_id BIGINT, price DOUBLE, export_date DATE",
    )
    rows = (
        clean.attribute_history(exports, "item_id", ["category_id", "price"])
        .orderBy("item_id", "valid_from")
        .collect()
    )
    assert [(r.item_id, r.category_id, r.price, r.valid_from, r.valid_to, r.is_current) for r in rows] == [
        (1, 10, 9.99, D1, D3, False),
        (1, 10, 7.50, D3, None, True),  # a null category in an export keeps the known one
        (2, 20, 5.00, D2, None, True),
    ]
    assert {r.item_id: r.first_seen_date for r in rows} == {1: D1, 2: D2}


def test_sessions_split_after_thirty_idle_minutes(spark: SparkSession) -> None:
    def ts(hour: int, minute: int) -> datetime:
        return datetime(2026, 1, 1, hour, minute)

    events = spark.createDataFrame(
        [
            ("a", 1, ts(10, 0), None, D1),
            ("b", 1, ts(10, 20), None, D1),
            ("c", 1, ts(11, 0), None, D1),  # 40 minutes later: a new session
            ("d", 2, ts(10, 5), None, D1),
            ("e", 2, ts(10, 6), "src-7", D1),  # the source's own session id is kept
        ],
        "event_id STRING, user_id BIGINT, event_ts TIMESTAMP, session_id STRING, event_date DATE",
    )
    sessions = {r.event_id: r.session_id for r in clean.sessionize(events).collect()}
    assert sessions["a"] == sessions["b"] == "u1-1767261600"
    assert sessions["c"] == "u1-1767265200"
    assert sessions["d"].startswith("u2-")
    assert sessions["e"] == "src-7"


def test_events_take_catalogue_attributes_valid_on_their_day(spark: SparkSession) -> None:
    items = clean.attribute_history(
        spark.createDataFrame(
            [(1, 10, 9.99, D1), (1, 11, 7.50, D3)],
            "item_id BIGINT, category_id BIGINT, price DOUBLE, export_date DATE",
        ),
        "item_id",
        ["category_id", "price"],
    )
    raw = spark.createDataFrame(
        [
            ("x", 5, 1, "view", datetime(2026, 1, 2, 9), "s", None, None, D2),
            ("y", 5, 1, "view", datetime(2026, 1, 3, 9), "s", 8.0, None, D3),
        ],
        "event_id STRING, user_id BIGINT, item_id BIGINT, event_type STRING, event_ts TIMESTAMP, session_id STRING, "
        "price DOUBLE, category_id BIGINT, event_date DATE",
    )
    rows = {r.event_id: r for r in clean.clean_events(raw, items).collect()}
    assert (rows["x"].category_id, rows["x"].price) == (
        10,
        9.99,
    )  # the attributes of day 2, not the later ones
    assert (rows["y"].category_id, rows["y"].price) == (11, 8.0)  # the event's own price wins
