"""Offline evaluation on real Sail/Delta: a hand-made lake whose expected lists and metrics are written out.

The lake (run_date D, E = D + 1, K = 4): catalogue items 10..49 (category = tens digit) plus 50
(category 5), item 99 listed on E only. Only E's events have landed after D, so the 7-day horizon
is skipped.

| user | published (rank 1..5)      | targets on E            | bought D-29..D | events D-6..D |
|------|----------------------------|-------------------------|----------------|---------------|
| 1    | 10 11 12 13 14             | 11 13 14 (10 viewed)    | 30, 28         | 10            |
| 2    | 20 21 22 23                | 20 (21 viewed)          | -              | -             |
| 3    | 10 11 12 13 (cold start)   | 30                      | -              | -             |
| 4    | 40 41 42 43                | 40..45                  | 13             | 40, 41, 13    |
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

from jobs import eval_inputs, offline_eval
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec_cli.common import UserFacingError
from shoprec_cli.evaluate import evaluate as evaluate_command
from shoprec_demo import planted_ceiling

D = date(2026, 3, 10)
E = D + timedelta(days=1)
K = 4
METRICS = catalog.OPS_EVAL_METRICS
ITEMS = [*range(10, 50), 50]
CATEGORY = {**{i: i // 10 for i in range(10, 50)}, 50: 5, 99: 1}
PUBLISHED = {1: [10, 11, 12, 13, 14], 2: [20, 21, 22, 23], 3: [10, 11, 12, 13], 4: [40, 41, 42, 43], 5: [10, 11, 12, 13]}  # fmt: skip
CANDIDATES = {1: [(11, "co_viewed,popular"), (13, "popular"), (16, "co_viewed")], 2: [(20, "top_category")], 4: [(40, "popular")]}  # fmt: skip


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
    candidates = [
        (user, item, sources.split(",")[0], sources, 0.5, sources.split(",")[0], D)
        for user, rows in CANDIDATES.items()
        for item, sources in rows
    ]
    engine.replace_partition(frame(catalog.RECO_CANDIDATES, candidates), catalog.RECO_CANDIDATES, settings, {"run_date": D})  # fmt: skip
    recos = frame(catalog.RECO_USER_RECOMMENDATIONS, reco_rows(D) + reco_rows(E))  # E: its targets never land
    engine.replace_range(recos, catalog.RECO_USER_RECOMMENDATIONS, settings, D, E)
    stats = offline_eval.run(spark, settings, D, ks=(K,))
    yield Lake(spark, settings, stats)
    spark.stop()


def by_method(
    stats: offline_eval.EvalStats, horizon: int = 1, k: int = K
) -> dict[str, offline_eval.MethodMetrics]:
    return {m.method: m for m in stats.methods if (m.horizon_days, m.k) == (horizon, k)}


def as_lists(frame: pd.DataFrame) -> dict[int, list[int]]:
    ordered = frame.sort_values(["user_id", "rank"])
    assert all(ordered.groupby("user_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))))
    return {int(u): [int(i) for i in g["item_id"]] for u, g in ordered.groupby("user_id")}


def discount(position: int) -> float:
    return 1.0 / math.log2(position + 1)


def idcg(n: int) -> float:
    return sum(discount(i) for i in range(1, n + 1))


def test_only_users_recommended_and_with_a_target_are_evaluated(lake: Lake) -> None:
    data = eval_inputs.load_inputs(lake.spark, lake.settings, D, horizons=(1,), k=K)
    assert list(data.users()) == [1, 2, 3, 4]  # 5: views only on E; 6: no recommendations
    assert {m.users for m in lake.stats.methods} == {4}
    assert data.model_version == "7"  # user 3's cold-start rows do not count
    assert list(data.catalogue) == ITEMS  # 99 is listed on E
    assert data.history["event_date"].max() == pd.Timestamp(D)  # nothing after the run date (datetime64)


def test_published_metrics_are_exact(lake: Lake) -> None:
    published = by_method(lake.stats)["published"]
    recall = [2 / 3, 1.0, 0.0, 1.0]  # user 4 has 6 targets: capped at K
    ndcg = [(discount(2) + discount(4)) / idcg(3), 1.0, 0.0, 1.0]
    average_precision = [(1 / 2 + 2 / 4) / 3, 1.0, 0.0, 1.0]
    assert published.recall == pytest.approx(np.mean(recall))
    assert published.precision == pytest.approx(np.mean([2 / 4, 1 / 4, 0.0, 4 / 4]))
    assert published.ndcg == pytest.approx(np.mean(ndcg))
    assert published.map == pytest.approx(np.mean(average_precision))
    assert published.hit_rate == pytest.approx(3 / 4)
    assert published.coverage == pytest.approx(12 / 41)  # 10-13, 20-23, 40-43 of 41 catalogue items
    interactions = {10: 1, 40: 1, 41: 1, 13: 1}  # events of D - 6 .. D
    total = sum(interactions.values()) + len(ITEMS)
    listed = [item for user in (1, 2, 3, 4) for item in PUBLISHED[user][:K]]
    expected = np.mean([-math.log2((interactions.get(i, 0) + 1) / total) for i in listed])
    assert published.novelty == pytest.approx(expected)
    assert published.model_version == "7"


def test_every_baseline_runs_on_the_same_users_and_lift_is_against_the_best(lake: Lake) -> None:
    metrics = by_method(lake.stats)
    assert list(metrics) == ["published", "popularity", "recent_popularity", "item_knn", "cooccurrence"]
    assert {m.users for m in metrics.values()} == {4}
    best = max(m.ndcg for name, m in metrics.items() if name != "published")
    assert metrics["published"].lift == pytest.approx(metrics["published"].ndcg / best)
    assert all(
        m.lift is None and m.model_version is None for name, m in metrics.items() if name != "published"
    )


def test_baselines_leave_out_recent_purchases_unless_repeats_are_normal(lake: Lake) -> None:
    data = eval_inputs.load_inputs(lake.spark, lake.settings, D, horizons=(1,), k=K)
    strict = {
        name: as_lists(f) for name, f in offline_eval.method_lists(data, K, repeat_purchases=False).items()
    }
    assert all(30 not in strict[name].get(1, []) for name in strict if name != "published")  # 1 bought 30
    assert "buy_again" not in strict
    lenient = offline_eval.method_lists(data, K, repeat_purchases=True)
    assert as_lists(lenient["buy_again"]) == {1: [30, 28, 12], 4: [13]}  # most recent first among singles
    assert 30 in as_lists(lenient["popularity"])[1]


def test_candidate_recall_overall_and_per_source(lake: Lake) -> None:
    recall = {r.source: r for r in lake.stats.recall if r.horizon_days == 1}
    # user 1: 11 and 13 of 3 targets; user 2: 20 of 1; user 3: none of 1; user 4: 40 of 6
    assert recall["all"].recall == pytest.approx(np.mean([2 / 3, 1.0, 0.0, 1 / 6]))
    assert recall["co_viewed"].recall == pytest.approx(np.mean([1 / 3, 0.0, 0.0, 0.0]))
    assert recall["popular"].recall == pytest.approx(np.mean([2 / 3, 0.0, 0.0, 1 / 6]))
    assert recall["top_category"].recall == pytest.approx(np.mean([0.0, 1.0, 0.0, 0.0]))
    assert recall["all"].candidates_per_user == pytest.approx(5 / 4)
    # every candidate counts, targets or not (co_viewed's 16 is none)
    assert [recall[s].candidates_per_user for s in ("co_viewed", "popular", "top_category")] == [
        2 / 4,
        3 / 4,
        1 / 4,
    ]
    written = engine.read(lake.spark, catalog.OPS_CANDIDATE_RECALL, lake.settings).toPandas()
    assert set(written["source"]) == {"all", "co_viewed", "popular", "top_category"}


def test_a_horizon_not_landed_yet_is_skipped_with_the_reason(lake: Lake) -> None:
    assert {m.horizon_days for m in lake.stats.methods} == {1}
    assert "clean.events has no rows for 2026-03-12 .. 2026-03-17" in lake.stats.skipped[7]
    assert "horizon 7 skipped" in lake.stats.summary()


def test_planted_ceiling_needs_the_truth_files(lake: Lake, tmp_path: Path) -> None:
    assert "planted_ceiling" not in by_method(lake.stats)
    settings = Settings(home=tmp_path / "home", lake_dir=lake.settings.lake)  # same lake, its own truth
    write_truth(settings.demo_truth)
    data = eval_inputs.load_inputs(lake.spark, settings, D, horizons=(1,), k=3)
    truth = planted_ceiling.read_truth(settings.demo_truth)
    planted = as_lists(
        offline_eval.method_lists(data, 3, repeat_purchases=False, truth=truth)["planted_ceiling"]
    )
    assert planted[1] == [29, 27, 26]  # preferences valid on E only; 28 bought
    assert planted[2][0] == 50
    assert len(planted[2]) == 3  # category 5 holds one item: topped up by popularity
    assert planted[3] == [39, 38, 19]  # 19's share is 10/65 (item 99 counts in category 1)
    assert planted[4] == [49, 48, 47]
    stats = offline_eval.run(lake.spark, settings, D, ks=(3,), horizons=(1,))
    assert [m.method for m in stats.methods][-1] == "planted_ceiling"
    assert by_method(stats, k=3)["planted_ceiling"].users == 4


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


def test_rerun_replaces_the_rows_of_the_run_date_and_horizon(lake: Lake) -> None:
    def rows() -> pd.DataFrame:
        frame = engine.read(lake.spark, catalog.OPS_EVAL_METRICS, lake.settings).toPandas()
        return (
            frame.drop(columns="evaluated_at").sort_values(["run_date", "k", "method"]).reset_index(drop=True)
        )

    offline_eval.run(lake.spark, lake.settings, D, ks=(K, 2))  # other tests wrote other K: start over
    before = rows()
    offline_eval.run(lake.spark, lake.settings, D, ks=(2, K))
    after = rows()
    pd.testing.assert_frame_equal(before, after)
    assert len(after[(after["run_date"] == D) & (after["k"] == K)]) == 5
    offline_eval.run(lake.spark, lake.settings, D, ks=(K,))  # the run_date's rows at the horizon: replaced
    assert set(rows()["k"]) == {K}
    assert set(after["eval_date"]) == {E}
    assert set(after["target"]) == {"purchase+cart"}
    assert set(after["horizon_days"]) == {1}


@pytest.mark.parametrize(
    ("day", "message"),
    [
        (D - timedelta(days=1), "no reco.user_recommendations rows for run_date 2026-03-09: run `shoprec recommend --date 2026-03-09` first"),
        (E, "run_date 2026-03-11 cannot be evaluated yet: clean.events has no rows for 2026-03-12 (the next 1 day(s) after run_date 2026-03-11): run shoprec clean --date 2026-03-12"),
    ],
)  # fmt: skip
def test_missing_inputs_fail_naming_table_day_and_command(lake: Lake, day: date, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        offline_eval.run(lake.spark, lake.settings, day, ks=(K,))


def test_bad_cut_offs_are_refused(lake: Lake) -> None:
    with pytest.raises(ValueError, match="every K and horizon must be at least 1"):
        offline_eval.run(lake.spark, lake.settings, D, ks=(0,))


def test_command_prints_the_tables_and_plots_every_run_date(lake: Lake, sail_url: str) -> None:
    import typer

    app = typer.Typer()
    app.command()(evaluate_command)
    env = {"SHOPREC_HOME": str(lake.settings.home), "SHOPREC_SPARK_REMOTE": sail_url}
    result = CliRunner().invoke(app, ["--date", str(D), "--k", str(K), "--k", "2"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[1] == "next 1 day(s), K = 2, 4 users"
    assert lines[2].split()[:3] == ["method", "precision", "recall"]
    assert lines[3].split()[0] == "published"
    assert "next 1 day(s), K = 4, 4 users" in lines
    plot = lake.settings.home.resolve() / "reports" / "eval_metrics.png"
    assert lines[-1].endswith(str(plot))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 10_000
    assert CliRunner().invoke(app, ["--k", "4"], env=env).exit_code == 2  # --date is required


def test_command_reports_a_missing_run_in_one_line(
    lake: Lake, sail_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPREC_HOME", str(lake.settings.home))
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", sail_url)
    with pytest.raises(UserFacingError, match="run `shoprec recommend --date 2026-03-01` first"):
        evaluate_command(day="2026-03-01", k=[K])


def test_a_day_without_evaluable_users_writes_empty_metrics(spark: SparkSession, settings: Settings) -> None:
    def frame(table: catalog.Table, rows: list[tuple]) -> DataFrame:
        return spark.createDataFrame(rows, engine.spark_schema(table))

    engine.replace_partition(frame(catalog.RECO_USER_RECOMMENDATIONS, reco_rows(D)), catalog.RECO_USER_RECOMMENDATIONS, settings, {"run_date": D})  # fmt: skip
    only_user_6 = [_event(6, 30, "cart", E), _event(5, 10, "view", E)]
    engine.replace_partition(frame(catalog.CLEAN_EVENTS, only_user_6), catalog.CLEAN_EVENTS, settings, {"event_date": E})  # fmt: skip
    engine.overwrite(frame(catalog.CLEAN_ITEMS, hand_items()), catalog.CLEAN_ITEMS, settings)
    stats = offline_eval.run(spark, settings, D, ks=(K,), horizons=(1,))
    assert {(m.users, m.recall, m.coverage, m.novelty) for m in stats.methods} == {(0, None, None, None)}
    written = engine.read(spark, catalog.OPS_EVAL_METRICS, settings).toPandas()
    assert (written["users"] == 0).all()
    assert written["recall"].isna().all()
    assert "-" in stats.table().splitlines()[3]
