"""The tiny pipeline the engine tests run on each engine, and the comparison of the tables it leaves.

The steps are the daily DAG's, called as the CLI calls them: ingest, clean and features over the tiny
demo shop (`build_features`, seed 7: the shared `feature_lake`), then the validation gate of the DAG's
input tables, training examples, and recommend with a fixed untrained DLRM champion (the same weights in
every lake, so every score is a function of the features alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from dags.shoprec_daily import INPUT_TABLES
from jobs import examples, recommend
from shoprec import catalog, storage
from shoprec.config import Settings
from shoprec_quality import validation
from tests.conftest import FEATURES_AS_OF, build_features
from tests.jobs.test_recommend import register_untrained_champion

DAYS = 10
AS_OF = (FEATURES_AS_OF - timedelta(days=1), FEATURES_AS_OF)
RUN_DATE = FEATURES_AS_OF  # label day of the examples and run_date of the recommendations
GATED = (*INPUT_TABLES, "training.examples")  # the DAG's validate_inputs, then its validate_examples
# Columns that say when or in which run a row was written, not what it holds.
RUN_COLUMNS = frozenset(
    {"ingested_at", "generated_at", "started_at", "evaluated_at", "validated_at", "run_id", "seconds"}
)
FLOAT_TOLERANCE = 1e-6  # relative


@dataclass(frozen=True)
class Outcome:
    """What the steps after features reported (the tables themselves are compared from the lake)."""

    blocking_failures: dict[str, list[str]]
    examples: examples.ExamplesStats
    published: recommend.RecommendStats


def build_inputs(spark: SparkSession, settings: Settings) -> None:
    """Landing files of the tiny shop, then ingest, clean and features (what `feature_lake` holds)."""
    build_features(spark, settings, days=DAYS, as_of=AS_OF)


def finish(spark: SparkSession, settings: Settings) -> Outcome:
    """Validation gate, training examples and recommendations on a lake that has its features."""
    failures: dict[str, list[str]] = {}
    for name in GATED[:-1]:
        failures[name] = _blocking(spark, settings, name)
    built = examples.run(spark, settings, RUN_DATE)
    failures["training.examples"] = _blocking(spark, settings, "training.examples")
    register_untrained_champion(settings)
    published = recommend.run(spark, settings, RUN_DATE, recommend.RecommendConfig(k=5))
    return Outcome(failures, built, published)


def _blocking(spark: SparkSession, settings: Settings, name: str) -> list[str]:
    day = RUN_DATE if catalog.get(name).partition_by else None
    report = validation.validate(spark, settings, name, day)
    return [r.describe() for r in report.blocking_failures]


def table_rows(settings: Settings, table: catalog.Table) -> pd.DataFrame | None:
    """A table's rows through delta-rs, without the run columns, in a canonical order (None: no Delta log)."""
    location = table.location(settings.lake)
    if storage.kind(location / "_delta_log") != "directory":
        return None
    rows = DeltaTable(str(location)).to_pandas()
    rows = rows[[c for c in table.column_names if c not in RUN_COLUMNS]]
    return rows.sort_values(list(rows.columns), kind="stable", na_position="first").reset_index(drop=True)


def differences(table: catalog.Table, expected: Settings, actual: Settings, limit: int = 10) -> str | None:
    """None when `table` holds the same rows in both lakes; else what differs.

    Floats are compared to FLOAT_TOLERANCE: DLRM scores are float32, computed in batches that follow the
    engine's row order, and a row's score can move by one float32 step (about 6e-8) with its batch.
    """
    want, got = table_rows(expected, table), table_rows(actual, table)
    if want is None or got is None:
        return None if want is None and got is None else f"{table.name}: Delta log only in one lake"
    if len(want) != len(got):
        return f"{table.name}: {len(want)} rows expected, {len(got)} found\n" + _sample(want, got, limit)
    try:
        pd.testing.assert_frame_equal(want, got, check_exact=False, rtol=FLOAT_TOLERANCE, check_dtype=True)
    except AssertionError as exc:
        return f"{table.name}: {str(exc).strip()}\n" + _sample(want, got, limit)
    return None


def _sample(want: pd.DataFrame, got: pd.DataFrame, limit: int) -> str:
    """Up to `limit` rows found on one side only (exact match on every column)."""
    both = want.astype(str).merge(got.astype(str), how="outer", indicator=True)
    only = both[both["_merge"] != "both"].head(limit)
    return only.to_string(max_colwidth=40)
