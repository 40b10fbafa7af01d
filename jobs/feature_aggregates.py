"""Per-day aggregates of clean.events: the stored inputs of the feature windows.

Features as of D need the events of D - 29 .. D. Instead of re-reading them every day, the features
job keeps five tables partitioned by event_date, each summing one day's events per key:

    features.user_day_counts           per user: events by type, spend, priced purchases
    features.item_day_counts           per item: events by type, event prices, sessions
    features.user_category_day_counts  per user and category: affinity weight, events, purchases
    features.user_item_day_counts      per user and item: events (distinct items, distinct users)
    features.item_pair_day_counts      per unordered item pair: sessions holding both, buying both

and the features of D sum the stored rows of D - 29 .. D (`jobs.features`). Every per-day sum depends
on that day's events only, so the windows built from them equal those built from the events.

Which days are (re)computed from clean.events (`days_to_refresh`): every day of the run's range
start..end, and every day of the 29-day look-back before start that has events but no aggregates
(a lake's first run, days cleaned but never featurised). A day's aggregates are rewritten whenever
features run for that day; a look-back day that has them is not read again. So after clean.events
of a day is rebuilt (re-ingest, re-clean), rerun features for that day, as the DAG's rerun of a day
does, before later days use it.

user_day_counts is written last: a day present there has all five (a run killed between the writes
leaves the day missing, and the next run that needs it computes it again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shoprec import catalog, engine, inputs
from shoprec.catalog import WINDOWS, Table
from shoprec.config import Settings
from shoprec.dates import days_between
from shoprec.engine import Scratch
from shoprec.vocabulary import AFFINITY_WEIGHTS, EVENT_KINDS

HORIZON = max(WINDOWS)
"""The longest feature window in days: features as of D read the aggregates of D - HORIZON + 1 .. D."""
MAX_ITEMS_PER_SESSION = 20  # bounds the pairs a single long session contributes (n^2)
AGGREGATE_TABLES = (
    catalog.ITEM_PAIR_DAY_COUNTS,
    catalog.USER_ITEM_DAY_COUNTS,
    catalog.USER_CATEGORY_DAY_COUNTS,
    catalog.ITEM_DAY_COUNTS,
    catalog.USER_DAY_COUNTS,  # last: the day's completion mark (see the module notes)
)
"""The per-day tables in the order a run writes them."""
_EVENT_COLUMNS = ("user_id", "item_id", "category_id", "event_type", "event_ts", "session_id", "price")


@dataclass(frozen=True)
class DailyAggregates:
    """One frame per per-day table, with the table's columns (computed from events, or read back)."""

    users: DataFrame
    items: DataFrame
    user_categories: DataFrame
    user_items: DataFrame
    item_pairs: DataFrame

    def by_table(self) -> dict[Table, DataFrame]:
        """Each frame keyed by its table, in writing order."""
        frames = {
            catalog.USER_DAY_COUNTS: self.users,
            catalog.ITEM_DAY_COUNTS: self.items,
            catalog.USER_CATEGORY_DAY_COUNTS: self.user_categories,
            catalog.USER_ITEM_DAY_COUNTS: self.user_items,
            catalog.ITEM_PAIR_DAY_COUNTS: self.item_pairs,
        }
        return {table: frames[table] for table in AGGREGATE_TABLES}


def kind_counts() -> list[Column]:
    """Events per type, named by the type's plural (views, clicks, …)."""
    return [F.count(F.when(F.col("event_type") == kind, 1)).alias(name) for kind, name in EVENT_KINDS.items()]


