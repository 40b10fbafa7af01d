"""Missing upstream days fail naming the table, the days and the command; quiet days count as present."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pyspark.sql import SparkSession

from shoprec import catalog, engine, inputs
from shoprec.config import Settings

DAY = date(2026, 1, 3)


def _ingest_run(
    spark: SparkSession, settings: Settings, day: date, accepted: int, started: datetime, files: int = 0
) -> None:
    row = {
        "run_id": f"r{day}{accepted}{files}",
        "event_date": day,
        "source_format": "jsonl",
        "files": files,
        "read_rows": accepted,
        "accepted_rows": accepted,
        "rejected_rows": 0,
        "duplicate_rows": 0,
        "items_rows": 0,
        "users_rows": 0,
        "catalog_rejected_rows": 0,
        "started_at": started,
        "seconds": 0.1,
    }
    engine.append(
        spark.createDataFrame([row], engine.spark_schema(catalog.OPS_INGEST_RUNS)),
        catalog.OPS_INGEST_RUNS,
        settings,
    )


@pytest.mark.parametrize(
    ("days", "message"),
    [
        ([DAY], "clean.events has no rows for 2026-01-03: run shoprec clean --date 2026-01-03"),
        (
            [date(2026, 1, 1), date(2026, 1, 2)],
            "clean.events has no rows for 2026-01-01 .. 2026-01-02 (2 days): "
            "run shoprec clean --start 2026-01-01 --end 2026-01-02",
        ),
        (
            [date(2026, 1, 1), DAY],
            "clean.events has no rows for 2026-01-01, 2026-01-03 (2 days): "
            "run shoprec clean --start 2026-01-01 --end 2026-01-03",
        ),
    ],
)
def test_missing_days_name_table_days_and_command(
    spark: SparkSession, settings: Settings, days: list[date], message: str
) -> None:
    with pytest.raises(inputs.MissingInputError) as caught:
        inputs.require_days(spark, settings, catalog.CLEAN_EVENTS, days)
    assert str(caught.value) == message


def test_a_day_the_source_declared_quiet_is_present(spark: SparkSession, settings: Settings) -> None:
    _ingest_run(spark, settings, DAY, accepted=0, started=datetime(2026, 1, 4, 3, tzinfo=UTC))
    inputs.require_days(spark, settings, catalog.RAW_EVENTS, [DAY])
    inputs.require_days(spark, settings, catalog.CLEAN_EVENTS, [DAY])
    with pytest.raises(inputs.MissingInputError, match=r"features\.user_daily has no rows for 2026-01-03"):
        inputs.require_days(spark, settings, catalog.USER_DAILY, [DAY])  # features are never quiet


def test_only_the_latest_ingest_run_of_a_day_decides(spark: SparkSession, settings: Settings) -> None:
    _ingest_run(spark, settings, DAY, accepted=0, started=datetime(2026, 1, 4, 3, tzinfo=UTC))
    _ingest_run(spark, settings, DAY, accepted=5, started=datetime(2026, 1, 4, 4, tzinfo=UTC))
    assert inputs.empty_days(spark, settings, [DAY]) == set()
    with pytest.raises(inputs.MissingInputError, match="run shoprec ingest --date 2026-01-03"):
        inputs.require_days(spark, settings, catalog.RAW_EVENTS, [DAY])


def test_an_empty_export_is_present_but_only_a_marker_day_is_declared_quiet(
    spark: SparkSession, settings: Settings
) -> None:
    marker_day, empty_export = DAY, DAY + timedelta(days=1)
    _ingest_run(spark, settings, marker_day, accepted=0, started=datetime(2026, 1, 4, 3, tzinfo=UTC))
    _ingest_run(
        spark, settings, empty_export, accepted=0, started=datetime(2026, 1, 5, 3, tzinfo=UTC), files=1
    )
    inputs.require_days(spark, settings, catalog.RAW_EVENTS, [marker_day, empty_export])  # both ingested
    assert inputs.empty_days(spark, settings, [marker_day, empty_export]) == {marker_day, empty_export}
    assert inputs.empty_days(spark, settings, [marker_day, empty_export], declared=True) == {marker_day}
    assert inputs.empty_days_in_lake(settings, [marker_day, empty_export], declared=True) == {marker_day}
