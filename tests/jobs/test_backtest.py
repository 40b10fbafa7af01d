"""`shoprec backtest` end to end on the tiny shop: builds what is missing, trains, recommends, evaluates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs import backtest
from models.registry import Registry
from shoprec import catalog, inputs
from shoprec.config import Settings
from tests.conftest import FEATURES_AS_OF, copy_lake

pytestmark = pytest.mark.slow


def test_backtest_builds_trains_without_promoting_recommends_and_evaluates(
    feature_lake: tuple[SparkSession, Settings], tmp_path: Path
) -> None:
    spark, source = feature_lake
    settings = copy_lake(source, tmp_path / "home")
    day = FEATURES_AS_OF + timedelta(days=1)  # features exist for the 7th and 8th day only
    config = backtest.BacktestConfig(day=day, train_days=2, horizons=(1, 7), batch_size=32, epochs=1)
    lines: list[str] = []
    stats = backtest.run(settings, config, progress=lines.append)

    assert "features: built 2 missing day(s)" in lines  # day - 3 and day: the 7th and 8th were there
    assert "examples: built 3 missing label day(s)" in lines
    methods = {m.method for m in stats.methods if m.k == 20}
    assert {"published", "popularity", "recent_popularity", "item_knn", "cooccurrence"} <= methods
    assert 7 in stats.skipped  # the shop has 10 days: the next week has not happened
    assert {r.source for r in stats.recall} >= {"all", "co_viewed", "popular"}
    published = next(m for m in stats.methods if m.method == "published" and m.k == 20)
    assert published.users > 0
    assert published.lift is not None
    registry = Registry.for_settings(settings)
    assert registry.champion() is None  # a backtest registers, never promotes
    assert registry.versions()[0].decision.startswith("registered only")
    assert not inputs.missing_days(spark, settings, catalog.RECO_CANDIDATES, [day])
