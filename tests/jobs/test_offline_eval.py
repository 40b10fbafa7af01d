"""Offline evaluation on real Sail/Delta: a hand-made lake whose every expected list and metric is written out.

The lake (run_date D, eval_date E = D + 1, K = 4): catalogue items 10..49 (category = tens digit)
plus 50 (category 5), item 99 listed on E only; popularity as of D ranks 30, 13, 20, 21, 11, 40, 12.

| user | published (rank 1..5)      | targets on E            | bought D-29..D | recent D-6..D |
|------|----------------------------|-------------------------|----------------|---------------|
| 1    | 10 11 12 13 14             | 11 13 14 (10 viewed)    | 30, 28         | 10            |
| 2    | 20 21 22 23                | 20 (21 viewed)          | -              | -             |
| 3    | 10 11 12 13 (cold start)   | 30                      | -              | -             |
| 4    | 40 41 42 43                | 40..45                  | 13             | 40, 41        |
| 5    | 10 11 12 13                | views only: not scored  | -              | -             |
| 6    | none: not scored           | 30                      | -              | -             |
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import DataFrame, SparkSession
from typer.testing import CliRunner

from jobs import offline_eval
from shoprec import catalog
from shoprec import spark as engine
from shoprec.cli.common import UserFacingError
from shoprec.cli.evaluate import evaluate as evaluate_command
from shoprec.config import Settings

D = date(2026, 3, 10)
E = D + timedelta(days=1)
K = 4
METRICS = catalog.OPS_EVAL_METRICS
ITEMS = [*range(10, 50), 50]
CATEGORY = {**{i: i // 10 for i in range(10, 50)}, 50: 5, 99: 1}
POPULAR = {30: (5, 50), 13: (4, 40), 20: (3, 60), 21: (3, 30), 11: (0, 100), 40: (0, 100), 12: (0, 10)}
PUBLISHED = {1: [10, 11, 12, 13, 14], 2: [20, 21, 22, 23], 3: [10, 11, 12, 13], 4: [40, 41, 42, 43], 5: [10, 11, 12, 13]}  # fmt: skip
COOCCURRENCE = [(10, 16, 0.9), (10, 30, 0.95), (17, 10, 0.5), (15, 18, 0.99), (40, 44, 0.3), (41, 44, 0.6), (40, 45, 0.5)]  # fmt: skip


def _event(user: int, item: int, kind: str, day: date, hour: int = 9) -> tuple:
    ts = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return (f"{user}-{item}-{kind}-{day}", user, item, CATEGORY.get(item), kind, ts, f"s{user}", 5.0, day)


def hand_events() -> list[tuple]:
    rows = [_event(1, 11, "cart", E), _event(1, 13, "purchase", E), _event(1, 14, "cart", E)]
    rows += [_event(1, 10, "view", E), _event(2, 20, "cart", E, 10), _event(2, 20, "purchase", E, 11)]
    rows += [
        _event(2, 21, "view", E),
        _event(3, 30, "cart", E),
        _event(5, 10, "view", E),
        _event(6, 30, "cart", E),
    ]
    rows += [_event(4, item, "cart", E) for item in range(40, 46)]
    rows += [
        _event(1, 30, "purchase", D - timedelta(days=10)),
        _event(1, 28, "purchase", D - timedelta(days=29)),
    ]
    rows += [_event(1, 12, "purchase", D - timedelta(days=30)), _event(4, 13, "purchase", D)]  # 12: too old
    rows += [_event(1, 10, "view", D - timedelta(days=2)), _event(1, 15, "view", D - timedelta(days=8))]
    rows += [_event(4, 40, "view", D - timedelta(days=1)), _event(4, 41, "view", D - timedelta(days=1), 10)]
    return rows


def hand_items() -> list[tuple]:
    first = D - timedelta(days=40)
    rows = [(i, CATEGORY[i], 1, 5.0, first, first, first, None, True) for i in ITEMS]
    return [*rows, (99, 1, 1, 5.0, E, E, E, None, True)]  # listed the day after D: not in D's catalogue


def item_daily_row(item: int, purchases: int, views: int) -> tuple:
    values = dict.fromkeys(catalog.ITEM_DAILY.column_names)
    values |= {c: 0 for c in catalog.ITEM_DAILY.column_names if c.endswith(("_1d", "_7d", "_30d"))}
    values |= {"item_id": item, "purchases_7d": purchases, "views_7d": views, "as_of_date": D}
    return tuple(values.values())


def reco_rows(run_date: date) -> list[tuple]:
    generated = datetime(2026, 3, 11, 1, tzinfo=UTC)
    return [
        (user, rank, item, 1.0 / rank, "popularity" if user == 3 else "7", "popular", generated, run_date)
        for user, items in PUBLISHED.items()
        for rank, item in enumerate(items, start=1)
    ]


@dataclass(frozen=True)
class Lake:
    spark: SparkSession
    settings: Settings
    stats: offline_eval.EvalStats


@pytest.fixture(scope="module")
def lake(sail_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    """The hand-made lake, evaluated once for D at K."""
    settings = Settings(home=tmp_path_factory.mktemp("offline_eval") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-tests-offline-eval")

    def frame(table: catalog.Table, rows: list[tuple]) -> DataFrame:
        return spark.createDataFrame(rows, engine.spark_schema(table))

    engine.replace_range(frame(catalog.CLEAN_EVENTS, hand_events()), catalog.CLEAN_EVENTS, settings, D - timedelta(days=30), E)  # fmt: skip
    engine.overwrite(frame(catalog.CLEAN_ITEMS, hand_items()), catalog.CLEAN_ITEMS, settings)
    daily = [item_daily_row(item, p, v) for item, (p, v) in POPULAR.items()]
    engine.replace_partition(
        frame(catalog.ITEM_DAILY, daily), catalog.ITEM_DAILY, settings, {"as_of_date": D}
    )
    pairs = [(a, b, 1, 0, s, 1, D) for a, b, s in COOCCURRENCE] + [
        (10, 19, 1, 0, 1.0, 1, D - timedelta(days=1))
    ]
    engine.replace_range(frame(catalog.ITEM_COOCCURRENCE, pairs), catalog.ITEM_COOCCURRENCE, settings, D - timedelta(days=1), D)  # fmt: skip
    recos = frame(catalog.RECO_USER_RECOMMENDATIONS, reco_rows(D) + reco_rows(E))  # E: its targets never land
    engine.replace_range(recos, catalog.RECO_USER_RECOMMENDATIONS, settings, D, E)
    stats = offline_eval.run(spark, settings, D, k=K)
    yield Lake(spark, settings, stats)
    spark.stop()


def by_method(stats: offline_eval.EvalStats) -> dict[str, offline_eval.MethodMetrics]:
    return {m.method: m for m in stats.methods}


def as_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    ordered = frame.sort_values(["user_id", "rank"])
    assert all(ordered.groupby("user_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))))
    return {int(u): [int(i) for i in g["item_id"]] for u, g in ordered.groupby("user_id")}


def discount(position: int) -> float:
    return 1.0 / math.log2(position + 1)


def idcg(n: int) -> float:
    return sum(discount(i) for i in range(1, n + 1))


# --- metric maths -------------------------------------------------------------------------------


def test_ranking_metrics_match_hand_computation() -> None:
    lists = pd.DataFrame(
        [(1, r, i) for r, i in enumerate([10, 11, 12, 13, 14], 1)]
        + [
            (2, 1, 20),
            (2, 2, 21),
            (3, 1, 10),
            (3, 3, 11),
        ],  # user 3: a gap in the ranks, still positions 1, 2
        columns=["user_id", "rank", "item_id"],
    )
    target = pd.DataFrame(
        [(1, 11), (1, 13), (1, 14), (2, 20), (3, 11), (4, 99)], columns=["user_id", "item_id"]
    )
    got = offline_eval.ranking_metrics(lists, target, k=4)
    # user 1: hits at 2 and 4 of 3 relevant (14 is 5th); user 2: hit at 1; user 3: hit at 2; user 4: no list
    recall = [2 / 3, 1.0, 1.0, 0.0]
    ndcg = [(discount(2) + discount(4)) / idcg(3), 1.0, discount(2), 0.0]
    average_precision = [(1 / 2 + 2 / 4) / 3, 1.0, 1 / 2, 0.0]
    assert got["recall"] == pytest.approx(np.mean(recall))
    assert got["ndcg"] == pytest.approx(np.mean(ndcg))
    assert got["map"] == pytest.approx(np.mean(average_precision))
    assert got["hit_rate"] == pytest.approx(3 / 4)


def test_ranking_metrics_cap_relevant_at_k_and_count_a_repeated_item_once() -> None:
    lists = pd.DataFrame([(1, 1, 5), (1, 2, 5), (1, 3, 6)], columns=["user_id", "rank", "item_id"])
    target = pd.DataFrame([(1, i) for i in range(1, 10)] + [(1, 5), (1, 6)], columns=["user_id", "item_id"])
    got = offline_eval.ranking_metrics(lists, target, k=2)
    assert got == pytest.approx({"recall": 1.0, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0})


def test_ranking_metrics_without_users_are_none() -> None:
    empty = pd.DataFrame(columns=["user_id", "item_id"], dtype="int64")
    lists = pd.DataFrame(columns=["user_id", "rank", "item_id"], dtype="int64")
    assert offline_eval.ranking_metrics(lists, empty, k=3) == dict.fromkeys(
        ("recall", "ndcg", "map", "hit_rate")
    )


def test_filled_lists_skip_kept_and_bought_items_even_for_heavy_buyers() -> None:
    kept = pd.DataFrame([(7, 1, 6)], columns=["user_id", "rank", "item_id"])
    bought = pd.DataFrame(
        [(7, i) for i in (1, 2, 3, 4, 5)] + [(9, 1), (9, 2), (9, 3)], columns=["user_id", "item_id"]
    )
    users = np.array([7, 8, 9])
    assert as_lists(offline_eval.filled_lists(kept, users, np.arange(1, 11), bought, k=3)) == {
        7: [6, 7, 8],  # 6 kept first, 1-5 bought
        8: [1, 2, 3],
        9: [4, 5, 6],
    }
    assert as_lists(offline_eval.filled_lists(kept, users, np.arange(1, 5), bought, k=3)) == {
        7: [6],  # the ranking runs out
        8: [1, 2, 3],
        9: [4],
    }


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["7"], "7"),
        (["popularity", "7"], "7"),
        (["8", "popularity", "7"], "7,8"),
        (["popularity"], "popularity"),
    ],
)
def test_published_model_version_ignores_cold_start_rows(versions: list[str], expected: str) -> None:
    assert offline_eval.published_model_version(versions) == expected


# --- the hand-made lake -------------------------------------------------------------------------


def test_only_users_recommended_and_with_a_target_are_evaluated(lake: Lake) -> None:
    inputs = offline_eval.load_inputs(lake.spark, lake.settings, D, K)
    assert list(inputs.users) == [1, 2, 3, 4]  # 5: views only on E; 6: no recommendations
    assert {m.users for m in lake.stats.methods} == {4}
    assert inputs.model_version == "7"  # user 3's cold-start rows do not count
    assert list(inputs.catalogue) == ITEMS  # 99 is listed on E


def test_published_metrics_are_exact(lake: Lake) -> None:
    published = by_method(lake.stats)["published"]
    recall = [2 / 3, 1.0, 0.0, 1.0]  # user 4 has 6 targets: capped at K
    ndcg = [(discount(2) + discount(4)) / idcg(3), 1.0, 0.0, 1.0]
    average_precision = [(1 / 2 + 2 / 4) / 3, 1.0, 0.0, 1.0]
    assert published.recall == pytest.approx(np.mean(recall))
    assert published.ndcg == pytest.approx(np.mean(ndcg))
    assert published.map == pytest.approx(np.mean(average_precision))
    assert published.hit_rate == pytest.approx(3 / 4)
    assert published.coverage == pytest.approx(12 / 41)  # 10-13, 20-23, 40-43 of 41 catalogue items
    interactions = {item: p + v for item, (p, v) in POPULAR.items()}
    total = sum(interactions.values()) + len(ITEMS)
    listed = [item for user in (1, 2, 3, 4) for item in PUBLISHED[user][:K]]
    expected = np.mean([-math.log2((interactions.get(i, 0) + 1) / total) for i in listed])
    assert published.novelty == pytest.approx(expected)
    assert published.model_version == "7"


def test_baselines_rank_popularity_and_cooccurrence_without_bought_items(lake: Lake) -> None:
    inputs = offline_eval.load_inputs(lake.spark, lake.settings, D, K)
    lists = {name: as_lists(frame) for name, frame in offline_eval.method_lists(inputs, K).items()}
    assert list(lists) == ["published", "popularity", "cooccurrence"]
    assert lists["popularity"] == {
        1: [13, 20, 21, 11],  # 30 and 28 bought in the 30 days (12 longer ago: kept, not reached)
        2: [30, 13, 20, 21],
        3: [30, 13, 20, 21],
        4: [30, 20, 21, 11],  # 13 bought on D
    }
    assert lists["cooccurrence"] == {
        1: [
            16,
            13,
            20,
            21,
        ],  # partners of 10 (30 bought; 17 has 10 as its partner, not the reverse), then popularity
        2: [30, 13, 20, 21],  # no recent items: popularity only
        3: [30, 13, 20, 21],
        4: [44, 45, 30, 20],  # 44's best anchor is 41 (0.6 > 0.5 for 45)
    }
    metrics = by_method(lake.stats)
    assert metrics["popularity"].recall == pytest.approx(np.mean([2 / 3, 1.0, 1.0, 0.0]))
    assert metrics["popularity"].ndcg == pytest.approx(
        np.mean([(discount(1) + discount(4)) / idcg(3), discount(3), 1.0, 0.0])
    )
    assert metrics["cooccurrence"].recall == pytest.approx(np.mean([1 / 3, 1.0, 1.0, 2 / 4]))
    assert metrics["cooccurrence"].hit_rate == pytest.approx(1.0)
    assert metrics["popularity"].coverage == pytest.approx(5 / 41)
    assert metrics["popularity"].model_version is None


def test_planted_ceiling_needs_the_truth_files(lake: Lake, tmp_path: Path) -> None:
    assert [m.method for m in lake.stats.methods] == ["published", "popularity", "cooccurrence"]
    settings = Settings(home=tmp_path / "home", lake_dir=lake.settings.lake)  # same lake, its own truth
    write_truth(settings.demo_truth)
    inputs = offline_eval.load_inputs(lake.spark, settings, D, 3)
    planted = offline_eval.method_lists(inputs, 3, offline_eval.read_truth(settings.demo_truth))[
        "planted_ceiling"
    ]
    assert as_lists(planted) == {
        1: [29, 27, 26],  # preferences valid on E only; 28 bought
        2: [50, 30, 13],  # category 5 holds one item: topped up by popularity
        3: [
            39,
            38,
            19,
        ],  # 19's share is 10/65 (item 99 counts in category 1), below 39's 10/55, above 37's 8/55
        4: [49, 48, 47],
    }
    stats = offline_eval.run(lake.spark, settings, D, k=3)
    assert [m.method for m in stats.methods][-1] == "planted_ceiling"
    assert by_method(stats)["planted_ceiling"].users == 4


def write_truth(folder: Path) -> None:
    folder.mkdir(parents=True)
    before, forever = D - timedelta(days=20), None
    preferences = [
        (1, 1, 0.6, before, E),  # ended before E
        (1, 2, 0.7, E, forever),
        (1, 1, 0.3, E, forever),
        (2, 5, 1.0, before, forever),
        (3, 3, 0.5, before, forever),
        (3, 1, 0.5, before, forever),
        (4, 4, 1.0, before, forever),
    ]
    names = ["user_id", "category_id", "weight", "valid_from", "valid_to"]
    pq.write_table(pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in preferences]), folder / "preferences.parquet")  # fmt: skip
    items = [
        {"item_id": i, "category_id": CATEGORY[i], "brand_id": 1, "popularity": float(i % 10 + 1),
         "listed_date": D - timedelta(days=40) if i != 99 else E}
        for i in [*ITEMS, 99]
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(items), folder / "items.parquet")


def test_rerun_replaces_the_rows_of_the_run_date_and_k(lake: Lake) -> None:
    offline_eval.run(lake.spark, lake.settings, D, k=2)

    def rows() -> pd.DataFrame:
        frame = engine.read(lake.spark, METRICS, lake.settings).toPandas()
        return (
            frame.drop(columns="evaluated_at").sort_values(["run_date", "k", "method"]).reset_index(drop=True)
        )

    before = rows()
    offline_eval.run(lake.spark, lake.settings, D, k=K)
    after = rows()
    pd.testing.assert_frame_equal(before, after)
    assert len(after[(after["run_date"] == D) & (after["k"] == K)]) == 3
    assert len(after[(after["run_date"] == D) & (after["k"] == 2)]) == 3  # another k: kept
    assert set(after["eval_date"]) == {E} and set(after["target"]) == {"purchase+cart"}
    published = after[(after["k"] == K) & (after["method"] == "published")].iloc[0]
    assert published["users"] == 4 and published["model_version"] == "7"
    assert after[(after["k"] == K) & (after["method"] != "published")]["model_version"].isna().all()


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (D - timedelta(days=1), "no reco.user_recommendations rows for run_date 2026-03-09: run `shoprec recommend --date 2026-03-09` first"),
        (E, "no clean.events for 2026-03-12, the day after run_date 2026-03-11: it cannot be evaluated yet"),
    ],
)  # fmt: skip
def test_missing_inputs_fail_naming_table_day_and_command(lake: Lake, day: date, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        offline_eval.run(lake.spark, lake.settings, day, k=K)


def test_missing_item_features_fail(spark: SparkSession, settings: Settings) -> None:
    engine.replace_partition(
        spark.createDataFrame(reco_rows(D), engine.spark_schema(catalog.RECO_USER_RECOMMENDATIONS)),
        catalog.RECO_USER_RECOMMENDATIONS, settings, {"run_date": D},
    )  # fmt: skip
    engine.replace_partition(
        spark.createDataFrame(hand_events()[:3], engine.spark_schema(catalog.CLEAN_EVENTS)),
        catalog.CLEAN_EVENTS, settings, {"event_date": E},
    )  # fmt: skip
    with pytest.raises(
        ValueError,
        match=re.escape("no features.item_daily partition for as_of_date 2026-03-10: run `shoprec features"),
    ):
        offline_eval.run(spark, settings, D)
    with pytest.raises(ValueError, match="k must be at least 1"):
        offline_eval.run(spark, settings, D, k=0)


def test_command_prints_the_table_and_plots_every_run_date(lake: Lake, sail_url: str) -> None:
    import typer

    app = typer.Typer()
    app.command()(evaluate_command)
    env = {"SHOPREC_HOME": str(lake.settings.home), "SHOPREC_SPARK_REMOTE": sail_url}
    result = CliRunner().invoke(app, ["--date", str(D), "--k", str(K)], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1].split()[:3] == ["method", "users", "recall@4"]
    assert [line.split()[0] for line in lines[2:5]] == ["published", "popularity", "cooccurrence"]
    plot = lake.settings.home.resolve() / "reports" / "eval_metrics.png"
    assert lines[-1].endswith(str(plot))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10_000
    assert CliRunner().invoke(app, ["--k", "4"], env=env).exit_code == 2  # --date is required


def test_command_reports_a_missing_run_in_one_line(
    lake: Lake, sail_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPREC_HOME", str(lake.settings.home))
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", sail_url)
    with pytest.raises(UserFacingError, match="run `shoprec recommend --date 2026-03-01` first"):
        evaluate_command(day="2026-03-01", k=K)


def test_a_day_without_evaluable_users_writes_empty_metrics(spark: SparkSession, settings: Settings) -> None:
    def frame(table: catalog.Table, rows: list[tuple]) -> DataFrame:
        return spark.createDataFrame(rows, engine.spark_schema(table))

    engine.replace_partition(frame(catalog.RECO_USER_RECOMMENDATIONS, reco_rows(D)), catalog.RECO_USER_RECOMMENDATIONS, settings, {"run_date": D})  # fmt: skip
    only_user_6 = [_event(6, 30, "cart", E), _event(5, 10, "view", E)]
    engine.replace_partition(frame(catalog.CLEAN_EVENTS, only_user_6), catalog.CLEAN_EVENTS, settings, {"event_date": E})  # fmt: skip
    engine.overwrite(frame(catalog.CLEAN_ITEMS, hand_items()), catalog.CLEAN_ITEMS, settings)
    daily = [item_daily_row(item, p, v) for item, (p, v) in POPULAR.items()]
    engine.replace_partition(
        frame(catalog.ITEM_DAILY, daily), catalog.ITEM_DAILY, settings, {"as_of_date": D}
    )
    stats = offline_eval.run(spark, settings, D, k=K)
    assert [(m.users, m.recall, m.coverage, m.novelty) for m in stats.methods] == [(0, None, None, None)] * 3
    written = engine.read(spark, METRICS, settings).toPandas()
    assert len(written) == 3 and (written["users"] == 0).all() and written["recall"].isna().all()
    assert "-" in stats.table().splitlines()[2]
