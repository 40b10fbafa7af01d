"""Training job: clean.events + feature tables -> training.examples, one partition per label_date.

For label day L the features are those as of F = L - 1 (features_date), never later:

- positives: the distinct (user, item) pairs with a click, cart, fav or purchase on L (views are
  not positives), labelled with the strongest of those events and its weight;
- negatives: per positive, `negatives_per_positive` items drawn from the items in
  features.item_daily as of F, with probability proportional to (views_7d + 1) ** 0.75
  (popularity-aware, flattened), minus every item the user touched on L (views included);
- features: user, item, user x category and user x item columns as of F, missing values filled
  as the catalog's column comments say. Item attributes (category, brand, price, listing day)
  come from features.item_daily as of F, else from clean.items valid on F, else 0. An item
  without item features gets the day's catalogue-wide click / conversion rate, which is the
  prior jobs/features.py smooths every item's rates towards (see `item_features`).

Negative sampling is an equi-join, not a range join: each features_date has a *slot table* of M
slots shared out among the items by cumulative weight (an item owns p_item * M consecutive slots,
rounded), and each draw is the slot pmod(xxhash64(user, positive item, label_date, k, seed), M).
M = max(NEGATIVE_SLOTS, SLOTS_PER_ITEM x items, up to a power of two). Draws are oversampled
(`OVERSAMPLE`), de-duplicated per (user, label_date), cleaned of touched items and trimmed to
`negatives_per_positive` x the user's positives, lowest draw hash first, so a fixed seed always
gives the same rows.

Rows are written in a deterministic shuffled order within each label_date (by a hash of user,
item, label_date and the seed, see `write_order`): a trainer streams them in file order and must
not see one user's rows together.

A label day needs clean.events on L and features.user_daily / item_daily as of F; without them
the run fails with a ValueError naming the table and the day, before writing anything.

Notation: L = label_date, F = features_date = L - 1; "the week up to F" = days F - 6 .. F.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.ranking_rows import (
    RECENT_DAYS,
    recent_item_ranks,
    with_item_features,
    with_pair_features,
    with_user_features,
)
from shoprec import catalog, inputs
from shoprec import spark as engine
from shoprec.catalog import Table
from shoprec.config import Settings
from shoprec.dates import days_between

# Positive event types: (strength, weight). The strongest event of a (user, item, day) labels it.
POSITIVE_EVENTS = {"purchase": (4, 4.0), "cart": (3, 2.0), "fav": (2, 2.0), "click": (1, 1.0)}
NEGATIVE_EVENT = "negative"
NEGATIVE_WEIGHT = 1.0
NEGATIVE_SLOTS = 2**17  # slots of the sampling table per features_date, at least (see `slot_count`)
SLOTS_PER_ITEM = 8  # larger catalogues get more slots, so rare items are not rounded away
POPULARITY_EXPONENT = 0.75  # p(item) ~ (views_7d + 1) ** 0.75, as word2vec's unigram ** 0.75
OVERSAMPLE = 2  # draws per wanted negative, so duplicates and touched items rarely leave a user short
DEFAULT_SEED = 20260101


@dataclass(frozen=True)
class ExamplesStats:
    """Rows written to training.examples per label day, and the positive/negative split."""

    start: date
    end: date
    rows: dict[date, int]
    positives: int
    negatives: int

    def summary(self) -> str:
        """One line for logs and the CLI."""
        days = ", ".join(f"{day} {n:,}" for day, n in self.rows.items())
        return (
            f"examples {self.start}..{self.end}: {self.positives + self.negatives:,} rows "
            f"({self.positives:,} positives, {self.negatives:,} negatives); per label day: {days}"
        )


def _features_date(label_date: Column) -> Column:
    return F.date_sub(label_date, 1)


def positives(events: DataFrame) -> DataFrame:
    """Positive examples from the events of the label days.

    Args:
        events: clean.events rows of the label days (other event types are ignored).

    Returns:
        One row per (user_id, item_id, label_date) with a click, cart, fav or purchase:
        label 1, label_event (the strongest event), weight.
    """
    strength = F.coalesce(
        *[F.when(F.col("event_type") == kind, F.lit(s)) for kind, (s, _) in POSITIVE_EVENTS.items()]
    )
    strongest = F.col("_strength")
    return (
        events.where(F.col("event_type").isin(*POSITIVE_EVENTS))
        .groupBy("user_id", "item_id", F.col("event_date").alias("label_date"))
        .agg(F.max(strength).alias("_strength"))
        .select(
            "user_id",
            "item_id",
            "label_date",
            F.lit(1).alias("label"),
            F.coalesce(*[F.when(strongest == s, F.lit(k)) for k, (s, _) in POSITIVE_EVENTS.items()]).alias(
                "label_event"
            ),
            F.coalesce(*[F.when(strongest == s, F.lit(w)) for s, w in POSITIVE_EVENTS.values()]).alias(
                "weight"
            ),
        )
    )


def slot_count(items: int) -> int:
    """Slots of the sampling table for a day with `items` items: NEGATIVE_SLOTS, more for big catalogues.

    With at least SLOTS_PER_ITEM slots per item on average, an item of average weight owns about
    that many slots, so rounding changes its probability by about 1 / SLOTS_PER_ITEM at most.
    """
    return max(NEGATIVE_SLOTS, 1 << max(0, SLOTS_PER_ITEM * items - 1).bit_length())


def negative_slots(item_daily: DataFrame, slots: int = NEGATIVE_SLOTS) -> DataFrame:
    """The sampling table: `slots` slots per as_of_date, shared among items by popularity.

    Items are laid out in item_id order; an item with weight w = (views_7d + 1) ** 0.75 owns the
    slots from round(slots * cum_before / total) to round(slots * cum / total) - 1, so it gets
    floor or ceil of p * slots of them (items with p * slots well below 1 may get none).

    Args:
        item_daily: Items to sample per day (item_id, views_7d, as_of_date), e.g. `sampling_pool`.
        slots: Slots per day.

    Returns:
        (features_date, slot, item_id), one row per slot.
    """
    cumulative = Window.partitionBy("features_date").orderBy("item_id")
    running = cumulative.rowsBetween(Window.unboundedPreceding, 0)
    per_day = Window.partitionBy("features_date")
    # One window per step (Sail); the total is the last running sum, so it is summed in the same order.
    return (
        item_daily.select(
            "item_id",
            F.col("as_of_date").alias("features_date"),
            F.pow(F.coalesce(F.col("views_7d"), F.lit(0)) + 1.0, POPULARITY_EXPONENT).alias("_weight"),
        )
        .withColumn("_cumulative", F.sum("_weight").over(running))
        .withColumn("_total", F.max("_cumulative").over(per_day))
        .withColumn("_end", F.round(F.col("_cumulative") / F.col("_total") * slots).cast("bigint"))
        .withColumn("_start", F.lag("_end", 1, 0).over(cumulative))
        .where(F.col("_end") > F.col("_start"))
        .select(
            "features_date",
            F.explode(F.sequence(F.col("_start"), F.col("_end") - 1)).alias("slot"),
            "item_id",
        )
    )


def sampling_pool(items: DataFrame, item_daily: DataFrame, first: date, last: date) -> DataFrame:
    """Items a negative may be drawn from per features_date, with their 7-day views.

    The pool is the catalogue valid on the day (clean.items) plus any item with features; items
    without features count 0 views. Drawing from the whole catalogue keeps new and unviewed items
    among the negatives, so "no features" does not become a sign of a positive.

    Returns:
        (item_id, views_7d, as_of_date), as_of_date being the features_date.
    """
    day_from = F.greatest(F.col("valid_from"), F.lit(first))
    day_to = F.least(F.coalesce(F.date_sub(F.col("valid_to"), 1), F.lit(last)), F.lit(last))
    catalogue = (
        items.where(day_from <= day_to)
        .select("item_id", F.explode(F.sequence(day_from, day_to)).alias("as_of_date"))
        .unionByName(item_daily.select("item_id", "as_of_date"))
        .distinct()
    )
    views = item_daily.select("item_id", "as_of_date", "views_7d")
    return catalogue.join(views, ["item_id", "as_of_date"], "left").select(
        "item_id", F.coalesce(F.col("views_7d"), F.lit(0)).alias("views_7d"), "as_of_date"
    )


def negatives(
    positive: DataFrame,
    events: DataFrame,
    slot_table: DataFrame,
    negatives_per_positive: int,
    seed: int,
    slots: int = NEGATIVE_SLOTS,
) -> DataFrame:
    """Sampled negative examples: popular-ish items the user did not touch on the label day.

    Args:
        positive: Output of `positives`.
        events: clean.events rows of the label days (any event type on an item excludes it).
        slot_table: Output of `negative_slots` for the label days' features dates.
        negatives_per_positive: Negatives wanted per positive (a user gets up to this many times
            their positives; fewer only when the draws run out of untouched items).
        seed: Changes every draw; a fixed seed gives the same negatives.
        slots: Slot count of `slot_table`.

    Returns:
        (user_id, item_id, label_date, label 0, label_event 'negative', weight 1.0), unique per
        (user_id, item_id, label_date) and disjoint from the positives.
    """
    draws = negatives_per_positive * OVERSAMPLE
    touched = events.select("user_id", "item_id", F.col("event_date").alias("label_date")).distinct()
    quota = positive.groupBy("user_id", "label_date").agg(
        (F.count(F.lit(1)) * negatives_per_positive).alias("_quota")
    )
    by_user = Window.partitionBy("user_id", "label_date").orderBy("_draw", "item_id")
    return (
        positive.select(
            "user_id",
            F.col("item_id").alias("_positive_item"),
            "label_date",
            _features_date(F.col("label_date")).alias("features_date"),
        )
        .withColumn("_k", F.explode(F.sequence(F.lit(0), F.lit(draws - 1))))
        .withColumn("_draw", F.xxhash64("user_id", "_positive_item", "label_date", "_k", F.lit(seed)))
        .withColumn("slot", F.pmod(F.col("_draw"), F.lit(slots)))
        .join(slot_table, ["features_date", "slot"])
        .join(touched, ["user_id", "item_id", "label_date"], "left_anti")
        .groupBy("user_id", "item_id", "label_date")
        .agg(F.min("_draw").alias("_draw"))  # an item drawn twice keeps its best draw
        .join(quota, ["user_id", "label_date"])
        .withColumn("_rank", F.row_number().over(by_user))
        .where(F.col("_rank") <= F.col("_quota"))
        .select(
            "user_id",
            "item_id",
            "label_date",
            F.lit(0).alias("label"),
            F.lit(NEGATIVE_EVENT).alias("label_event"),
            F.lit(NEGATIVE_WEIGHT).alias("weight"),
        )
    )


def examples(
    labelled: DataFrame,
    *,
    user_daily: DataFrame,
    item_daily: DataFrame,
    user_category: DataFrame,
    cooccurrence: DataFrame,
    items: DataFrame,
    week_events: DataFrame,
    first: date,
    last: date,
) -> DataFrame:
    """training.examples rows: labelled (user, item, label_date) pairs with point-in-time features.

    The features come from `with_user_features`, `with_item_features` and `with_pair_features`,
    which jobs/candidates.py uses too, so the rows a ranker is trained on and the rows it scores
    cannot drift apart.

    Args:
        labelled: Positives and negatives (user_id, item_id, label_date, label, label_event, weight).
        user_daily: features.user_daily rows of the features dates.
        item_daily: features.item_daily rows of the features dates.
        user_category: features.user_category rows of the features dates.
        cooccurrence: features.item_cooccurrence rows of the features dates.
        items: clean.items (attribute history), the fallback for items without item features.
        week_events: clean.events rows from first - 6 to last (recent items, ui_seen_7d).
        first: First features_date.
        last: Last features_date.

    Returns:
        Every column of training.examples, missing values filled as the catalog documents.
    """
    rows = labelled.withColumn("features_date", _features_date(F.col("label_date")))
    ranks = recent_item_ranks(week_events, first, last)
    with_users = with_user_features(rows, user_daily=user_daily, ranks=ranks)
    with_items = with_item_features(with_users, item_daily=item_daily, items=items)
    joined = with_pair_features(
        with_items,
        user_category=user_category,
        cooccurrence=cooccurrence,
        ranks=ranks,
        week_events=week_events,
        first=first,
        last=last,
    )
    return engine.conform(joined, catalog.TRAINING_EXAMPLES)


def write_order(seed: int) -> list[Column]:
    """The order of the rows in the files: by label_date, then a hash of (user, item, label_date, seed).

    A fixed shuffle: reruns write the same order, and a trainer streaming a day's files sees users
    and items mixed (user_id and item_id only break hash ties).
    """
    key = F.xxhash64("user_id", "item_id", "label_date", F.lit(seed))
    return [F.col("label_date"), key, F.col("user_id"), F.col("item_id")]


def check_inputs(spark: SparkSession, settings: Settings, label_days: list[date]) -> None:
    """Fail naming the table, the days and the command to run when an input partition is missing.

    Each label day L needs clean.events on L and features.user_daily / features.item_daily as of
    L - 1 (user_category and item_cooccurrence may legitimately be empty for a day).
    """
    inputs.require_days(spark, settings, catalog.CLEAN_EVENTS, label_days, "(label days)")
    for table in (catalog.USER_DAILY, catalog.ITEM_DAILY):
        inputs.require_days(
            spark,
            settings,
            table,
            inputs.shifted(label_days, -1),
            "(the features of the day before each label day)",
        )


def run(
    spark: SparkSession,
    settings: Settings,
    start: date,
    end: date | None = None,
    *,
    negatives_per_positive: int = 4,
    seed: int = DEFAULT_SEED,
) -> ExamplesStats:
    """Build training.examples for label days start..end and replace those partitions in one commit.

    Args:
        spark: A session with the catalog tables registered.
        settings: Where the lake lives.
        start: First label day.
        end: Last label day (included); defaults to start.
        negatives_per_positive: Negatives sampled per positive (0 writes positives only).
        seed: Seed of the negative draws and of the row shuffle; a fixed seed gives the same rows.

    Returns:
        Rows written per label day, positives and negatives.

    Raises:
        ValueError: An input partition is missing (names the table and the day), or a bad argument.
    """
    end = end or start
    label_days = list(days_between(start, end))
    if negatives_per_positive < 0:
        raise ValueError(f"negatives_per_positive must be >= 0, got {negatives_per_positive}")
    check_inputs(spark, settings, label_days)
    first, last = start - timedelta(days=1), end - timedelta(days=1)

    def features(table: Table) -> DataFrame:
        return engine.read(spark, table, settings).where(engine.range_predicate(table, first, last))

    events = engine.read(spark, catalog.CLEAN_EVENTS, settings).where(
        F.col("event_date").between(F.lit(first - timedelta(days=RECENT_DAYS - 1)), F.lit(end))
    )
    with engine.scratch(spark, settings) as scratch:
        events = scratch.materialize(events, "events")
        label_events = events.where(F.col("event_date").between(F.lit(start), F.lit(end)))
        week_events = events.where(F.col("event_date") <= F.lit(last))
        item_daily = scratch.materialize(features(catalog.ITEM_DAILY), "item_daily")
        positive = scratch.materialize(positives(label_events), "positives")
        labelled = positive
        if negatives_per_positive:
            pool = scratch.materialize(
                sampling_pool(engine.read(spark, catalog.CLEAN_ITEMS, settings), item_daily, first, last),
                "pool",
            )
            per_day = pool.groupBy("as_of_date").count().agg(F.max("count")).first()
            slots = slot_count(per_day[0] or 0)
            labelled = labelled.unionByName(
                negatives(
                    positive,
                    label_events,
                    negative_slots(pool, slots),
                    negatives_per_positive,
                    seed,
                    slots,
                )
            )
        built = examples(
            labelled,
            user_daily=features(catalog.USER_DAILY),
            item_daily=item_daily,
            user_category=features(catalog.USER_CATEGORY),
            cooccurrence=features(catalog.ITEM_COOCCURRENCE),
            items=engine.read(spark, catalog.CLEAN_ITEMS, settings),
            week_events=week_events,
            first=first,
            last=last,
        )
        built = scratch.materialize(built, "examples")
        engine.replace_range(
            engine.sort_for_write(built, *write_order(seed)), catalog.TRAINING_EXAMPLES, settings, start, end
        )
    counts = (
        engine.read(spark, catalog.TRAINING_EXAMPLES, settings)
        .where(engine.range_predicate(catalog.TRAINING_EXAMPLES, start, end))
        .groupBy("label_date")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("label").alias("positives"))
        .collect()
    )
    by_day = {row["label_date"]: (row["rows"], row["positives"] or 0) for row in counts}
    rows = {day: by_day.get(day, (0, 0))[0] for day in label_days}
    positives_n = sum(p for _, p in by_day.values())
    return ExamplesStats(start, end, rows, positives_n, sum(rows.values()) - positives_n)
