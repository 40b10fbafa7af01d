"""Feature tables on real Sail/Delta, checked against an independent pandas computation over the landing files."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import features
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec.vocabulary import AFFINITY_WEIGHTS, EVENT_KINDS
from tests.conftest import FEATURES_AS_OF, FEATURES_START, build_features

START = FEATURES_START
AS_OF = FEATURES_AS_OF
FEATURE_TABLES = features.FEATURE_TABLES


@pytest.fixture
def lake(feature_lake: tuple[SparkSession, Settings]) -> tuple[SparkSession, Settings]:
    return feature_lake


def partition(spark: SparkSession, table: catalog.Table, day: date) -> pd.DataFrame:
    frame = spark.table(table.name).where(engine.partition_predicate(table, {"as_of_date": day})).toPandas()
    key = [c for c in table.column_names if c.endswith("_id")][:2]
    return frame.sort_values(key).reset_index(drop=True)


def landing_events(settings: Settings, until: date) -> pd.DataFrame:
    """Every event of the landing files up to a day, read with plain pandas (the independent path)."""
    rows = [
        json.loads(line)
        for path in sorted((settings.landing / "events").glob("date=*/*.jsonl"))
        if date.fromisoformat(path.parent.name[5:]) <= until
        for line in path.read_text().splitlines()
    ]
    events = pd.DataFrame(rows)
    events["event_date"] = pd.to_datetime(events["event_ts"]).dt.date
    return events


def expected_age(events: pd.DataFrame, day: date) -> pd.Series:
    return events["event_date"].map(lambda d: (day - d).days)


def test_user_daily_matches_pandas(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    events = landing_events(settings, AS_OF)
    events["age"] = expected_age(events, AS_OF)
    window = events[events["age"] < 30]
    got = partition(spark, catalog.USER_DAILY, AS_OF).set_index("user_id")

    assert sorted(got.index) == sorted(window["user_id"].unique())
    for kind, name in EVENT_KINDS.items():
        for w in catalog.WINDOWS:
            counts = window[(window["event_type"] == kind) & (window["age"] < w)].groupby("user_id").size()
            expected = counts.reindex(got.index, fill_value=0)
            assert (got[f"{name}_{w}d"] == expected).all(), f"{name}_{w}d"
    by_user = window.groupby("user_id")
    assert (got["distinct_items_30d"] == by_user["item_id"].nunique().reindex(got.index)).all()
    assert (got["days_since_last_event"] == by_user["age"].min().reindex(got.index)).all()
    spend = window[window["event_type"] == "purchase"].groupby("user_id")["price"].sum()
    np.testing.assert_allclose(got["spend_30d"], spend.reindex(got.index, fill_value=0.0), rtol=1e-9)


def test_item_daily_and_affinity_match_pandas(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    events = landing_events(settings, AS_OF)
    events["age"] = expected_age(events, AS_OF)
    week = events[events["age"] < 7]

    items = partition(spark, catalog.ITEM_DAILY, AS_OF).set_index("item_id")
    views = week[week["event_type"] == "view"].groupby("item_id").size().reindex(items.index, fill_value=0)
    assert (items["views_7d"] == views).all()
    assert (
        items["users_7d"] == week.groupby("item_id")["user_id"].nunique().reindex(items.index, fill_value=0)
    ).all()
    assert items["click_rate_30d"].between(0, 1).all()
    assert items["conversion_rate_30d"].between(0, 1).all()

    categories = pd.read_json(
        "\n".join(p.read_text() for p in sorted((settings.landing / "items").glob("date=*/items.jsonl"))),
        lines=True,
    ).drop_duplicates("item_id", keep="last")[["item_id", "category_id"]]
    scored = events.merge(categories, on="item_id")
    weight = scored["event_type"].map(AFFINITY_WEIGHTS)
    scored["affinity"] = weight * 0.5 ** (scored["age"] / features.AFFINITY_HALF_LIFE_DAYS)
    expected = scored.groupby(["user_id", "category_id"])["affinity"].sum()
    got = partition(spark, catalog.USER_CATEGORY, AS_OF).set_index(["user_id", "category_id"])["affinity"]
    np.testing.assert_allclose(got.sort_index(), expected.reindex(got.sort_index().index), rtol=1e-9)


def test_cooccurrence_counts_shared_sessions(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    events = landing_events(settings, AS_OF)
    events = events[expected_age(events, AS_OF) < 30]
    sessions = events.groupby("session_id")["item_id"].apply(set)
    got = partition(spark, catalog.ITEM_COOCCURRENCE, AS_OF)
    assert (got["item_id"] != got["other_item_id"]).all()
    assert got["score"].between(0, 1).all()
    for row in got.head(20).itertuples():
        shared = sum(1 for s in sessions if row.item_id in s and row.other_item_id in s)
        assert row.co_view_sessions == shared


def test_future_events_change_nothing_for_past_dates(
    lake: tuple[SparkSession, Settings], sail_url: str, tmp_path: Path
) -> None:
    spark, _ = lake
    shorter = Settings(home=tmp_path / "home")  # the same shop, but its history ends on AS_OF
    other = engine.connect(sail_url, shorter, "test-features-pit")
    try:
        build_features(other, shorter, days=(AS_OF - START).days + 1, as_of=(AS_OF, AS_OF))
        for table in FEATURE_TABLES:
            pd.testing.assert_frame_equal(
                partition(other, table, AS_OF), partition(spark, table, AS_OF), check_dtype=False
            )
    finally:
        other.stop()


def test_rerun_and_single_day_equal_the_backfill(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    before = {t.name: partition(spark, t, AS_OF) for t in FEATURE_TABLES}
    previous_day = {t.name: partition(spark, t, AS_OF - timedelta(days=1)) for t in FEATURE_TABLES}

    stats = features.run(spark, settings, AS_OF)  # one day alone, over the two-day backfill

    for table in FEATURE_TABLES:
        pd.testing.assert_frame_equal(partition(spark, table, AS_OF), before[table.name], check_dtype=False)
        pd.testing.assert_frame_equal(
            partition(spark, table, AS_OF - timedelta(days=1)), previous_day[table.name], check_dtype=False
        )
        assert stats.rows[table.name] == len(before[table.name])
