"""Clean job: raw tables -> clean.events (per day), clean.items and clean.users (attribute history).

clean.items / clean.users keep every attribute change as a period (`valid_from` .. `valid_to`,
exclusive), so a reader as of any day sees the attributes of that day: features built for past
days never see later prices or categories. They are rebuilt from the raw exports in one commit.

clean.events takes a day of raw.events (already typed and de-duplicated by ingest), fills
`category_id` and `price` from the item attributes valid on that day where the source had none,
and gives every event a session: the source's, or for sources without sessions (behaviour log)
a new session after 30 minutes without events of that user.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shoprec import catalog, engine, inputs
from shoprec.config import Settings
from shoprec.dates import days_between

SESSION_GAP_SECONDS = 30 * 60


@dataclass(frozen=True)
class CleanStats:
    """Rows written by one clean run."""

    start: date
    end: date
    events: int
    items: int
    users: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"clean {self.start}..{self.end}: {self.events:,} events, item history {self.items:,} rows, "
            f"user history {self.users:,} rows"
        )


def attribute_history(exports: DataFrame, key: str, attributes: Sequence[str]) -> DataFrame:
    """Collapse daily export rows into periods of unchanged attributes (SCD type 2).

    Args:
        exports: Rows with `key`, `attributes` and `export_date` (several exports per key and day allowed).
        key: The entity id column.
        attributes: Columns whose change opens a new period; a null in an export keeps the previous value.

    Returns:
        One row per key and period: key, attributes, first_seen_date, valid_from, valid_to, is_current.
    """
    # Several rows for one key in one day's export: take the largest non-null value (deterministic).
    per_day = exports.groupBy(key, "export_date").agg(*[F.max(a).alias(a) for a in attributes])
    history = Window.partitionBy(key).orderBy("export_date")
    carried = per_day.select(
        key,
        "export_date",
        *[
            F.last(F.col(a), ignorenulls=True)
            .over(history.rowsBetween(Window.unboundedPreceding, 0))
            .alias(a)
            for a in attributes
        ],
        F.min("export_date").over(Window.partitionBy(key)).alias("first_seen_date"),
    )
    changed: Column = F.lag("export_date").over(history).isNull()  # the key's first export
    for a in attributes:
        changed = changed | ~F.col(a).eqNullSafe(F.lag(a).over(history))
    starts = carried.withColumn("_changed", changed).where("_changed")
    return starts.select(
        key,
        *attributes,
        "first_seen_date",
        F.col("export_date").alias("valid_from"),
        F.lead("export_date").over(history).alias("valid_to"),
    ).withColumn("is_current", F.col("valid_to").isNull())


def valid_on(day: Column) -> Column:
    """Condition selecting the rows of an attribute history whose period contains `day`."""
    return (F.col("valid_from") <= day) & (F.col("valid_to").isNull() | (day < F.col("valid_to")))


def join_item_attributes(
    rows: DataFrame, items: DataFrame, day: str, attributes: Mapping[str, str], key: str
) -> DataFrame:
    """`rows` left-joined with the attributes of their item valid on their `day` (an item attribute history).

    Args:
        rows: Rows with item_id and the date column `day`.
        items: An item attribute history such as clean.items (item_id, valid_from, valid_to, ...).
        day: The date column of `rows` whose value selects the period.
        attributes: {history column: its name in the result}.
        key: The name of the history's item_id in the result.

    Returns:
        `rows` with `key`, the renamed attributes, valid_from and valid_to (nulls where no period holds
        the day).
    """
    history = items.select(
        F.col("item_id").alias(key),
        *[F.col(column).alias(name) for column, name in attributes.items()],
        "valid_from",
        "valid_to",
    )
    return rows.join(history, (F.col("item_id") == F.col(key)) & valid_on(F.col(day)), "left")


def sessionize(events: DataFrame, gap_seconds: int = SESSION_GAP_SECONDS) -> DataFrame:
    """Fill missing session ids: a user's new session starts after `gap_seconds` without events.

    Sessions are cut at midnight (UTC), so re-cleaning one day always yields the same ids.
    """
    order = Window.partitionBy("user_id", "event_date").orderBy("event_ts", "event_id")
    # One window per step: Sail cannot plan a window function nested inside another's input.
    steps = (
        events.where(F.col("session_id").isNull())
        .withColumn("_seconds", F.col("event_ts").cast("bigint"))
        .withColumn("_previous", F.lag("_seconds").over(order))
        .withColumn(
            "_start",
            F.when(
                F.col("_previous").isNull() | (F.col("_seconds") - F.col("_previous") > gap_seconds),
                F.col("_seconds"),
            ),
        )
        .withColumn(
            "_session_start",
            F.last("_start", ignorenulls=True).over(order.rowsBetween(Window.unboundedPreceding, 0)),
        )
    )
    derived = steps.withColumn(
        "session_id",
        F.concat(
            F.lit("u"), F.col("user_id").cast("string"), F.lit("-"), F.col("_session_start").cast("string")
        ),
    ).drop("_seconds", "_previous", "_start", "_session_start")
    return events.where(F.col("session_id").isNotNull()).unionByName(derived)


def clean_events(raw_events: DataFrame, items: DataFrame) -> DataFrame:
    """clean.events rows from raw.events rows, with item attributes as valid on each event's day."""
    catalogue = {"category_id": "catalog_category_id", "price": "catalog_price"}
    joined = join_item_attributes(raw_events, items, "event_date", catalogue, "catalog_item_id").select(
        "event_id",
        "user_id",
        "item_id",
        F.coalesce("category_id", "catalog_category_id").alias("category_id"),
        "event_type",
        "event_ts",
        "session_id",
        F.coalesce("price", "catalog_price").alias("price"),
        "event_date",
    )
    return sessionize(joined)


def run(spark: SparkSession, settings: Settings, start: date, end: date | None = None) -> CleanStats:
    """Rebuild clean.items and clean.users, then replace clean.events for start..end in one commit.

    Raises:
        MissingInputError: raw.events lacks a day of the range that the source did not declare empty.
    """
    end = end or start
    inputs.require_days(spark, settings, catalog.RAW_EVENTS, list(days_between(start, end)))
    raw_items = engine.read(spark, catalog.RAW_ITEMS, settings)
    item_attributes = ["category_id", "brand_id", "price", "listed_date"]
    with engine.scratch(spark, settings) as scratch:
        items = scratch.materialize(attribute_history(raw_items, "item_id", item_attributes), "items")
        users = attribute_history(
            engine.read(spark, catalog.RAW_USERS, settings), "user_id", ["signup_date", "country", "age_band"]
        )
        engine.overwrite(items, catalog.CLEAN_ITEMS, settings)
        engine.overwrite(users, catalog.CLEAN_USERS, settings)
        raw = engine.read(spark, catalog.RAW_EVENTS, settings).where(
            engine.range_predicate(catalog.RAW_EVENTS, start, end)
        )
        engine.replace_range(clean_events(raw, items), catalog.CLEAN_EVENTS, settings, start, end)
    count = engine.read(spark, catalog.CLEAN_EVENTS, settings)
    return CleanStats(
        start=start,
        end=end,
        events=count.where(engine.range_predicate(catalog.CLEAN_EVENTS, start, end)).count(),
        items=engine.read(spark, catalog.CLEAN_ITEMS, settings).count(),
        users=engine.read(spark, catalog.CLEAN_USERS, settings).count(),
    )
