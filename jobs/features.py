"""Features job: the per-day aggregates of clean.events -> the four feature tables for each as_of_date.

Point in time: a row for as_of_date D is computed only from events dated on or before D (and
item attributes valid on D). Windows are 1, 7 and 30 days ending on D: an event of day E counts
in the w-day window of D when 0 <= D - E < w.

Incremental: a run for as_of days start..end first stores the per-day aggregates of its days (and of
look-back days that lack them; `jobs.feature_aggregates`), so the daily run reads one day of events.
The features are then sums over the stored aggregates of start - 29 .. end: each daily row is
*spread* to every as_of_date whose 30-day window contains it, so a range of N days reads N + 29 days
of aggregates once.

Notation: `age` = as_of_date - event_date in days.

Sparse logs (null rules): real logs often lack whole event types (no clicks, no favourites, only
purchases) or prices. What a shop's 30-day window ending on D holds decides which features mean
something on D (`window_contents`): a rate whose event types the window lacks is null (not a
constant 0 that looks like signal); funnel rates use the stages the log has (the exposure stage
is views, else clicks); money features are null when the window holds no prices. Counts of an
absent type are 0 (nothing happened), and a denominator of 0 for one user gives 0 as before.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import feature_aggregates
from jobs.clean import join_item_attributes
from jobs.feature_aggregates import HORIZON, DailyAggregates
from shoprec import catalog, engine, inputs
from shoprec.catalog import WINDOWS, Table
from shoprec.config import Settings
from shoprec.dates import days_between
from shoprec.engine import Scratch
from shoprec.vocabulary import EVENT_KINDS

FEATURE_TABLES = (catalog.USER_DAILY, catalog.ITEM_DAILY, catalog.USER_CATEGORY, catalog.ITEM_COOCCURRENCE)
AFFINITY_HALF_LIFE_DAYS = 7.0
RATE_PRIOR_VIEWS = 20.0  # pseudo-views of the catalogue-wide rate mixed into each item's rates
TOP_PARTNERS = 50


@dataclass(frozen=True)
class FeatureStats:
    """Rows written per feature table for a range of as_of dates."""

    start: date
    end: date
    rows: dict[str, int]

    def summary(self) -> str:
        """One line for logs and the CLI."""
        counts = ", ".join(f"{name} {n:,}" for name, n in self.rows.items())
        return f"features {self.start}..{self.end}: {counts}"


def spread(
    daily: DataFrame,
    start: date,
    end: date,
    *,
    days: int = HORIZON,
    on: str = "as_of_date",
    age: str = "age",
) -> DataFrame:
    """Repeat each dated row for every day in [start, end] whose `days`-day window holds its event_date.

    Args:
        daily: Rows with an event_date.
        start: First day.
        end: Last day.
        days: The window's length in days, ending on (and including) the day.
        on: The name of the day column added.
        age: The name of the column added for the days from event_date to that day (0 on the day).
    """
    first = F.greatest(F.col("event_date"), F.lit(start))
    last = F.least(F.date_add(F.col("event_date"), days - 1), F.lit(end))
    return (
        daily.where(first <= last)
        .withColumn(on, F.explode(F.sequence(first, last)))
        .withColumn(age, F.datediff(F.col(on), F.col("event_date")))
    )


def _windowed_sums() -> list[Column]:
    return [
        F.coalesce(F.sum(F.when(F.col("age") < w, F.col(name))), F.lit(0)).alias(f"{name}_{w}d")
        for name in EVENT_KINDS.values()
        for w in WINDOWS
    ]


def _ratio(numerator: Column, denominator: Column) -> Column:
    """Numerator / denominator in [0, 1]; 0 when the denominator is 0."""
    return F.when(denominator > 0, F.least(F.lit(1.0), numerator / denominator)).otherwise(0.0)


def window_contents(item_days: DataFrame, start: date, end: date) -> DataFrame:
    """Per as_of_date in [start, end], which event types and whether prices the shop's 30-day window holds.

    Args:
        item_days: features.item_day_counts rows (the shop's day is the sum over its items).
        start: First as_of date.
        end: Last as_of date.

    Returns:
        (as_of_date, has_views, has_clicks, has_carts, has_favs, has_purchases, has_prices) booleans.
    """
    kinds = [*EVENT_KINDS.values(), "priced_events"]
    daily = item_days.groupBy("event_date").agg(*[F.sum(name).alias(name) for name in kinds])
    return (
        spread(daily, start, end)
        .groupBy("as_of_date")
        .agg(
            *[(F.sum(name) > 0).alias(f"has_{name}") for name in EVENT_KINDS.values()],
            (F.sum("priced_events") > 0).alias("has_prices"),
        )
    )


def _exposure(window: str) -> Column:
    """The top funnel stage the log has over `window` (e.g. "30d"): views, else clicks."""
    return F.when(F.col("has_views"), F.col(f"views_{window}")).otherwise(F.col(f"clicks_{window}"))


def _if(condition: Column, value: Column) -> Column:
    """`value` where `condition` holds, else null (a feature whose inputs the log lacks)."""
    return F.when(condition, value)


def user_category(user_category_days: DataFrame, start: date, end: date) -> DataFrame:
    """features.user_category: decayed, type-weighted affinity per user and category, ranked per user.

    The affinity sums its days in a fixed order (age 0, 1, …), so equal histories give bit-equal
    affinities whatever order the engine meets the rows in, and ties rank by category_id every time
    (a sum in the engine's order differs in the last bit from run to run, and flips such ties).

    Args:
        user_category_days: features.user_category_day_counts rows.
        start: First as_of date.
        end: Last as_of date.
    """
    decayed = [
        F.coalesce(F.sum(F.when(F.col("age") == age, F.col("affinity_weight"))), F.lit(0.0))
        * F.pow(F.lit(0.5), F.lit(age / AFFINITY_HALF_LIFE_DAYS))
        for age in range(HORIZON)
    ]
    scores = (
        spread(user_category_days, start, end)
        .groupBy("user_id", "category_id", "as_of_date")
        .agg(
            reduce(operator.add, decayed).alias("affinity"),
            F.sum("events").alias("events_30d"),
            F.sum("purchases").alias("purchases_30d"),
        )
    )
    per_user = Window.partitionBy("user_id", "as_of_date")
    ranked = Window.partitionBy("user_id", "as_of_date").orderBy(F.desc("affinity"), "category_id")
    return scores.withColumn(
        "affinity_share", F.least(F.lit(1.0), F.col("affinity") / F.sum("affinity").over(per_user))
    ).withColumn("category_rank", F.row_number().over(ranked))


def user_daily(
    daily: DailyAggregates, categories: DataFrame, contents: DataFrame, start: date, end: date
) -> DataFrame:
    """features.user_daily from the per-day aggregates, the range's features.user_category and `window_contents`."""
    counts = (
        spread(daily.users, start, end)
        .groupBy("user_id", "as_of_date")
        .agg(
            *_windowed_sums(),
            F.count(F.lit(1)).alias("active_days_30d"),
            F.min("age").alias("days_since_last_event"),
            F.min(F.when(F.col("purchases") > 0, F.col("age"))).alias("days_since_last_purchase"),
            F.sum("spend").alias("spend_30d"),
            F.sum("priced_purchases").alias("_priced_purchases"),
        )
    )
    items = (
        spread(daily.user_items, start, end)
        .groupBy("user_id", "as_of_date")
        .agg(F.countDistinct("item_id").alias("distinct_items_30d"))
    )
    user_categories = (
        spread(daily.user_categories, start, end)
        .groupBy("user_id", "as_of_date")
        .agg(F.countDistinct("category_id").alias("distinct_categories_30d"))
    )
    top = (
        categories.where(F.col("category_rank") <= 3)
        .groupBy("user_id", "as_of_date")
        .agg(
            *[
                F.max(F.when(F.col("category_rank") == k, F.col("category_id"))).alias(f"top_category_{k}")
                for k in (1, 2, 3)
            ]
        )
    )
    exposed = F.col("has_views") | F.col("has_clicks")
    cart_base = F.when(F.col("has_clicks"), F.col("clicks_30d")).otherwise(F.col("views_30d"))
    return (
        counts.join(items, ["user_id", "as_of_date"], "left")
        .join(user_categories, ["user_id", "as_of_date"], "left")
        .join(top, ["user_id", "as_of_date"], "left")
        .join(contents, "as_of_date")
        .withColumns(
            {
                "distinct_categories_30d": F.coalesce(F.col("distinct_categories_30d"), F.lit(0)),
                "click_rate_30d": _if(
                    F.col("has_views") & F.col("has_clicks"), _ratio(F.col("clicks_30d"), F.col("views_30d"))
                ),
                "cart_rate_30d": _if(F.col("has_carts") & exposed, _ratio(F.col("carts_30d"), cart_base)),
                "purchase_rate_30d": _if(
                    F.col("has_purchases") & exposed, _ratio(F.col("purchases_30d"), _exposure("30d"))
                ),
                "spend_30d": _if(F.col("has_prices"), F.col("spend_30d")),
                "avg_price_paid_30d": F.when(
                    F.col("_priced_purchases") > 0, F.col("spend_30d") / F.col("_priced_purchases")
                ),
            }
        )
    )


def item_daily(
    daily: DailyAggregates, items: DataFrame, contents: DataFrame, start: date, end: date
) -> DataFrame:
    """features.item_daily from the per-day aggregates, the item attribute history (as of each as_of_date) and `window_contents`.

    Rates are smoothed towards the catalogue-wide rate of the day with RATE_PRIOR_VIEWS pseudo-exposures;
    the trend compares all interactions of 7 and 30 days, so it also means something in logs without views.
    """
    counts = (
        spread(daily.items, start, end)
        .groupBy("item_id", "as_of_date")
        .agg(
            *_windowed_sums(),
            F.when(F.sum("priced_events") > 0, F.sum("price_sum") / F.sum("priced_events")).alias(
                "event_price_30d"
            ),
        )
    )
    reach = (
        spread(daily.user_items, start, end)
        .groupBy("item_id", "as_of_date")
        .agg(
            F.countDistinct(F.when(F.col("age") < 7, F.col("user_id"))).alias("users_7d"),
            F.countDistinct("user_id").alias("users_30d"),
        )
    )
    catalogue = {name: name for name in ("category_id", "brand_id", "price", "listed_date")}
    per_day = Window.partitionBy("as_of_date")
    exposure = _exposure("30d")
    prior_click = F.sum("clicks_30d").over(per_day) / F.greatest(F.sum("views_30d").over(per_day), F.lit(1))
    prior_buy = F.sum("purchases_30d").over(per_day) / F.greatest(F.sum(exposure).over(per_day), F.lit(1))
    interactions = {
        w: sum((F.col(f"{name}_{w}d") for name in EVENT_KINDS.values()), F.lit(0)) for w in (7, 30)
    }
    m = F.lit(RATE_PRIOR_VIEWS)
    return (
        join_item_attributes(
            counts.join(reach, ["item_id", "as_of_date"], "left"),
            items,
            "as_of_date",
            catalogue,
            "catalog_item_id",
        )
        .join(contents, "as_of_date")
        .withColumns(
            {"_prior_click": F.least(F.lit(1.0), prior_click), "_prior_buy": F.least(F.lit(1.0), prior_buy)}
        )
        .withColumns(
            {
                "click_rate_30d": _if(
                    F.col("has_views") & F.col("has_clicks"),
                    F.least(
                        F.lit(1.0),
                        (F.col("clicks_30d") + m * F.col("_prior_click")) / (F.col("views_30d") + m),
                    ),
                ),
                "conversion_rate_30d": _if(
                    F.col("has_purchases") & (F.col("has_views") | F.col("has_clicks")),
                    F.least(F.lit(1.0), (F.col("purchases_30d") + m * F.col("_prior_buy")) / (exposure + m)),
                ),
                "trend_7d_vs_30d": (interactions[7] / 7.0 + 1.0) / (interactions[30] / 30.0 + 1.0),
                "price": F.coalesce(F.col("price"), F.col("event_price_30d")),
                "days_since_listed": F.datediff(F.col("as_of_date"), F.col("listed_date")).cast("bigint"),
            }
        )
    )


def item_cooccurrence(daily: DailyAggregates, as_of: date, top_n: int = TOP_PARTNERS) -> DataFrame:
    """features.item_cooccurrence for one as_of_date from the per-day pair and session counts.

    One day at a time on purpose: the pairs of a 30-day window are many, and spreading them to
    several as_of dates at once multiplies them (memory) before the top-N trim. The stored pairs
    hold each pair once (item_id < other_item_id); both directions are ranked.
    """
    window = F.col("event_date").between(F.lit(as_of - timedelta(days=HORIZON - 1)), F.lit(as_of))
    item_sessions = (
        daily.items.where(window & (F.col("sessions") > 0))
        .groupBy("item_id")
        .agg(F.sum("sessions").alias("_mine"))
    )
    theirs = item_sessions.select(F.col("item_id").alias("other_item_id"), F.col("_mine").alias("_theirs"))
    scored = (
        daily.item_pairs.where(window)
        .groupBy("item_id", "other_item_id")
        .agg(
            F.sum("co_view_sessions").alias("co_view_sessions"),
            F.sum("co_buy_sessions").alias("co_buy_sessions"),
        )
        .join(item_sessions, "item_id")
        .join(theirs, "other_item_id")
        .withColumn(
            "score",
            F.least(F.lit(1.0), F.col("co_view_sessions") / F.sqrt(F.col("_mine") * F.col("_theirs"))),
        )
    )
    forward = F.explode(F.array(F.lit(True), F.lit(False)))  # each pair once per direction, one pass
    both_ways = scored.withColumn("_forward", forward).select(
        F.when(F.col("_forward"), F.col("item_id")).otherwise(F.col("other_item_id")).alias("item_id"),
        F.when(F.col("_forward"), F.col("other_item_id")).otherwise(F.col("item_id")).alias("other_item_id"),
        "co_view_sessions",
        "co_buy_sessions",
        "score",
    )
    ranked = Window.partitionBy("item_id").orderBy(
        F.desc("score"), F.desc("co_buy_sessions"), "other_item_id"
    )
    return (
        both_ways.withColumn("pair_rank", F.row_number().over(ranked))
        .where(F.col("pair_rank") <= top_n)
        .withColumn("as_of_date", F.lit(as_of))
    )


def range_features(
    daily: DailyAggregates, items: DataFrame, start: date, end: date, scratch: Scratch
) -> dict[Table, DataFrame]:
    """user_category, user_daily and item_daily for as_of dates start..end from the aggregates of start - 29 .. end.

    Args:
        daily: The per-day aggregates (stored, or computed from events).
        items: clean.items (the attribute history).
        start: First as_of date.
        end: Last as_of date.
        scratch: Where the frames several tables use are materialised.
    """
    categories = scratch.materialize(user_category(daily.user_categories, start, end), "user_category")
    contents = scratch.materialize(window_contents(daily.items, start, end), "window_contents")
    return {
        catalog.USER_CATEGORY: categories,
        catalog.USER_DAILY: user_daily(daily, categories, contents, start, end),
        catalog.ITEM_DAILY: item_daily(daily, items, contents, start, end),
    }


def run(spark: SparkSession, settings: Settings, start: date, end: date | None = None) -> FeatureStats:
    """Build all feature tables for as_of dates start..end from the per-day aggregates.

    First stores the aggregates of start..end and of look-back days that lack them
    (`feature_aggregates.refresh`), then reads those of start - 29 .. end. user_daily, item_daily
    and user_category replace the whole range in one commit each; item_cooccurrence replaces one
    as_of partition per commit (see `item_cooccurrence`).

    Raises:
        MissingInputError: clean.events lacks an as_of day of the range (one the source did not
            declare empty); earlier days of the windows may be absent (the lake's first month).
    """
    end = end or start
    inputs.require_days(spark, settings, catalog.CLEAN_EVENTS, list(days_between(start, end)))
    feature_aggregates.refresh(spark, settings, start, end)
    daily = feature_aggregates.stored(spark, settings, start - timedelta(days=HORIZON - 1), end)
    items = engine.read(spark, catalog.CLEAN_ITEMS, settings)
    with engine.scratch(spark, settings) as scratch:
        for table, frame in range_features(daily, items, start, end, scratch).items():
            engine.replace_range(frame, table, settings, start, end)
        for as_of in days_between(start, end):
            engine.replace_partition(
                item_cooccurrence(daily, as_of), catalog.ITEM_COOCCURRENCE, settings, {"as_of_date": as_of}
            )
    rows = {
        table.name: engine.read(spark, table, settings)
        .where(engine.range_predicate(table, start, end))
        .count()
        for table in FEATURE_TABLES
    }
    return FeatureStats(start=start, end=end, rows=rows)