def _session_items(events: DataFrame) -> DataFrame:
    """(event_date, session_id, item_id, bought): each session's MAX_ITEMS_PER_SESSION most recent items."""
    by_session = Window.partitionBy("event_date", "session_id").orderBy(F.desc("last_ts"), "item_id")
    return (
        events.groupBy("event_date", "session_id", "item_id")
        .agg(
            F.max("event_ts").alias("last_ts"),
            F.max(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("bought"),
        )
        .withColumn("_position", F.row_number().over(by_session))
        .where(F.col("_position") <= MAX_ITEMS_PER_SESSION)
        .drop("_position", "last_ts")
    )


def _item_pairs(session_items: DataFrame) -> DataFrame:
    """Per unordered pair (item_id < other_item_id) and day: sessions holding both, sessions buying both."""
    a, b = session_items.alias("a"), session_items.alias("b")
    same_session = (F.col("a.event_date") == F.col("b.event_date")) & (
        F.col("a.session_id") == F.col("b.session_id")
    )
    return (
        a.join(b, same_session)
        .where(F.col("a.item_id") < F.col("b.item_id"))
        .groupBy(
            F.col("a.item_id").alias("item_id"),
            F.col("b.item_id").alias("other_item_id"),
            F.col("a.event_date").alias("event_date"),
        )
        .agg(
            F.count(F.lit(1)).alias("co_view_sessions"),
            F.count(F.when((F.col("a.bought") == 1) & (F.col("b.bought") == 1), 1)).alias("co_buy_sessions"),
        )
    )


def from_events(events: DataFrame, scratch: Scratch) -> DailyAggregates:
    """The per-day aggregates of every day `events` (rows of clean.events) hold; lazy but for the sessions."""
    events = events.select(*_EVENT_COLUMNS, "event_date")
    bought = F.col("event_type") == "purchase"
    session_items = scratch.materialize(_session_items(events), "session_items")
    sessions = session_items.groupBy("item_id", "event_date").agg(F.count(F.lit(1)).alias("sessions"))
    weight = F.coalesce(*[F.when(F.col("event_type") == k, F.lit(w)) for k, w in AFFINITY_WEIGHTS.items()])
    return DailyAggregates(
        users=events.groupBy("user_id", "event_date").agg(
            *kind_counts(),
            F.coalesce(F.sum(F.when(bought, F.col("price"))), F.lit(0.0)).alias("spend"),
            F.count(F.when(bought, F.col("price"))).alias("priced_purchases"),
        ),
        items=events.groupBy("item_id", "event_date")
        .agg(*kind_counts(), F.sum("price").alias("price_sum"), F.count("price").alias("priced_events"))
        .join(sessions, ["item_id", "event_date"], "left")
        .withColumn("sessions", F.coalesce(F.col("sessions"), F.lit(0))),
        user_categories=events.where(F.col("category_id").isNotNull())
        .groupBy("user_id", "category_id", "event_date")
        .agg(
            F.sum(weight).alias("affinity_weight"),
            F.count(F.lit(1)).alias("events"),
            F.count(F.when(bought, 1)).alias("purchases"),
        ),
        user_items=events.groupBy("user_id", "item_id", "event_date").agg(F.count(F.lit(1)).alias("events")),
        item_pairs=_item_pairs(session_items),
    )


def stored(spark: SparkSession, settings: Settings, first: date, last: date) -> DailyAggregates:
    """The stored per-day aggregates of the days first..last."""

    def read(table: Table) -> DataFrame:
        return engine.read(spark, table, settings).where(engine.range_predicate(table, first, last))

    return DailyAggregates(
        users=read(catalog.USER_DAY_COUNTS),
        items=read(catalog.ITEM_DAY_COUNTS),
        user_categories=read(catalog.USER_CATEGORY_DAY_COUNTS),
        user_items=read(catalog.USER_ITEM_DAY_COUNTS),
        item_pairs=read(catalog.ITEM_PAIR_DAY_COUNTS),
    )


def days_to_refresh(spark: SparkSession, settings: Settings, start: date, end: date) -> list[date]:
    """start..end, plus the look-back days before start that have events but no aggregates (module notes)."""
    look_back = list(days_between(start - timedelta(days=HORIZON - 1), start - timedelta(days=1)))
    without_events = set(inputs.missing_days(spark, settings, catalog.CLEAN_EVENTS, look_back))
    unaggregated = inputs.missing_days(spark, settings, catalog.USER_DAY_COUNTS, look_back)
    return [day for day in unaggregated if day not in without_events] + list(days_between(start, end))


def runs_of_days(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    ordered = sorted(set(days))
    runs = groupby(enumerate(ordered), key=lambda pair: pair[1] - timedelta(days=pair[0]))
    return [(group[0][1], group[-1][1]) for group in (list(g) for _, g in runs)]


def refresh(spark: SparkSession, settings: Settings, start: date, end: date) -> list[date]:
    """Compute and store the per-day aggregates of `days_to_refresh`; returns those days.

    One Delta commit per table and run of consecutive days, user_day_counts last.
    """
    days = days_to_refresh(spark, settings, start, end)
    events = engine.read(spark, catalog.CLEAN_EVENTS, settings)
    for first, last in runs_of_days(days):
        window = events.where(engine.range_predicate(catalog.CLEAN_EVENTS, first, last))
        with engine.scratch(spark, settings) as scratch:
            for table, frame in from_events(window, scratch).by_table().items():
                engine.replace_range(frame, table, settings, first, last)
    return days
