"""Candidates for batch ranking on real Sail/Delta: sources, merge, exclusions, cold start, scoring rows.

Two lakes: a hand-made one (`hand`, written below so that every source has a known answer for
user 1) and a copy of the shared tiny shop (`shop`), used for train/serve consistency at scale.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import candidates, features, ranking_rows
from jobs.candidates import CandidateConfig, Candidates
from shoprec import catalog, engine
from shoprec.config import Settings
from tests.conftest import FEATURES_AS_OF, copy_lake

DAY = date(2026, 3, 9)  # run day D: features as of D, recommendations for D + 1
EXAMPLE_KEYS = ("user_id", "item_id", "label", "label_event", "weight", "features_date", "label_date")
FEATURE_COLUMNS = [c for c in catalog.TRAINING_EXAMPLES.column_names if c not in EXAMPLE_KEYS]

# --- the hand-made lake -------------------------------------------------------------------------
#
# category 1: 100..104 viewed 5, 4, 3, 2, 1 times a day for 30 days (steady: trend exactly 1) and
#   110, viewed 4 times a day on the last 3 days only (12 views: rising, the only trending item);
# category 2: 200..213, the items user 1 browses, and sessions that make them co-occur;
# category 3: 300, the most popular catalogue item (6 views a day); 297 (no catalogue row) and 299
#   (listed only on D + 1) are more popular still and co-occur with 200, but are never candidates.
# User 1 viewed 200 (D - 1), 201 (D - 3), 202 (D - 10), bought 101 on D - 29 (excluded) and 102 on
# D - 30 (outside the 30 days: not excluded): top categories 2, then 1. On D + 1 user 1 buys 100
# and views 104: nothing may change. Users 50 (registered, no events) and 52 (no signup date) are
# cold-start; 51 signs up on D + 1.

CATEGORY = {100: 1, 101: 1, 102: 1, 103: 1, 104: 1, 110: 1, 297: 3, 299: 3, 300: 3}
CATEGORY |= {i: 2 for i in (200, 201, 202, 210, 211, 212, 213)}
CO_SESSIONS = [(200, 210), (200, 210), (200, 211), (201, 211), (201, 212), (202, 213), (200, 297), (200, 299)]
STEADY_VIEWS = {300: 6, 100: 5, 101: 4, 102: 3, 103: 2, 104: 1}


def _event(user: int, item: int, kind: str, day: date, hour: int = 9, session: str | None = None) -> tuple:
    ts = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    session = session or f"s{user}-{item}-{day}-{hour}"
    return (f"{session}-{item}-{kind}", user, item, CATEGORY[item], kind, ts, session, 10.0, day)


def hand_events() -> list[tuple]:
    rows = []
    for back in range(30):  # steady background views, one single-item session each (no co-occurrence)
        day = DAY - timedelta(days=back)
        for item, per_day in STEADY_VIEWS.items():
            rows += [_event(20 + (item + n) % 20, item, "view", day, 1 + n) for n in range(per_day)]
    for back in range(3):
        rows += [_event(20 + n, 110, "view", DAY - timedelta(days=back), 1 + n) for n in range(4)]
    for back in range(7):
        for item in (297, 299):
            rows += [_event(20 + n, item, "view", DAY - timedelta(days=back), 1 + n) for n in range(8)]
    for n, pair in enumerate(CO_SESSIONS):
        session = f"co{n}"
        rows += [_event(40 + n, item, "view", DAY - timedelta(days=2), 12, session) for item in pair]
    rows += [
        _event(1, 200, "view", DAY - timedelta(days=1)),
        _event(1, 201, "view", DAY - timedelta(days=3)),
        _event(1, 202, "view", DAY - timedelta(days=10)),
        _event(1, 101, "purchase", DAY - timedelta(days=29)),
        _event(1, 102, "purchase", DAY - timedelta(days=30)),
        _event(60, 300, "purchase", DAY - timedelta(days=100)),  # user 60 bought long ago: not active
        _event(1, 100, "purchase", DAY + timedelta(days=1)),  # after D: changes nothing
        _event(1, 104, "view", DAY + timedelta(days=1)),
    ]
    return rows


def hand_items() -> list[tuple]:
    first = DAY - timedelta(days=60)
    rows = [(i, c, 500 + i, 20.0, first, first, first, None, True) for i, c in CATEGORY.items() if i != 297]
    later = DAY + timedelta(days=1)
    return [r if r[0] != 299 else (299, 3, 799, 20.0, later, later, later, None, True) for r in rows]


def hand_users() -> list[tuple]:
    long_ago = DAY - timedelta(days=100)
    rows = [
        (u, long_ago, "DE", "25-34", long_ago, long_ago, None, True)
        for u in (1, *range(20, 28), *range(40, 48), 50)
    ]
    later = DAY + timedelta(days=1)
    rows.append((51, later, "DE", "25-34", later, later, None, True))
    rows.append((52, None, "FR", None, DAY - timedelta(days=5), DAY - timedelta(days=5), None, True))
    return rows


# Small limits so each source's answer for user 1 is short; max_candidates does not cut. The
# history sources (revisit, item_knn) are off here and tested on their own.
CONFIG = CandidateConfig(
    revisit=0,
    item_knn=0,
    co_viewed=5,
    top_category=3,
    trending=2,
    popular=3,
    max_candidates=60,
    cold_start_popular=2,
    cold_start_trending=1,
)


@dataclass(frozen=True)
class Frames:
    """A build's frames as pandas, sorted."""

    users: pd.DataFrame
    items: pd.DataFrame
    pairs: pd.DataFrame
    cold_start: pd.DataFrame
    built: Candidates

    def reasons(self, user: int) -> dict[int, str]:
        mine = self.pairs[self.pairs["user_id"] == user]
        return dict(zip(mine["item_id"], mine["reason"], strict=True))


