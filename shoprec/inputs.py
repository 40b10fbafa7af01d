"""Input checks shared by every job: a missing upstream day is an error, never an empty output.

A day counts as present in a date-partitioned table when the table has rows for it, or, for the
tables of the events themselves, when ingest ran for the day and accepted no events
(`ops.ingest_runs`; the validation gate then judges the emptiness). A day ingested from an
empty-day marker alone (`shoprec land` writes them for days without events inside a log's range,
e.g. a shop closed on Sundays) is *declared quiet*: its emptiness is legitimate, so validation
skips it and training has nothing to learn on it. Anything else missing fails with the table, the
days and the command that builds them, e.g. `clean.events has no rows for 2026-01-03: run shoprec
clean --date 2026-01-03`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from shoprec import catalog
from shoprec.catalog import Table
from shoprec.config import Settings

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

BUILT_BY: dict[str, str] = {
    catalog.RAW_EVENTS.name: "ingest",
    catalog.CLEAN_EVENTS.name: "clean",
    catalog.USER_DAILY.name: "features",
    catalog.ITEM_DAILY.name: "features",
    catalog.USER_CATEGORY.name: "features",
    catalog.ITEM_COOCCURRENCE.name: "features",
    catalog.TRAINING_EXAMPLES.name: "examples",
    catalog.RECO_USER_RECOMMENDATIONS.name: "recommend",
}
"""The `shoprec` command that writes each date-partitioned table a job may need."""

QUIET_DAY_TABLES = (catalog.RAW_EVENTS.name, catalog.CLEAN_EVENTS.name, catalog.TRAINING_EXAMPLES.name)
"""Tables partitioned by the day of the events themselves: empty on a day ingest accepted no events."""


class MissingInputError(ValueError):
    """A job's input table lacks days it needs; the message names them and the command to run."""


def missing_days(spark: SparkSession, settings: Settings, table: Table, days: list[date]) -> list[date]:
    """Which of `days` have no rows in the date-partitioned `table` (a table not written yet has none)."""
    from shoprec import engine

    if not days:
        return []
    column = table.partition_by[0]
    present = {
        row[0]
        for row in engine.read(spark, table, settings)
        .where(engine.range_predicate(table, min(days), max(days)))
        .select(column)
        .distinct()
        .collect()
    }
    return [day for day in days if day not in present]


def _latest_runs(runs: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Each day's latest ops.ingest_runs row among `days`."""
    mine = runs[runs["event_date"].isin(days)].sort_values("started_at")
    return mine.groupby("event_date").tail(1)


def empty_days(
    spark: SparkSession, settings: Settings, days: list[date], *, declared: bool = False
) -> set[date]:
    """The days among `days` whose latest ingest run accepted no events.

    Args:
        spark: A session that can read the lake.
        settings: Where the lake lives.
        days: The days to look at.
        declared: Only the days declared quiet (ingested from an empty-day marker, no files).
    """
    from pyspark.sql import functions as F

    from shoprec import engine

    if not days:
        return set()
    runs = (
        engine.read(spark, catalog.OPS_INGEST_RUNS, settings)
        .where(F.col("event_date").between(F.lit(min(days)), F.lit(max(days))))
        .select("event_date", "started_at", "files", "accepted_rows")
        .toPandas()
    )
    return _empty(_latest_runs(runs, days), declared)


def empty_days_in_lake(settings: Settings, days: list[date], *, declared: bool = False) -> set[date]:
    """`empty_days` without Spark (delta-rs), for the trainers."""
    from shoprec import lake

    if not days:
        return set()
    try:
        runs = lake.to_pandas(catalog.OPS_INGEST_RUNS, settings)
    except FileNotFoundError:
        return set()
    return _empty(_latest_runs(runs, days), declared)


def _empty(latest: pd.DataFrame, declared: bool) -> set[date]:
    empty = latest["accepted_rows"] == 0
    if declared:
        empty &= latest["files"] == 0
    return set(latest.loc[empty, "event_date"])


def fix_command(table: Table, days: list[date]) -> str:
    """The command that builds `days` of `table`: `shoprec clean --date D` or `--start A --end B`."""
    command = f"shoprec {BUILT_BY.get(table.name, 'ingest')}"
    if len(days) == 1:
        return f"{command} --date {days[0]}"
    return f"{command} --start {min(days)} --end {max(days)}"


def describe_days(days: list[date]) -> str:
    """`2026-01-03`, or `2026-01-03, 2026-01-05` (2 days), or `2026-01-01 .. 2026-01-30 (30 days)`."""
    if len(days) == 1:
        return days[0].isoformat()
    contiguous = (max(days) - min(days)).days + 1 == len(days)
    if contiguous:
        return f"{min(days)} .. {max(days)} ({len(days)} days)"
    shown = ", ".join(d.isoformat() for d in days[:5])
    more = f" and {len(days) - 5} more" if len(days) > 5 else ""
    return f"{shown}{more} ({len(days)} days)"


def require_days(
    spark: SparkSession, settings: Settings, table: Table, days: list[date], purpose: str = ""
) -> None:
    """Fail with MissingInputError unless every day of `days` is present in `table` (see the module docstring).

    Args:
        spark: A session with the catalog registered.
        settings: Where the lake lives.
        table: A date-partitioned catalog table.
        days: The days (partition values) the job needs.
        purpose: Why they are needed, appended to the message (e.g. "(the features of label day …)").
    """
    missing = missing_days(spark, settings, table, sorted(set(days)))
    if missing and table.name in QUIET_DAY_TABLES:
        ingested_empty = empty_days(spark, settings, missing)
        missing = [day for day in missing if day not in ingested_empty]
    if missing:
        why = f" {purpose}" if purpose else ""
        raise MissingInputError(
            f"{table.name} has no rows for {describe_days(missing)}{why}: run {fix_command(table, missing)}"
        )


def shifted(days: list[date], offset: int) -> list[date]:
    """`days` moved by `offset` days (e.g. -1: the features dates of label days)."""
    return [day + timedelta(days=offset) for day in days]
