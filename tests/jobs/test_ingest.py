"""Ingest on a real Sail server and real Delta tables: rejections, reconciliation, idempotency, formats."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession

from jobs import ingest
from shoprec import catalog, engine, lake, landing
from shoprec.config import Settings
from tests.conftest import event, write_landing

DAY = date(2026, 1, 1)


def _table(spark: SparkSession, name: str) -> pd.DataFrame:
    return spark.table(name).toPandas()


@pytest.mark.parametrize(
    ("line", "reason", "column"),
    [
        ('{"event_id": "x1", "user_id": 1, "item_id"', "unparseable_json", None),
        ("not json at all", "unparseable_json", None),
        (event(event_id=""), "missing_event_id", "event_id"),
        (event(user_id=None), "missing_user_id", "user_id"),
        (event(user_id="abc"), "invalid_user_id", "user_id"),
        (event(item_id=None), "missing_item_id", "item_id"),
        (event(item_id=1.5), "invalid_item_id", "item_id"),
        (event(event_type="wishlist"), "unknown_event_type", "event_type"),
        (event(event_ts="yesterday"), "invalid_event_ts", "event_ts"),
        (event(event_ts="2026-13-45T99:00:00Z"), "invalid_event_ts", "event_ts"),
        (event(price=-5), "negative_price", "price"),
        (event(price="cheap"), "invalid_price", "price"),
        (event(event_ts="2026-01-02T00:00:00.000Z"), "outside_day", "event_ts"),
        (event(event_ts="2025-12-31T23:59:59.999Z"), "outside_day", "event_ts"),
    ],
)
def test_each_bad_row_is_rejected_with_its_reason(
    spark: SparkSession, settings: Settings, line: dict | str, reason: str, column: str | None
) -> None:
    good = event(event_id="good")
    path = write_landing(settings, DAY, [good, line])

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert (stats.read, stats.accepted, stats.rejected) == (2, 1, 1)
    rejected = _table(spark, "raw.events_rejected")
    assert rejected[["reason", "column_name", "line_number"]].to_dict("records") == [
        {"reason": reason, "column_name": column, "line_number": 2}
    ]
    row = rejected.iloc[0]
    assert row["raw_line"] == (line if isinstance(line, str) else json.dumps(line))
    assert row["source_file"] == str(path.relative_to(settings.landing))
    assert row["detail"]
    assert _table(spark, "raw.events")["event_id"].tolist() == ["good"]


def test_rejection_detail_names_the_value(spark: SparkSession, settings: Settings) -> None:
    write_landing(settings, DAY, [event(event_id="a"), event(event_id="b", event_type="wishlist")])

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert stats.samples == [
        "events/date=2026-01-01/part-00000.jsonl:2 [unknown_event_type] "
        "event_type 'wishlist' is not one of view, click, cart, fav, purchase"
    ]


def test_counts_reconcile_and_runs_are_logged(spark: SparkSession, settings: Settings) -> None:
    rows = [event(event_id=f"e{i}", user_id=i) for i in range(20)]
    rows += ["{broken", event(event_id="neg", price=-1), event(event_id="e3", user_id=3), ""]
    write_landing(settings, DAY, rows)

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert stats.read == 23  # the blank line is not a row
    assert stats.read == stats.accepted + stats.rejected
    assert (stats.accepted, stats.rejected, stats.duplicates) == (20, 3, 1)
    assert stats.reasons == {"unparseable_json": 1, "negative_price": 1, "duplicate_event_id": 1}
    runs = _table(spark, "ops.ingest_runs")
    assert runs[["read_rows", "accepted_rows", "rejected_rows", "duplicate_rows"]].values.tolist() == [
        [23, 20, 3, 1]
    ]


def test_duplicates_keep_the_first_occurrence(spark: SparkSession, settings: Settings) -> None:
    write_landing(settings, DAY, [event(event_id="d", user_id=1), event(event_id="other")], name="a.jsonl")
    write_landing(settings, DAY, [event(event_id="d", user_id=2)], name="b.jsonl")

    ingest.ingest_day(spark, settings, DAY)

    events = _table(spark, "raw.events").set_index("event_id")
    assert events.loc["d", "user_id"] == 1
    assert events.loc["d", "source_file"].endswith("a.jsonl")
    rejected = _table(spark, "raw.events_rejected")
    assert rejected[["reason", "event_id", "line_number"]].values.tolist() == [["duplicate_event_id", "d", 1]]
    assert rejected["source_file"].iloc[0].endswith("b.jsonl")


def test_reingest_replaces_only_that_day(spark: SparkSession, settings: Settings) -> None:
    day2 = date(2026, 1, 2)
    write_landing(settings, DAY, [event(event_id="a"), event(event_id="b"), "bad"])
    write_landing(settings, day2, [event(event_id="c", event_ts="2026-01-02T08:00:00Z")])
    list(ingest.run(spark, settings, DAY, day2, max_reject_rate=1.0))
    first = _table(spark, "raw.events").drop(columns="ingested_at").sort_values("event_id")

    list(ingest.run(spark, settings, DAY, day2, max_reject_rate=1.0))  # the same days again
    again = _table(spark, "raw.events").drop(columns="ingested_at").sort_values("event_id")
    pd.testing.assert_frame_equal(first.reset_index(drop=True), again.reset_index(drop=True))
    assert len(_table(spark, "raw.events_rejected")) == 1

    write_landing(settings, DAY, [event(event_id="z")])  # a corrected re-export of day 1
    ingest.ingest_day(spark, settings, DAY)
    assert sorted(_table(spark, "raw.events")["event_id"]) == ["c", "z"]
    assert len(_table(spark, "raw.events_rejected")) == 0


def test_too_many_rejects_fail_and_leave_events_untouched(spark: SparkSession, settings: Settings) -> None:
    write_landing(settings, DAY, [event(event_id="ok")])
    ingest.ingest_day(spark, settings, DAY)
    write_landing(settings, DAY, [event(event_id="new"), "garbage", "more garbage"])

    with pytest.raises(
        ingest.IngestError, match=r"2 of 3 event rows rejected \(66.7% > 5%\); raw.events left unchanged"
    ):
        ingest.ingest_day(spark, settings, DAY)

    assert _table(spark, "raw.events")["event_id"].tolist() == ["ok"]
    assert len(_table(spark, "raw.events_rejected")) == 2  # nothing is lost


def test_missing_landing_day_fails_naming_the_folder(spark: SparkSession, settings: Settings) -> None:
    expected = landing.day_dir(settings.landing, "events", DAY)
    with pytest.raises(ingest.IngestError, match=f"no event files for 2026-01-01 in {expected}"):
        ingest.ingest_day(spark, settings, DAY)


def test_item_and_user_exports(spark: SparkSession, settings: Settings) -> None:
    write_landing(settings, DAY, [event()])
    items = [
        {"item_id": 10, "category_id": 3, "brand_id": 7, "price": 9.99, "listed_date": "2026-01-01"},
        {"item_id": 11, "category_id": 3, "brand_id": None, "price": -2, "listed_date": "2026-01-01"},
        {"item_id": "x", "category_id": 3},
    ]
    users = [{"user_id": 1, "signup_date": "2025-12-30", "country": "DE", "age_band": "25-34"}, "{oops"]
    write_landing(settings, DAY, items, kind="items", name="items.jsonl")
    write_landing(settings, DAY, users, kind="users", name="users.jsonl")

    stats = ingest.ingest_day(spark, settings, DAY)

    assert (stats.items, stats.users, stats.catalog_rejected) == (1, 1, 3)
    assert _table(spark, "raw.items")[["item_id", "brand_id"]].values.tolist() == [[10, 7]]
    assert str(_table(spark, "raw.users")["signup_date"].iloc[0]) == "2025-12-30"
    rejected = _table(spark, "raw.catalog_rejected").sort_values(["entity", "line_number"])
    assert rejected[["entity", "line_number", "reason"]].values.tolist() == [
        ["items", 2, "negative_price"],
        ["items", 3, "invalid_item_id"],
        ["users", 2, "unparseable_json"],
    ]


def test_behavior_log_format(spark: SparkSession, settings: Settings) -> None:
    ts = 1767261600  # 2026-01-01T10:00:00Z
    lines = [
        f"1,10,3,pv,{ts}",
        f"1,10,3,buy,{ts + 60}",
        f"2,11,4,fav,{ts}",
        f"2,11,4,fav,{ts}",
        "3,12,4,pv",
        f"4,13,5,like,{ts}",
    ]
    folder = landing.day_dir(settings.landing, "events", DAY)
    folder.mkdir(parents=True)
    (folder / "UserBehavior.csv").write_text("\n".join(lines) + "\n")

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert stats.source_format == "behavior-log"
    assert (stats.read, stats.accepted, stats.rejected, stats.duplicates) == (6, 3, 3, 1)
    events = _table(spark, "raw.events").sort_values("event_ts")
    assert sorted(events["event_type"]) == ["fav", "purchase", "view"]
    assert str(events["event_ts"].iloc[0]) == "2026-01-01 10:00:00"
    assert events["session_id"].isna().all()
    rejected = _table(spark, "raw.events_rejected").sort_values("line_number")
    assert rejected["reason"].tolist() == ["duplicate_event_id", "wrong_field_count", "unknown_event_type"]
    items = _table(spark, "raw.items").sort_values("item_id")
    assert items[["item_id", "category_id"]].values.tolist() == [[10, 3], [11, 4]]


def test_items_derived_from_jsonl_events_with_category(spark: SparkSession, settings: Settings) -> None:
    rows = [
        {**event(event_id="a", item_id=10), "category_id": 3},
        {**event(event_id="b", item_id=10), "category_id": 3},
        {**event(event_id="c", item_id=11), "category_id": None},
        {**event(event_id="d", item_id=12, price=-1), "category_id": 5},  # rejected: not an item source
        event(event_id="e", item_id=13),
    ]
    write_landing(settings, DAY, rows)
    write_landing(settings, DAY, [{"item_id": 20, "category_id": 8}], kind="items", name="items.jsonl")

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert stats.items == 2
    items = _table(spark, "raw.items").sort_values("item_id")
    assert items[["item_id", "category_id", "source_format"]].values.tolist() == [
        [10, 3, "jsonl"],
        [20, 8, "jsonl"],
    ]
    assert items["source_file"].tolist() == [None, "items/date=2026-01-01/items.jsonl"]
    assert _table(spark, "raw.events").set_index("event_id").loc["a", "category_id"] == 3


def test_parquet_landing(spark: SparkSession, settings: Settings) -> None:
    folder = landing.day_dir(settings.landing, "events", DAY)
    folder.mkdir(parents=True)
    rows = [event(event_id="p1"), event(event_id="p2", price=-3.0)]
    pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")

    stats = ingest.ingest_day(spark, settings, DAY, max_reject_rate=1.0)

    assert (stats.source_format, stats.accepted, stats.rejected) == ("parquet", 1, 1)
    rejected = _table(spark, "raw.events_rejected").iloc[0]
    assert (rejected["reason"], rejected["line_number"]) == ("negative_price", 2)
    assert json.loads(rejected["raw_line"])["event_id"] == "p2"


def test_tables_survive_a_server_restart(settings: Settings) -> None:
    write_landing(settings, DAY, [event(event_id="a"), event(event_id="b")])
    with engine.session(settings) as first:
        ingest.ingest_day(first, settings, DAY)

    with engine.session(settings) as second:  # a new Sail server: its in-memory catalog starts empty
        assert second.sql("SELECT count(*) AS n FROM raw.events").collect()[0]["n"] == 2
        described = {r["col_name"]: r["comment"] for r in second.sql("DESCRIBE TABLE raw.events").collect()}
    assert described["event_id"] == catalog.RAW_EVENTS.columns[0].comment


def test_tables_read_without_spark(spark: SparkSession, settings: Settings) -> None:
    write_landing(settings, DAY, [event(event_id="a"), event(event_id="b", item_id=11)])
    ingest.ingest_day(spark, settings, DAY)

    frame = lake.to_pandas(catalog.RAW_EVENTS, settings, filters=[("event_date", "=", DAY)])
    assert sorted(frame["item_id"]) == [10, 11]
    info = lake.info(catalog.RAW_EVENTS, settings)
    assert (info.rows, info.version) == (2, 1)
    assert lake.info(catalog.RAW_USERS, settings).rows == 0
    duck = duckdb.connect()
    duck.register("events", lake.delta_table(catalog.RAW_EVENTS, settings).to_pyarrow_table())
    assert duck.sql("SELECT count(DISTINCT item_id) FROM events").fetchall() == [(2,)]
