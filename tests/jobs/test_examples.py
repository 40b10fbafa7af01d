"""training.examples on real Sail/Delta: the day before's candidates, labelled, with point-in-time features.

Two lakes: a hand-made one (`hand`, a few users whose every expected value is written out below)
and a copy of the shared tiny shop (`shop`, checked against the feature tables with pandas).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from jobs import candidates, examples, features, ranking_rows, user_buckets
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec_cli.common import UserFacingError
from shoprec_cli.examples import examples as examples_command
from shoprec_quality import validation
from tests.conftest import FEATURES_AS_OF, copy_lake

EXAMPLES = catalog.TRAINING_EXAMPLES
FEATURE_COLUMNS = [
    c for c in EXAMPLES.column_names if c not in ("user_id", "item_id", "label", "label_event", "weight")
]
USER_COLUMNS = [c for c in FEATURE_COLUMNS if c.startswith(("u_", "top_category_"))] + ["recent_items"]

# --- the hand-made lake -------------------------------------------------------------------------

LABEL = date(2026, 3, 10)
AS_OF = LABEL - timedelta(days=1)  # features_date
CATEGORY = {**{i: 1 + i % 4 for i in range(100, 130)}, **{i: 7 for i in range(139, 152)}}


def _event(user: int, item: int, kind: str, day: date, hour: int) -> tuple:
    ts = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return (
        f"{user}-{item}-{kind}-{day}-{hour}",
        user,
        item,
        CATEGORY.get(item),
        kind,
        ts,
        f"s{user}-{day}",
        10.0,
        day,
    )


def hand_events() -> list[tuple]:
    rows = []
    for user in range(10, 30):  # background shoppers: popularity, categories
        for back in range(4):
            rows.append(_event(user, 100 + (user + back) % 30, "view", AS_OF - timedelta(days=back), 9))
            if user % 3 == 0:
                rows.append(_event(user, 100 + (user + back) % 30, "click", AS_OF - timedelta(days=back), 10))
    # user 1 views 140..151 over the week up to AS_OF, one more item a day before that week and 145 again last
    rows.append(_event(1, 139, "view", AS_OF - timedelta(days=7), 8))
    for i in range(12):
        rows.append(_event(1, 140 + i, "view", AS_OF - timedelta(days=6 - i // 2), 8 + i))
    rows.append(_event(1, 145, "view", AS_OF, 23))
    # the label day
    for item, kinds in {145: ("click", "cart"), 146: ("fav", "click"), 203: ("view", "cart", "purchase"),
                        204: ("view",), 205: ("click",)}.items():  # fmt: skip
        rows += [_event(1, item, kind, LABEL, 9 + n) for n, kind in enumerate(kinds)]
    rows.append(_event(2, 203, "purchase", LABEL, 12))  # a brand-new user buys
    rows.append(_event(11, 100, "view", LABEL, 9))  # views only: no examples for user 11
    # no events after LABEL: the missing-input test relies on it
    return rows


def hand_items() -> list[tuple]:
    first = AS_OF - timedelta(days=40)
    rows = [(i, CATEGORY[i], 50 + i, 20.0, first, first, first, None, True) for i in CATEGORY]
    rows.append((203, 3, 33, 12.5, AS_OF - timedelta(days=3), first, first, None, True))  # no events before
    rows.append(
        (205, 5, 55, 8.0, LABEL, LABEL, LABEL, None, True)
    )  # listed on the label day: unknown on AS_OF
    return rows


@dataclass(frozen=True)
class Built:
    spark: SparkSession
    settings: Settings
    stats: examples.ExamplesStats
    rows: pd.DataFrame  # the label day's partition
    seconds: float


@pytest.fixture(scope="module")
def hand(sail_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The hand-made lake: clean tables written directly, features as of AS_OF, examples for LABEL."""
    settings = Settings(home=tmp_path_factory.mktemp("training_hand") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-training")
    events = spark.createDataFrame(hand_events(), engine.spark_schema(catalog.CLEAN_EVENTS))
    engine.replace_range(events, catalog.CLEAN_EVENTS, settings, AS_OF - timedelta(days=30), LABEL)
    items = spark.createDataFrame(hand_items(), engine.spark_schema(catalog.CLEAN_ITEMS))
    engine.overwrite(items, catalog.CLEAN_ITEMS, settings)
    features.run(spark, settings, AS_OF)
    began = datetime.now()
    stats = examples.run(spark, settings, LABEL)
    seconds = (datetime.now() - began).total_seconds()
    yield Built(spark, settings, stats, partition(spark, LABEL), seconds)
    spark.stop()


def partition(spark: SparkSession, day: date) -> pd.DataFrame:
    frame = spark.table(EXAMPLES.name).where(engine.partition_predicate(EXAMPLES, {"label_date": day}))
    return frame.toPandas().sort_values(["user_id", "item_id"]).reset_index(drop=True)


def row(frame: pd.DataFrame, user: int, item: int) -> pd.Series:
    found = frame[(frame["user_id"] == user) & (frame["item_id"] == item)]
    assert len(found) == 1, f"({user}, {item}): {len(found)} rows"
    return found.iloc[0]


def test_positives_are_the_candidates_interacted_with_and_their_strongest_event(hand: Built) -> None:
    positives = hand.rows[hand.rows["label"] == 1]
    got = {(r.user_id, r.item_id): (r.label_event, r.weight) for r in positives.itertuples()}
    # (1, 203) and (1, 205) were no candidates on AS_OF (no features yet; not listed yet): left out;
    # (1, 204) was only viewed; user 2 is brand new (cold start, no candidates); user 11 only viewed
    assert got == {(1, 145): ("cart", 2.0), (1, 146): ("fav", 2.0)}
    assert set(hand.rows["user_id"]) == {1}
    assert (hand.rows["features_date"] == AS_OF).all()
    assert (hand.rows["label_date"] == LABEL).all()


def test_every_row_is_a_candidate_recommend_would_have_scored(hand: Built) -> None:
    with engine.scratch(hand.spark, hand.settings) as scratch:
        found = candidates.build(hand.spark, hand.settings, AS_OF, scratch=scratch).pairs.toPandas()
    served = found.set_index(["user_id", "item_id"])
    rows = hand.rows.set_index(["user_id", "item_id"])
    assert rows.index.isin(served.index).all()
    pairs = [c for c in ranking_rows.PAIR_FEATURES]
    pd.testing.assert_frame_equal(
        rows[pairs].sort_index(), served.loc[rows.index, pairs].sort_index(), check_dtype=False
    )


def test_negatives_are_other_candidates_capped_per_positive(hand: Built) -> None:
    negatives = hand.rows[hand.rows["label"] == 0]
    assert set(negatives["label_event"]) == {"negative"}
    assert set(negatives["weight"]) == {1.0}
    assert not hand.rows.duplicated(["user_id", "item_id"]).any()
    assert len(negatives) == 2 * examples.DEFAULT_NEGATIVES  # user 1 has more candidates than that
    assert hand.stats.positives == 2
    assert hand.stats.negatives == len(negatives)
    assert hand.stats.rows == {LABEL: len(hand.rows)}


def test_pair_features_of_the_users_history(hand: Built) -> None:
    user_1 = hand.rows[hand.rows["user_id"] == 1]
    # 145 was seen again last; 139 is older than the week; 140 and 141 fall off the cap of ten
    assert set(user_1["recent_items"]) == {"145 151 150 149 148 147 146 144 143 142"}
    cart, fav = row(hand.rows, 1, 145), row(hand.rows, 1, 146)
    assert cart["ui_seen_7d"] == 2  # the label day's click and cart do not count
    assert fav["ui_seen_7d"] == 1
    assert fav["ui_cooc_score"] == pytest.approx(1.0)  # 147 shared its only session
    assert cart["ui_cooc_score"] == pytest.approx(1 / math.sqrt(2))  # with 144, 1 of 2
    assert cart["category_id"] == 7
    assert cart["uc_category_rank"] == 1
    assert (cart["ui_days_since_event"], fav["ui_days_since_event"]) == (0, 3)
    assert cart["ui_events_30d"] == pytest.approx(1.0 + 0.5 ** (4 / 7))  # two views, today and 4 days ago
    assert cart["ui_purchases_365d"] == 0
    assert cart["ui_days_since_purchase"] == ranking_rows.NO_PURCHASE_DAYS
    assert cart["ui_src_revisit"] == 1  # the user's own history
    assert cart["ui_source_score"] == pytest.approx(1.0)  # the user's strongest item


def test_brand_new_items_get_the_documented_fills(hand: Built) -> None:
    keys = hand.spark.createDataFrame(
        [(1, 203, AS_OF), (1, 205, AS_OF)], "user_id BIGINT, item_id BIGINT, features_date DATE"
    )
    item_daily = hand.spark.table("features.item_daily").where(f"as_of_date = DATE'{AS_OF}'")
    got = ranking_rows.with_item_features(keys, item_daily=item_daily, items=hand.spark.table("clean.items"))
    rows = got.toPandas().set_index("item_id")
    daily = item_daily.toPandas()
    prior_click = min(1.0, daily["clicks_30d"].sum() / daily["views_30d"].sum())
    prior_buy = min(1.0, daily["purchases_30d"].sum() / daily["views_30d"].sum())
    for item, (category, brand, price, listed) in {203: (3, 33, 12.5, 3), 205: (0, 0, 0.0, 0)}.items():
        found = rows.loc[item]  # 203 from the catalogue as of AS_OF; 205 only listed on LABEL
        assert (found["category_id"], found["brand_id"], found["i_price"], found["i_days_since_listed"]) == (
            category, brand, price, listed,
        )  # fmt: skip
        assert found[["i_views_7d", "i_clicks_7d", "i_purchases_7d", "i_users_7d"]].eq(0).all()
        assert found["i_click_rate_30d"] == pytest.approx(prior_click)
        assert found["i_conversion_rate_30d"] == pytest.approx(prior_buy)
        assert found["i_trend_7d_vs_30d"] == 1.0


def test_missing_input_fails_naming_table_and_day(hand: Built) -> None:
    with pytest.raises(
        ValueError, match=r"^clean\.events has no rows for 2026-03-11: run shoprec clean --date 2026-03-11$"
    ):
        examples.run(hand.spark, hand.settings, LABEL + timedelta(days=1))
    with pytest.raises(
        ValueError,
        match=r"^features\.user_daily has no rows for 2026-03-08 .*: run shoprec features --date 2026-03-08$",
    ):
        examples.run(
            hand.spark, hand.settings, AS_OF
        )  # clean.events exist on AS_OF, features the day before not


def test_examples_command_reports_one_line(
    hand: Built, sail_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SHOPREC_HOME", str(hand.settings.home))
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", sail_url)
    examples_command(day=LABEL.isoformat())  # the defaults rebuild the same partition
    total = 2 + 2 * examples.DEFAULT_NEGATIVES
    assert capsys.readouterr().out == (
        f"examples 2026-03-10..2026-03-10: {total} rows (2 positives, {total - 2} negatives); "
        f"per label day: 2026-03-10 {total} (1 user bucket)\n"
    )
    with pytest.raises(UserFacingError, match=r"^features\.user_daily has no rows for 2026-03-08 "):
        examples_command(start=AS_OF.isoformat(), end=LABEL.isoformat())


# --- the tiny shop ------------------------------------------------------------------------------

FIRST, LAST = FEATURES_AS_OF, FEATURES_AS_OF + timedelta(days=1)  # label days over the shared features


@pytest.fixture(scope="module")
def shop(
    feature_lake: tuple[SparkSession, Settings], sail_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Built]:
    """A copy of the shared tiny shop with examples for two label days (features as of the day before each)."""
    settings = copy_lake(feature_lake[1], tmp_path_factory.mktemp("training_shop") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-training-shop")
    began = datetime.now()
    stats = examples.run(spark, settings, FIRST, LAST)
    seconds = (datetime.now() - began).total_seconds()
    yield Built(spark, settings, stats, partition(spark, LAST), seconds)
    spark.stop()


def test_shop_positives_and_ratio(shop: Built) -> None:
    events = shop.spark.table("clean.events").where(f"event_date = DATE'{LAST}'").toPandas()
    interactions = events[events["event_type"] != "view"]
    positives = shop.rows[shop.rows["label"] == 1]
    found = set(zip(positives["user_id"], positives["item_id"], strict=True))
    assert found <= set(zip(interactions["user_id"], interactions["item_id"], strict=True))
    assert len(found) > 0.2 * len(interactions[["user_id", "item_id"]].drop_duplicates())  # candidate recall
    negatives = shop.rows[shop.rows["label"] == 0]
    touched = set(zip(interactions["user_id"], interactions["item_id"], strict=True))
    assert not touched & set(zip(negatives["user_id"], negatives["item_id"], strict=True))
    assert len(negatives) <= examples.DEFAULT_NEGATIVES * len(positives)
    assert len(negatives) > len(positives)
    assert shop.stats.rows[LAST] == len(shop.rows)
    assert sum(shop.stats.rows.values()) == shop.stats.positives + shop.stats.negatives


def test_shop_features_are_those_of_the_day_before(shop: Built) -> None:
    def as_of(table: str) -> pd.DataFrame:
        return shop.spark.table(table).where(f"as_of_date = DATE'{LAST - timedelta(days=1)}'").toPandas()

    users = as_of("features.user_daily").set_index("user_id")
    items = as_of("features.item_daily").set_index("item_id")
    rows = shop.rows.set_index(["user_id", "item_id"])
    known_users = rows[rows.index.get_level_values(0).isin(users.index)]
    for column in ("views_7d", "clicks_7d", "purchases_30d", "days_since_last_event", "click_rate_30d"):
        expected = users.loc[known_users.index.get_level_values(0), column].to_numpy()
        assert (known_users[f"u_{column}"].to_numpy() == expected).all(), column
    known_items = rows[rows.index.get_level_values(1).isin(items.index)]
    for column in ("views_7d", "users_7d", "click_rate_30d", "trend_7d_vs_30d", "category_id", "brand_id"):
        expected = items.loc[known_items.index.get_level_values(1), column].fillna(0).to_numpy()
        name = column if column.endswith("_id") else f"i_{column}"
        assert list(known_items[name]) == pytest.approx(list(expected)), column
    assert len(known_users) > 0.5 * len(rows)
    assert len(known_items) > 0.9 * len(rows)


def test_events_on_or_after_the_label_day_change_no_feature(
    shop: Built, sail_url: str, tmp_path: Path
) -> None:
    settings = copy_lake(shop.settings, tmp_path / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-training-shop")
    try:
        events = (
            spark.table("clean.events").where(f"event_date >= DATE'{LAST - timedelta(days=7)}'").toPandas()
        )
        negatives = shop.rows[shop.rows["label"] == 0]
        user = int(negatives["user_id"].iloc[0])
        mine = negatives[negatives["user_id"] == user]["item_id"]
        fresh = int(sorted(set(mine) - set(events[events["user_id"] == user]["item_id"]))[0])
        extra = [_event(user, fresh, kind, LAST, 23) for kind in ("view", "click")]
        extra += [_event(user, fresh, "purchase", LAST + timedelta(days=1), 1)]
        engine.append(
            spark.createDataFrame(extra, engine.spark_schema(catalog.CLEAN_EVENTS)),
            catalog.CLEAN_EVENTS,
            settings,
        )
        examples.run(spark, settings, LAST)
        after = partition(spark, LAST).set_index(["user_id", "item_id"])
    finally:
        spark.stop()
    before = shop.rows.set_index(["user_id", "item_id"])
    assert after.loc[(user, fresh), "label_event"] == "click"  # the new click is a label, not a feature:
    assert after.loc[(user, fresh), "ui_seen_7d"] == 0
    assert (after.loc[user, "recent_items"] == before.loc[user, "recent_items"].iloc[0]).all()
    common = before.index.intersection(after.index)
    assert len(common) > 0.5 * len(before)  # the user's extra positive may change which negatives are kept
    pd.testing.assert_frame_equal(after.loc[common, FEATURE_COLUMNS], before.loc[common, FEATURE_COLUMNS])


def test_rerun_and_single_day_write_the_same_rows_in_the_same_order(shop: Built) -> None:
    def files(day: date) -> list[pd.DataFrame]:
        table = DeltaTable(str(EXAMPLES.location(shop.settings.lake)))
        uris = sorted(u for u in table.file_uris() if f"label_date={day}" in u)
        return [pq.read_table(u).to_pandas()[["user_id", "item_id", "label"]] for u in uris]

    before = files(LAST)
    examples.run(shop.spark, shop.settings, FIRST, LAST)
    rerun = files(LAST)
    examples.run(shop.spark, shop.settings, LAST)
    single = files(LAST)
    for other in (rerun, single):
        assert len(other) == len(before)
        for got, expected in zip(other, before, strict=True):
            pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(partition(shop.spark, LAST), shop.rows)


def test_rows_do_not_depend_on_the_user_buckets(shop: Built) -> None:
    def files(day: date) -> list[pd.DataFrame]:
        table = DeltaTable(str(EXAMPLES.location(shop.settings.lake)))
        uris = sorted(u for u in table.file_uris() if f"label_date={day}" in u)
        return [pq.read_table(u).to_pandas() for u in uris]

    def built(settings: Settings, buckets: int | None) -> tuple[examples.ExamplesStats, list[pd.DataFrame]]:
        stats = examples.run(shop.spark, settings, FIRST, LAST, buckets=buckets)
        return stats, [frame for day in (FIRST, LAST) for frame in files(day)]

    one, expected = built(shop.settings, 1)
    assert one.buckets == {FIRST: 1, LAST: 1}
    events = shop.spark.table("clean.events").where(f"event_date = DATE'{LAST}'").toPandas()
    labelled = events[events["event_type"].isin(list(examples.POSITIVE_EVENTS))]["user_id"].nunique()
    # SHOPREC_MEMORY_GB just what the label day's users need: more than one bucket (BUCKET_MEMORY_SHARE)
    small = Settings(home=shop.settings.home, memory_gb=labelled * user_buckets.BYTES_PER_ACTIVE_USER / 2**30)
    sized = user_buckets.bucket_count(labelled, small.memory_bytes)
    assert sized > 1
    for settings, buckets in ((shop.settings, 3), (small, None)):
        stats, got = built(settings, buckets)
        assert stats.buckets[LAST] == (buckets or sized)
        assert (stats.rows, stats.positives, stats.negatives) == (one.rows, one.positives, one.negatives)
        assert len(got) == len(expected)
        for frame, want in zip(got, expected, strict=True):  # the same rows in the same order
            pd.testing.assert_frame_equal(frame, want)


def test_rows_are_written_in_the_seeded_shuffle_order(shop: Built) -> None:
    ordered = (
        shop.spark.table(EXAMPLES.name)
        .where(f"label_date = DATE'{LAST}'")
        .orderBy(*examples.write_order(examples.DEFAULT_SEED))
        .select("user_id", "item_id")
        .toPandas()
    )
    position = {pair: n for n, pair in enumerate(zip(ordered["user_id"], ordered["item_id"], strict=True))}
    table = DeltaTable(str(EXAMPLES.location(shop.settings.lake)))
    for uri in (u for u in table.file_uris() if f"label_date={LAST}" in u):
        in_file = pq.read_table(uri, columns=["user_id", "item_id"]).to_pandas()
        positions = [position[p] for p in zip(in_file["user_id"], in_file["item_id"], strict=True)]
        assert positions == sorted(positions)
        runs = (in_file["user_id"] != in_file["user_id"].shift()).sum()  # a user's rows are spread out
        assert runs > 0.6 * len(in_file)


def test_validation_suite_passes_on_a_built_partition(shop: Built) -> None:
    report = validation.validate(shop.spark, shop.settings, EXAMPLES.name, LAST)
    assert not report.blocking_failed, [r.describe() for r in report.blocking_failures]
    assert not report.warnings, [r.describe() for r in report.warnings]