def collect(built: Candidates) -> Frames:
    def sort(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return frame.sort_values(keys).reset_index(drop=True)

    return Frames(
        users=sort(built.users.toPandas(), ["user_id"]),
        items=sort(built.items.toPandas(), ["item_id"]),
        pairs=sort(built.pairs.toPandas(), ["user_id", "item_id"]),
        cold_start=sort(built.cold_start.toPandas(), ["user_id", "item_id"]),
        built=built,
    )


@dataclass(frozen=True)
class Lake:
    spark: SparkSession
    settings: Settings
    scratch: engine.Scratch

    def build(self, config: CandidateConfig = CONFIG, day: date = DAY) -> Frames:
        return collect(candidates.build(self.spark, self.settings, day, config, scratch=self.scratch))


def write_hand_lake(spark: SparkSession, settings: Settings, events: list[tuple]) -> None:
    frame = spark.createDataFrame(events, engine.spark_schema(catalog.CLEAN_EVENTS))
    engine.replace_range(
        frame, catalog.CLEAN_EVENTS, settings, DAY - timedelta(days=100), DAY + timedelta(days=1)
    )
    items = spark.createDataFrame(hand_items(), engine.spark_schema(catalog.CLEAN_ITEMS))
    engine.overwrite(items, catalog.CLEAN_ITEMS, settings)
    users = spark.createDataFrame(hand_users(), engine.spark_schema(catalog.CLEAN_USERS))
    engine.overwrite(users, catalog.CLEAN_USERS, settings)
    features.run(spark, settings, DAY)


@pytest.fixture(scope="module")
def hand(sail_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """The hand-made lake with features as of DAY."""
    settings = Settings(home=tmp_path_factory.mktemp("candidates_hand") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-candidates")
    write_hand_lake(spark, settings, hand_events())
    with engine.scratch(spark, settings) as scratch:
        yield Lake(spark, settings, scratch)
    spark.stop()


@pytest.fixture(scope="module")
def built(hand: Lake) -> Frames:
    return hand.build()


def test_each_source_gives_its_items_with_their_reasons(built: Frames) -> None:
    assert built.reasons(1) == {
        210: "co_viewed:200",  # 200's partner
        211: "co_viewed:201",  # partner of both; 201 has fewer sessions, so the higher score
        212: "co_viewed:201",
        200: "top_category:2",  # the most popular items of category 2 (210 is co-viewed already)
        201: "top_category:2",
        100: "top_category:1",  # 101 was bought on D - 29; 102 on D - 30 is out of the 30 days
        102: "top_category:1",
        110: "trending:1",  # rising, 12 views in 7 days; 100..104 are steady (trend exactly 1)
        300: "popular",  # the most popular catalogue item (100, 101 are top_category/excluded)
    }  # 213 co-occurs with 202 only, which is older than the week; 297 / 299 are not in the catalogue
    mine = built.pairs[built.pairs["user_id"] == 1].set_index("item_id")
    assert (mine["source"] == mine["reason"].str.split(":").str[0]).all()
    co_viewed = mine[mine["source"] == "co_viewed"]
    assert list(co_viewed["source_score"]) == pytest.approx(list(co_viewed["ui_cooc_score"]))
    assert mine.loc[300, "source_score"] == 1.0  # popularity over the top item's
    share = mine.loc[200, "uc_affinity_share"]
    assert 0.5 < share < 1 and mine.loc[200, "source_score"] == pytest.approx(
        share
    )  # its category's top item
    assert mine.loc[100, "source_score"] == pytest.approx(1 - share)
    assert mine.loc[110, "source_score"] == pytest.approx(1 - share)  # the only (so the best) trending item


def test_history_sources_revisit_and_item_knn(hand: Lake) -> None:
    both = hand.build(replace(CONFIG, revisit=5, item_knn=5))
    merged = both.built.merged.toPandas()
    mine = merged[merged["user_id"] == 1].set_index("item_id")
    reasons = both.reasons(1)
    # the user's own history: views of 30 days and purchases of a year (101, bought within 30 days, is excluded)
    assert {item for item, reason in reasons.items() if reason == "revisit"} == {200, 201, 202, 102}
    # strength: a purchase of the year counts 1, a view 0.5 ** (age / 7); scaled by the user's best
    # (101's purchase within 30 days: 1 + 6 * 0.5 ** (29 / 7), excluded from the list afterwards)
    best = 1 + 6 * 0.5 ** (29 / 7)
    assert mine.loc[102, "source_score"] == pytest.approx(1 / best)
    assert mine.loc[202, "source_score"] == pytest.approx(0.5 ** (10 / 7) / best)
    # partners of the whole history: 213 only through 202 (older than the week co_viewed looks at)
    assert reasons[213] == "item_knn"
    assert mine.loc[211, "sources"] == "co_viewed,item_knn"  # found by both; co_viewed has priority
    assert reasons[211] == "co_viewed:201"
    assert set(both.pairs["user_id"]) <= set(both.users["user_id"])  # 60's old purchase makes no candidate
    pairs = both.pairs.set_index(["user_id", "item_id"])
    assert pairs.loc[(1, 213), "ui_src_item_knn"] == 1
    assert pairs.loc[(1, 213), "ui_src_co_viewed"] == 0
    assert pairs.loc[(1, 213), "ui_knn_score"] > 0
    assert pairs.loc[(1, 200), "ui_days_since_event"] == 1
    assert pairs.loc[(1, 300), "ui_days_since_event"] == ranking_rows.NO_RECENT_EVENT_DAYS


def test_candidates_for_some_users_equal_those_of_the_full_build(hand: Lake, built: Frames) -> None:
    """Training builds candidates for the users with labels only; they must be the rows recommend scores."""
    only = hand.spark.createDataFrame([(1,), (20,)], "user_id BIGINT")
    with engine.scratch(hand.spark, hand.settings) as scratch:
        some = collect(
            candidates.build(hand.spark, hand.settings, DAY, CONFIG, scratch=scratch, only_users=only)
        )
    for name in ("users", "pairs"):
        full = getattr(built, name)
        expected = full[full["user_id"].isin([1, 20])].reset_index(drop=True)
        pd.testing.assert_frame_equal(getattr(some, name), expected, obj=name)
    assert some.cold_start.empty


def test_merge_keeps_one_row_per_pair_with_the_priority_source(spark: SparkSession) -> None:
    found = spark.createDataFrame(
        [
            (1, 10, "popular", "popular", 0.9),
            (1, 10, "co_viewed", "co_viewed:7", 0.1),
            (1, 10, "top_category", "top_category:3", 0.5),
            (1, 11, "trending", "trending:3", 0.2),
            (1, 11, "top_category", "top_category:3", 0.1),
            (1, 12, "popular", "popular", 1.0),
            (1, 13, "co_viewed", "co_viewed:8", 0.3),
            (1, 13, "co_viewed", "co_viewed:9", 0.6),
            (2, 10, "popular", "popular", 0.9),
        ],
        "user_id BIGINT, item_id BIGINT, source STRING, reason STRING, source_score DOUBLE",
    )
    excluded = spark.createDataFrame([(2, 10)], "user_id BIGINT, item_id BIGINT")
    merged = candidates.merge(found, excluded, max_candidates=3).toPandas()
    got = {(r.user_id, r.item_id): (r.reason, r.source_score) for r in merged.itertuples()}
    # priority first (co_viewed 13 by score, then 10), then top_category 11; popular 12 is cut
    assert got == {
        (1, 13): ("co_viewed:9", 0.6),
        (1, 10): ("co_viewed:7", 0.1),
        (1, 11): ("top_category:3", 0.1),
    }


def test_cap_keeps_the_best_by_priority_then_score(hand: Lake) -> None:
    capped = hand.build(replace(CONFIG, max_candidates=4))
    assert capped.reasons(1) == {
        210: "co_viewed:200",
        211: "co_viewed:201",
        212: "co_viewed:201",
        200: "top_category:2",
    }
    assert capped.pairs.groupby("user_id").size().max() == 4
    assert not capped.pairs.duplicated(["user_id", "item_id"]).any()


def test_exclude_bought_off_keeps_recent_purchases(hand: Lake, built: Frames) -> None:
    kept = hand.build(replace(CONFIG, exclude_bought=False))
    assert kept.reasons(1) == {**built.reasons(1), 101: "top_category:1"}
    assert (1, 101) not in set(zip(built.pairs["user_id"], built.pairs["item_id"], strict=True))


def test_a_source_with_limit_zero_is_skipped(hand: Lake) -> None:
    only = hand.build(replace(CONFIG, co_viewed=0, top_category=0, trending=0, popular=2))
    assert set(only.pairs["reason"]) == {"popular"}
    assert only.built.per_source == {"popular": len(only.pairs)}
    with pytest.raises(ValueError, match="every source has limit 0"):
        hand.build(replace(CONFIG, co_viewed=0, top_category=0, trending=0, popular=0))


def test_only_catalogue_items_valid_on_the_day_are_candidates(built: Frames, hand: Lake) -> None:
    item_daily = hand.spark.table("features.item_daily").where(f"as_of_date = DATE'{DAY}'").toPandas()
    assert {297, 299} <= set(item_daily["item_id"])  # the most viewed items of the week, with partners
    for frame in (built.pairs, built.cold_start, built.items):
        assert not {297, 299} & set(frame["item_id"])


def test_cold_start_users_get_the_labelled_popularity_list(built: Frames) -> None:
    cold = built.cold_start
    assert set(cold["user_id"]) == {50, 52}  # 51 signs up after D; user 1 and the shoppers are active
    assert not {50, 51, 52} & set(built.users["user_id"]) and not {50, 51, 52} & set(built.pairs["user_id"])
    for _, rows in cold.groupby("user_id"):
        got = {r.item_id: (r.source, r.reason, r.source_score) for r in rows.itertuples()}
        assert got == {
            300: ("popular", "cold_start:popular", 1.0),
            100: ("popular", "cold_start:popular", pytest.approx(35 / 42)),  # views in 7 days over the top's
            110: ("trending", "cold_start:trending", pytest.approx(12 / 42)),
        }
    assert built.built.cold_start_users == 2 and built.built.cold_start_rows == len(cold)


def test_counts_and_one_row_per_user_and_item(built: Frames, hand: Lake) -> None:
    user_daily = hand.spark.table("features.user_daily").where(f"as_of_date = DATE'{DAY}'").toPandas()
    assert sorted(built.users["user_id"]) == sorted(user_daily["user_id"])
    assert set(built.pairs["user_id"]) <= set(built.users["user_id"])
    assert sorted(built.items["item_id"]) == sorted(set(built.pairs["item_id"]))
    assert built.built.active_users == len(built.users) and built.built.candidates == len(built.pairs)
    assert built.built.per_source == built.pairs.groupby("source").size().to_dict()
    assert list(built.built.per_source) == [s for s in candidates.SOURCES if s in built.built.per_source]
    assert list(built.users.columns) == ["user_id", *ranking_rows.USER_FEATURES]
    assert list(built.items.columns) == ["item_id", *ranking_rows.ITEM_FEATURES]
    assert list(built.pairs.columns) == [*candidates.PAIR_KEY_COLUMNS, *ranking_rows.PAIR_FEATURES]
    assert sorted(
        [*ranking_rows.USER_FEATURES, *ranking_rows.ITEM_FEATURES, *ranking_rows.PAIR_FEATURES]
    ) == sorted(FEATURE_COLUMNS)
    assert built.built.summary().startswith(f"candidates {DAY}: {len(built.users)} active users, ")


def test_events_after_the_day_change_nothing(
    hand: Lake, built: Frames, sail_url: str, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-candidates-pit")
    try:
        write_hand_lake(spark, settings, [e for e in hand_events() if e[8] <= DAY])
        with engine.scratch(spark, settings) as scratch:
            without = Lake(spark, settings, scratch).build()
    finally:
        spark.stop()
    for name in ("users", "items", "pairs", "cold_start"):
        pd.testing.assert_frame_equal(getattr(without, name), getattr(built, name), obj=name)
    assert built.reasons(1)[100] == "top_category:1"  # bought on D + 1: still recommended on D


def test_missing_input_fails_naming_table_and_day(hand: Lake) -> None:
    later = DAY + timedelta(days=2)
    with pytest.raises(
        ValueError, match=rf"^clean\.events has no rows for {later} .*: run shoprec clean --date {later}$"
    ):
        hand.build(day=later)
    earlier = DAY - timedelta(days=1)
    with pytest.raises(
        ValueError,
        match=rf"^features\.user_daily has no rows for {earlier} .*: run shoprec features --date {earlier}$",
    ):
        hand.build(day=DAY - timedelta(days=1))  # events exist on D - 1, features only as of D


@pytest.mark.parametrize("field", ["co_viewed", "max_candidates", "trending_min_events_7d"])
def test_config_rejects_negative_limits(field: str) -> None:
    with pytest.raises(ValueError, match=rf"^CandidateConfig\.{field} must be >= "):
        CandidateConfig(**{field: -1})


# --- the tiny shop ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shop(
    feature_lake: tuple[SparkSession, Settings], sail_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lake]:
    """A private copy of the shared tiny shop (features as of FEATURES_AS_OF and the day before)."""
    settings = copy_lake(feature_lake[1], tmp_path_factory.mktemp("candidates_shop") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-candidates-shop")
    with engine.scratch(spark, settings) as scratch:
        yield Lake(spark, settings, scratch)
    spark.stop()


def test_shop_candidates_with_every_source(shop: Lake) -> None:
    frames = shop.build(CandidateConfig(), day=FEATURES_AS_OF)
    assert frames.built.per_source.keys() >= {"revisit", "co_viewed", "item_knn", "top_category", "popular"}
    assert frames.built.cold_start_users > 0
    assert frames.pairs.groupby("user_id").size().max() <= CandidateConfig().max_candidates
    assert not frames.pairs.duplicated(["user_id", "item_id"]).any()
    flags = frames.pairs[[f"ui_src_{source}" for source in candidates.SOURCES]]
    assert (flags.sum(axis=1) >= 1).all()  # every candidate was proposed by some source
