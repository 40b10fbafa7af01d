"""Incremental features on real Sail/Delta: the stored per-day aggregates give the full recomputation's rows.

The full recomputation computes the per-day aggregates of every day in the window straight from
clean.events, in memory, and builds the four feature tables from them; it never reads a stored
aggregate. Floats that are sums over days may differ in the last bit (Spark sums in no fixed order):
they are compared to a relative 1e-12, everything else exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import reduce
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs import clean, feature_aggregates, features, ingest
from jobs.feature_aggregates import AGGREGATE_TABLES, HORIZON
from shoprec import catalog, engine
from shoprec.catalog import Table
from shoprec.config import Settings
from shoprec.dates import days_between
from tests.conftest import FEATURES_START, copy_lake

START = FEATURES_START
DAYS = 12
END = START + timedelta(days=DAYS - 1)
FLOAT_RTOL = 1e-12


@pytest.fixture(scope="module")
def cleaned(sail_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A tiny shop (seed 7) of 12 days, ingested and cleaned, without features (shared; tests copy it)."""
    from shoprec_demo.generator import generate

    settings = Settings(home=tmp_path_factory.mktemp("incremental") / "home")
    generate(settings.landing, settings.demo_truth, scale="tiny", start=START, days=DAYS, seed=7)
    spark = engine.connect(sail_url, settings, "test-incremental-setup")
    try:
        list(ingest.run(spark, settings, START, END))
        clean.run(spark, settings, START, END)
    finally:
        spark.stop()
    return settings


@pytest.fixture
def lake(cleaned: Settings, sail_url: str, tmp_path: Path) -> Iterator[tuple[SparkSession, Settings]]:
    """A private copy of the cleaned shop and a session on it."""
    settings = copy_lake(cleaned, tmp_path / "home")
    spark = engine.connect(sail_url, settings, "test-incremental")
    yield spark, settings
    spark.stop()


def ordered(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """The rows in the table's column order, sorted by its id columns and partition."""
    keys = [c for c in table.column_names if c.endswith("_id")] + list(table.partition_by)
    return frame[table.column_names].sort_values(keys).reset_index(drop=True)


def stored(spark: SparkSession, settings: Settings, table: Table, first: date, last: date) -> pd.DataFrame:
    frame = engine.read(spark, table, settings).where(engine.range_predicate(table, first, last)).toPandas()
    return ordered(frame, table)


def collected(frame: DataFrame, table: Table) -> pd.DataFrame:
    return ordered(engine.conform(frame, table).toPandas(), table)


def recomputed(spark: SparkSession, settings: Settings, start: date, end: date) -> dict[str, pd.DataFrame]:
    """The four feature tables for start..end, and the aggregates, computed from clean.events alone."""
    first = start - timedelta(days=HORIZON - 1)
    events = engine.read(spark, catalog.CLEAN_EVENTS, settings).where(
        engine.range_predicate(catalog.CLEAN_EVENTS, first, end)
    )
    items = engine.read(spark, catalog.CLEAN_ITEMS, settings)
    with engine.scratch(spark, settings) as scratch:
        daily = feature_aggregates.from_events(events, scratch)
        frames = features.range_features(daily, items, start, end, scratch)
        frames[catalog.ITEM_COOCCURRENCE] = reduce(
            DataFrame.unionByName,
            (features.item_cooccurrence(daily, as_of) for as_of in days_between(start, end)),
        )
        frames.update(daily.by_table())
        return {table.name: collected(frame, table) for table, frame in frames.items()}


def assert_same(got: pd.DataFrame, expected: pd.DataFrame, name: str) -> None:
    assert len(expected) > 0, name
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=FLOAT_RTOL, atol=0, obj=name)


def assert_tables_equal(
    spark: SparkSession, settings: Settings, expected: dict[str, pd.DataFrame], start: date, end: date
) -> None:
    """The stored feature partitions of start..end and the aggregates of their windows equal `expected`."""
    for table in features.FEATURE_TABLES:
        assert_same(stored(spark, settings, table, start, end), expected[table.name], table.name)
    for table in AGGREGATE_TABLES:
        first = max(START, start - timedelta(days=HORIZON - 1))
        assert_same(stored(spark, settings, table, first, end), expected[table.name], table.name)


def test_day_by_day_equals_the_full_recomputation(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    for day in days_between(START, END):
        features.run(spark, settings, day)
    assert_tables_equal(spark, settings, recomputed(spark, settings, START, END), START, END)


def test_reruns_and_backfills_change_nothing(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    features.run(spark, settings, START, END)  # one backfill of the whole range
    expected = recomputed(spark, settings, START, END)
    assert_tables_equal(spark, settings, expected, START, END)

    features.run(spark, settings, START + timedelta(days=4), START + timedelta(days=7))  # a part again
    features.run(spark, settings, END)  # and the last day alone
    assert_tables_equal(spark, settings, expected, START, END)


def test_a_first_run_computes_the_missing_look_back_days(lake: tuple[SparkSession, Settings]) -> None:
    spark, settings = lake
    assert feature_aggregates.days_to_refresh(spark, settings, END, END) == list(days_between(START, END))

    features.run(spark, settings, END)  # no aggregates yet: the look-back's days come from clean.events

    assert feature_aggregates.days_to_refresh(spark, settings, END, END) == [END]
    assert_tables_equal(spark, settings, recomputed(spark, settings, END, END), END, END)


def test_rerunning_a_recleaned_day_refreshes_its_aggregates(lake: tuple[SparkSession, Settings]) -> None:
    """A day re-cleaned after its features were built: rerunning it, then the later days, follows the new events.

    The documented rule: a day's features run rewrites that day's aggregates.
    """
    spark, settings = lake
    features.run(spark, settings, START, END)
    changed = START + timedelta(days=5)
    day_events = engine.read(spark, catalog.CLEAN_EVENTS, settings).where(
        engine.partition_predicate(catalog.CLEAN_EVENTS, {"event_date": changed})
    )
    with engine.scratch(spark, settings) as scratch:
        fewer = scratch.materialize(day_events.where("event_type <> 'view'"), "fewer")
        engine.replace_partition(fewer, catalog.CLEAN_EVENTS, settings, {"event_date": changed})

    features.run(spark, settings, changed)
    features.run(spark, settings, changed + timedelta(days=1), END)

    assert_tables_equal(spark, settings, recomputed(spark, settings, START, END), START, END)
    views = stored(spark, settings, catalog.USER_DAY_COUNTS, changed, changed)["views"]
    assert (views == 0).all()
