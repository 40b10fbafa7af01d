"""The fault suite's lake: a tiny shop built through every step, the base each killed step starts from."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from shoprec import engine
from shoprec.config import Settings

START = date(2026, 1, 1)


@pytest.fixture(scope="session")
def fault_lake(sail_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A tiny shop (seed 7) ready for every step; shared, tests copy it.

    11 landed days; ingest and clean 1..10, features 7..9, examples 8..9, an untrained champion,
    recommendations for the 8th.
    """
    from jobs import clean, examples, features, ingest, recommend
    from shoprec_demo.generator import generate
    from tests.jobs.test_recommend import register_untrained_champion

    settings = Settings(home=tmp_path_factory.mktemp("fault_lake") / "home")
    generate(settings.landing, settings.demo_truth, scale="tiny", start=START, days=11, seed=7)
    spark = engine.connect(sail_url, settings, "shoprec-tests-faults")
    try:
        list(ingest.run(spark, settings, START, date(2026, 1, 10)))
        clean.run(spark, settings, START, date(2026, 1, 10))
        features.run(spark, settings, date(2026, 1, 7), date(2026, 1, 9))
        examples.run(spark, settings, date(2026, 1, 8), date(2026, 1, 9))
        register_untrained_champion(settings)
        recommend.run(spark, settings, date(2026, 1, 8), recommend.RecommendConfig(k=5))
    finally:
        spark.stop()
    yield settings
