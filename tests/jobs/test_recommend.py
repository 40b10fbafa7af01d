"""The recommend job on real Sail/Delta with a real (small, untrained) DLRM champion from the registry.

Ranking quality is measured by `shoprec evaluate` and the benchmark; these tests check the
mechanics: complete valid sets, the category cap, cold start, the validation gate, atomic and
idempotent publication, item audiences.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import torch
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from jobs import recommend
from models.dlrm import ModelConfig, build_ranker
from models.features import FeatureSpec
from models.registry import Registry
from models.score import Ranker
from shoprec import catalog, engine
from shoprec.config import Settings
from tests.conftest import FEATURES_AS_OF, copy_lake

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
REASON = re.compile(
    r"^(revisit|co_viewed:\d+|item_knn|top_category:\d+|trending:\d+|popular|cold_start:popular|cold_start:trending)$"
)


@dataclass
class Lake:
    spark: SparkSession
    settings: Settings


def register_untrained_champion(settings: Settings) -> int:
    """A real DLRM (random weights, default spec) exported and registered as champion."""
    torch.manual_seed(0)
    spec = FeatureSpec(table_rows={"t_user": 1024, "t_item": 1024, "t_category": 64, "t_brand": 64})
    config = ModelConfig(embedding_dim=8, dense_layers=(16, 8), over_layers=(16, 1))
    model_dir = settings.home / "untrained"
    Ranker((build_ranker(spec, config).eval(),), spec, config).save(model_dir)
    registry = Registry.for_settings(settings)
    record = registry.record(
        params={"arch": "dlrm"},
        metrics={"auc": 0.5},
        curve=[],
        tags={"auc": "0.5"},
        model_dir=model_dir,
        run_files=[],
    )
    registry.set_decision(record.version, "promoted: test model", promote=True, details={})
    return record.version


@pytest.fixture(scope="module")
def lake(
    feature_lake: tuple[SparkSession, Settings], sail_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lake]:
    """A private copy of the tiny shop (features as of FEATURES_AS_OF and the day before) with a champion."""
    settings = copy_lake(feature_lake[1], tmp_path_factory.mktemp("recommend") / "home")
    register_untrained_champion(settings)
    spark = engine.connect(sail_url, settings, "shoprec-tests-recommend")
    yield Lake(spark, settings)
    spark.stop()


@pytest.fixture(scope="module")
def published(lake: Lake) -> recommend.RecommendStats:
    return recommend.run(lake.spark, lake.settings, FEATURES_AS_OF, recommend.RecommendConfig(k=5))


def partition(lake: Lake, table: catalog.Table, day: date) -> pd.DataFrame:
    location = table.location(lake.settings.lake)
    return DeltaTable(str(location)).to_pandas(filters=[("run_date", "=", day)])


def test_every_user_gets_k_valid_rows(lake: Lake, published: recommend.RecommendStats) -> None:
    rows = partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF)
    users = lake.spark.table("features.user_daily").where(f"as_of_date = DATE'{FEATURES_AS_OF}'").count()
    assert (
        published.users == rows["user_id"].nunique() and published.users - published.cold_start_users == users
    )
    per_user = rows.groupby("user_id")["rank"].agg(["min", "max", "count"])
    assert (
        (per_user["min"] == 1).all()
        and (per_user["max"] == per_user["count"]).all()
        and (per_user["count"] <= 5).all()
    )
    assert not rows.duplicated(["user_id", "item_id"]).any()
    assert rows["reason"].map(lambda r: bool(REASON.match(r))).all()
    assert rows["score"].between(0, 1).all()
    cold = rows[rows["reason"].str.startswith("cold_start")]
    assert (
        set(cold["model_version"]) == {"popularity"}
        and cold["user_id"].nunique() == published.cold_start_users
    )
    assert set(rows.loc[~rows.index.isin(cold.index), "model_version"]) == {published.model_version}


def test_no_item_bought_in_the_last_30_days(lake: Lake, published: recommend.RecommendStats) -> None:
    rows = partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF)
    bought = (
        lake.spark.table("clean.events")
        .where(
            f"event_type = 'purchase' AND event_date BETWEEN DATE'{FEATURES_AS_OF - timedelta(days=29)}' AND DATE'{FEATURES_AS_OF}'"
        )
        .select("user_id", "item_id")
        .toPandas()
    )
    assert not set(zip(rows["user_id"], rows["item_id"], strict=True)) & set(
        zip(bought["user_id"], bought["item_id"], strict=True)
    )


def test_latest_and_item_audiences_are_published(lake: Lake, published: recommend.RecommendStats) -> None:
    rows = partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF)
    latest = DeltaTable(str(catalog.RECO_LATEST.location(lake.settings.lake))).to_pandas()
    key = ["user_id", "rank"]
    assert (
        latest.sort_values(key)
        .reset_index(drop=True)[rows.columns]
        .equals(rows.sort_values(key).reset_index(drop=True))
    )
    audiences = partition(lake, catalog.RECO_ITEM_AUDIENCES, FEATURES_AS_OF)
    assert published.audience_rows == len(audiences) > 0
    best = audiences[audiences["rank"] == 1].set_index("item_id")["score"].sort_index()
    assert audiences.groupby("item_id")["score"].max().sort_index().equals(best)


def test_the_candidate_set_is_stored_with_every_source_of_a_pair(
    lake: Lake, published: recommend.RecommendStats
) -> None:
    stored = partition(lake, catalog.RECO_CANDIDATES, FEATURES_AS_OF)
    assert len(stored) == published.candidates
    assert not stored.duplicated(["user_id", "item_id"]).any()
    assert stored.apply(lambda row: row["source"] in row["sources"].split(","), axis=1).all()
    assert (stored["sources"].str.split(",").map(sorted) == stored["sources"].str.split(",")).all()


def test_top_k_caps_each_category_without_returning_fewer(spark: SparkSession) -> None:
    scored = spark.createDataFrame(
        [(1, i, 1.0 - i / 10, 7 if i < 4 else 8) for i in range(6)],
        "user_id BIGINT, item_id BIGINT, score DOUBLE, category_id BIGINT",
    )  # items 0..3 in category 7 (best scores), 4 and 5 in category 8
    ranked = recommend.top_k(scored, k=5, category_cap=2).orderBy("rank").toPandas()
    assert ranked["item_id"].tolist() == [0, 1, 4, 5, 2]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]


def test_a_rerun_replaces_the_set_in_one_commit(lake: Lake, published: recommend.RecommendStats) -> None:
    location = str(catalog.RECO_USER_RECOMMENDATIONS.location(lake.settings.lake))
    before_version = DeltaTable(location).version()
    before = partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF).drop(columns="generated_at")
    again = recommend.run(lake.spark, lake.settings, FEATURES_AS_OF, recommend.RecommendConfig(k=5))
    after = partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF).drop(columns="generated_at")
    key = ["user_id", "rank"]
    pd.testing.assert_frame_equal(
        before.sort_values(key).reset_index(drop=True), after.sort_values(key).reset_index(drop=True)
    )
    assert DeltaTable(location).version() == before_version + 1 and again.rows == published.rows


def test_the_gate_blocks_a_bad_set_and_publishes_nothing(
    lake: Lake, published: recommend.RecommendStats, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = FEATURES_AS_OF - timedelta(days=1)
    location = str(catalog.RECO_USER_RECOMMENDATIONS.location(lake.settings.lake))
    version = DeltaTable(location).version()
    real_top_k = recommend.top_k

    def gappy(scored, k, category_cap):  # a ranking bug: ranks 1, 3, 5, ...
        from pyspark.sql import functions as F

        return real_top_k(scored, k, category_cap).withColumn("rank", (F.col("rank") * 2 - 1).cast("int"))

    monkeypatch.setattr(recommend, "top_k", gappy)
    with pytest.raises(recommend.PublishError, match=r"nothing published: .*unexpected_rows|UnexpectedRows"):
        recommend.run(lake.spark, lake.settings, day, recommend.RecommendConfig(k=5))
    assert DeltaTable(location).version() == version
    assert partition(lake, catalog.RECO_USER_RECOMMENDATIONS, day).empty


@pytest.mark.slow
def test_a_killed_run_leaves_the_previous_complete_set(
    lake: Lake, published: recommend.RecommendStats
) -> None:
    day = FEATURES_AS_OF - timedelta(days=1)
    location = str(catalog.RECO_USER_RECOMMENDATIONS.location(lake.settings.lake))
    version = DeltaTable(location).version()
    env = {**os.environ, "SHOPREC_HOME": str(lake.settings.home)}
    process = subprocess.Popen(
        [SHOPREC, "recommend", "--date", day.isoformat(), "--k", "5"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.startswith("scoring candidates"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    time.sleep(1)
    assert DeltaTable(location).version() == version
    assert partition(lake, catalog.RECO_USER_RECOMMENDATIONS, day).empty
    assert len(partition(lake, catalog.RECO_USER_RECOMMENDATIONS, FEATURES_AS_OF)) == published.rows
    latest = DeltaTable(str(catalog.RECO_LATEST.location(lake.settings.lake))).to_pandas()
    assert set(latest["run_date"]) == {FEATURES_AS_OF}


def test_user_buckets_publish_exactly_the_unbucketed_tables(
    lake: Lake, published: recommend.RecommendStats
) -> None:
    tables = (catalog.RECO_USER_RECOMMENDATIONS, catalog.RECO_ITEM_AUDIENCES, catalog.RECO_CANDIDATES)

    def snapshot() -> list[pd.DataFrame]:
        frames = [partition(lake, table, FEATURES_AS_OF) for table in tables]
        return [
            frame.drop(columns=[c for c in ("generated_at",) if c in frame.columns])
            .sort_values(list(frame.columns.drop("generated_at", errors="ignore")))
            .reset_index(drop=True)
            for frame in frames
        ]

    unbucketed = snapshot()
    threads = torch.get_num_threads()
    bucketed_run = recommend.run(  # scored in a pipeline beside the engine
        lake.spark, lake.settings, FEATURES_AS_OF, recommend.RecommendConfig(k=5, buckets=3)
    )
    assert torch.get_num_threads() == threads  # the model's threads are given back
    assert bucketed_run.buckets == 3
    assert published.buckets == 1
    for before, after in zip(unbucketed, snapshot(), strict=True):
        pd.testing.assert_frame_equal(before, after)
