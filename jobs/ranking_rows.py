"""The ranking rows: user, item and user x item feature columns as of a features date.

One module builds them for both sides of the ranker, so what it is trained on
(`jobs.examples`, training.examples) and what it scores (`jobs.candidates`) cannot drift apart.
Every builder is keyed by features_date F and reads only what is known on F: features as of F,
clean.items valid on F, clean.events up to F. Missing values are filled as the catalog's column
comments of training.examples say.

Notation: "the week up to F" = days F - 6 .. F.
"""

from __future__ import annotations

import operator
from datetime import date, timedelta
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.clean import join_item_attributes
from jobs.features import spread
from shoprec import catalog
from shoprec.vocabulary import AFFINITY_WEIGHTS, RECENT_DAYS

RECENT_ITEMS = 10
HISTORY_DAYS = 30  # the user's recent history with an item (ui_events_30d, ui_knn_score)
PURCHASE_HISTORY_DAYS = 365  # the user's purchases of an item (ui_purchases_365d): what they buy again
ITEM_HALF_LIFE_DAYS = 7.0
KNN_ANCHORS = 10  # the user's strongest history items whose partners give ui_knn_score
KNN_PARTNERS = 20  # each anchor's best stored partners used (bounds users x 10 x 20 rows)
NO_RECENT_EVENT_DAYS = 31  # u_days_since_last_event / ui_days_since_event without an event in 30 days
NO_PURCHASE_DAYS = 366  # ui_days_since_purchase without a purchase of the item in 365 days

# The feature columns of training.examples by what they depend on (examples order): scoring
# computes the user and item parts once per user and per item (see jobs/candidates.py).
_EXAMPLE_TYPES = {c.name: c.type for c in catalog.TRAINING_EXAMPLES.columns}
USER_FEATURES = tuple(
    c for c in _EXAMPLE_TYPES if c == "recent_items" or c.startswith(("top_category_", "u_"))
)
ITEM_FEATURES = tuple(c for c in _EXAMPLE_TYPES if c in ("category_id", "brand_id") or c.startswith("i_"))
PAIR_FEATURES = tuple(c for c in _EXAMPLE_TYPES if c.startswith(("uc_", "ui_")))


def recent_item_ranks(events: DataFrame, first: date, last: date) -> DataFrame:
    """The user's most recent distinct items in the week up to each features_date.

    Args:
        events: clean.events rows from first - 6 to last.
        first: First features_date.
        last: Last features_date.

    Returns:
        (user_id, features_date, item_id, position) for position 1..RECENT_ITEMS, 1 = the item
        with the latest event (ties: smaller item_id first).
    """
    latest = Window.partitionBy("user_id", "features_date").orderBy(F.desc("_last_ts"), "item_id")
    return (
        spread(events, first, last, days=RECENT_DAYS, on="features_date", age="_age")
        .groupBy("user_id", "features_date", "item_id")
        .agg(F.max("event_ts").alias("_last_ts"))
        .withColumn("position", F.row_number().over(latest))
        .where(F.col("position") <= RECENT_ITEMS)
        .drop("_last_ts")
    )


def recent_items(ranks: DataFrame) -> DataFrame:
    """(user_id, features_date, recent_items): the ranked items as space-separated ids, most recent first."""
    by_position = [
        F.max(F.when(F.col("position") == p, F.col("item_id").cast("string")))
        for p in range(1, RECENT_ITEMS + 1)
    ]
    # concat_ws skips nulls, so users with fewer items get a shorter list (no array columns: see catalog).
    return ranks.groupBy("user_id", "features_date").agg(F.concat_ws(" ", *by_position).alias("recent_items"))


def seen_counts(events: DataFrame, first: date, last: date) -> DataFrame:
    """(user_id, item_id, features_date, ui_seen_7d): the user's events on the item in the week up to F."""
    return (
        spread(events, first, last, days=RECENT_DAYS, on="features_date", age="_age")
        .groupBy("user_id", "item_id", "features_date")
        .agg(F.count(F.lit(1)).alias("ui_seen_7d"))
    )


def cooccurrence_scores(pairs: DataFrame, ranks: DataFrame, cooccurrence: DataFrame) -> DataFrame:
    """Best co-occurrence score between each candidate item and the user's recent items.

    The table keeps the top partners per anchor item, so a pair may be stored in one direction
    only; both directions are looked up.

    Args:
        pairs: (user_id, item_id, features_date) to score.
        ranks: Output of `recent_item_ranks`.
        cooccurrence: features.item_cooccurrence rows (item_id, other_item_id, score, as_of_date).

    Returns:
        (user_id, item_id, features_date, ui_cooc_score) for pairs with at least one co-occurring
        recent item.
    """
    stored = cooccurrence.select(
        F.col("as_of_date").alias("features_date"),
        F.col("item_id").alias("_recent_item"),
        F.col("other_item_id").alias("item_id"),
        "score",
    )
    swapped = cooccurrence.select(
        F.col("as_of_date").alias("features_date"),
        F.col("other_item_id").alias("_recent_item"),
        F.col("item_id").alias("item_id"),
        "score",
    )
    recent = ranks.select("user_id", "features_date", F.col("item_id").alias("_recent_item"))
    return (
        pairs.join(recent, ["user_id", "features_date"])
        .join(stored.unionByName(swapped), ["features_date", "_recent_item", "item_id"])
        .groupBy("user_id", "item_id", "features_date")
        .agg(F.max("score").alias("ui_cooc_score"))
    )


def user_features(user_daily: DataFrame) -> DataFrame:
    """features.user_daily rows as the examples' u_* and top_category_* columns, keyed by features_date."""
    return user_daily.select(
        "user_id",
        F.col("as_of_date").alias("features_date"),
        *[F.col(f"top_category_{k}") for k in (1, 2, 3)],
        *[
            F.col(name).alias(f"u_{name}")
            for name in (
                "views_7d",
                "clicks_7d",
                "carts_7d",
                "purchases_30d",
                "distinct_items_30d",
                "active_days_30d",
                "days_since_last_event",
                "click_rate_30d",
                "purchase_rate_30d",
                "spend_30d",
            )
        ],
    )


def item_features(item_daily: DataFrame) -> DataFrame:
    """features.item_daily rows as the examples' i_* columns (plus the rate priors), keyed by features_date.

    The priors are the catalogue-wide click and conversion rates of the day (clicks over views,
    purchases over the exposure stage: views, else clicks), capped at 1: exactly the prior
    jobs/features.py mixes into every item's smoothed rates, so an item without features gets the
    rate a zero-view item would have had. A day whose items have no such rate (the log lacks the
    event types) has a null prior.
    """
    per_day = Window.partitionBy("features_date")
    views = F.sum("views_30d").over(per_day)
    exposure = F.when(views > 0, views).otherwise(F.sum("clicks_30d").over(per_day))
    return (
        item_daily.select(
            "item_id",
            F.col("as_of_date").alias("features_date"),
            F.col("category_id").alias("_item_category_id"),
            F.col("brand_id").alias("_item_brand_id"),
            F.col("views_7d").alias("i_views_7d"),
            F.col("clicks_7d").alias("i_clicks_7d"),
            F.col("purchases_7d").alias("i_purchases_7d"),
            F.col("users_7d").alias("i_users_7d"),
            F.col("click_rate_30d").alias("i_click_rate_30d"),
            F.col("conversion_rate_30d").alias("i_conversion_rate_30d"),
            F.col("trend_7d_vs_30d").alias("i_trend_7d_vs_30d"),
            F.col("price").alias("_item_price"),
            F.col("days_since_listed").alias("_item_days_since_listed"),
            "clicks_30d",
            "purchases_30d",
            "views_30d",
        )
        .withColumn(
            "_prior_click",
            F.when(
                F.count("i_click_rate_30d").over(per_day) > 0,
                F.least(F.lit(1.0), F.sum("clicks_30d").over(per_day) / F.greatest(views, F.lit(1))),
            ),
        )
        .withColumn(
            "_prior_buy",
            F.when(
                F.count("i_conversion_rate_30d").over(per_day) > 0,
                F.least(F.lit(1.0), F.sum("purchases_30d").over(per_day) / F.greatest(exposure, F.lit(1))),
            ),
        )
        .drop("clicks_30d", "purchases_30d", "views_30d")
    )


def _declared(name: str) -> Column:
    """`name` cast to its training.examples type, so every builder hands out the columns as written."""
    return F.col(name).cast(_EXAMPLE_TYPES[name]).alias(name)


def with_user_features(rows: DataFrame, *, user_daily: DataFrame, ranks: DataFrame) -> DataFrame:
    """`rows` plus the user-level example columns (USER_FEATURES), missing values filled.

    Args:
        rows: Any rows keyed by (user_id, features_date); other columns are kept.
        user_daily: features.user_daily rows of the features dates.
        ranks: Output of `recent_item_ranks` for the features dates.

    Returns:
        `rows` with top_category_1..3, recent_items and the u_* columns; a user without
        features gets 0s, '' and NO_RECENT_EVENT_DAYS as the catalog documents.
    """
    fills = {name: F.coalesce(F.col(name), F.lit(0)) for name in USER_FEATURES if name != "recent_items"}
    fills |= {
        "u_days_since_last_event": F.coalesce("u_days_since_last_event", F.lit(NO_RECENT_EVENT_DAYS)),
        "recent_items": F.coalesce("recent_items", F.lit("")),
    }
    return (
        rows.join(user_features(user_daily), ["user_id", "features_date"], "left")
        .join(recent_items(ranks), ["user_id", "features_date"], "left")
        .withColumns(fills)
        .withColumns({name: _declared(name) for name in USER_FEATURES})
    )


def with_item_features(rows: DataFrame, *, item_daily: DataFrame, items: DataFrame) -> DataFrame:
    """`rows` plus the item-level example columns (ITEM_FEATURES), missing values filled.

    Item attributes (category, brand, price, listing day) come from features.item_daily as of the
    features date, else from clean.items valid on it, else 0; an item without item features gets
    the day's catalogue-wide rates (see `item_features`), trend 1 and 0 counts.

    Args:
        rows: Any rows keyed by (item_id, features_date); other columns are kept.
        item_daily: features.item_daily rows of the features dates (all items: the rate priors
            are sums over the whole day).
        items: clean.items (attribute history).

    Returns:
        `rows` with category_id, brand_id and the i_* columns.
    """
    priors = (
        item_features(item_daily).select("features_date", "_prior_click", "_prior_buy").distinct()
    )  # one row per day
    catalogue = {name: f"_catalog_{name}" for name in ("category_id", "brand_id", "price", "listed_date")}
    listed_days = F.datediff(F.col("features_date"), F.col("_catalog_listed_date"))
    counts = ("i_views_7d", "i_clicks_7d", "i_purchases_7d", "i_users_7d")
    known = rows.join(
        item_features(item_daily).drop("_prior_click", "_prior_buy"), ["item_id", "features_date"], "left"
    ).join(priors, ["features_date"], "left")
    return (
        join_item_attributes(known, items, "features_date", catalogue, "_catalog_item_id")
        .withColumns(
            {
                "category_id": F.coalesce("_item_category_id", "_catalog_category_id", F.lit(0)),
                "brand_id": F.coalesce("_item_brand_id", "_catalog_brand_id", F.lit(0)),
                "i_price": F.coalesce("_item_price", "_catalog_price", F.lit(0.0)),
                "i_days_since_listed": F.greatest(
                    F.lit(0), F.coalesce("_item_days_since_listed", listed_days, F.lit(0))
                ),
                **{name: F.coalesce(F.col(name), F.lit(0)) for name in counts},
                "i_click_rate_30d": F.coalesce("i_click_rate_30d", "_prior_click", F.lit(0.0)),
                "i_conversion_rate_30d": F.coalesce("i_conversion_rate_30d", "_prior_buy", F.lit(0.0)),
                "i_trend_7d_vs_30d": F.coalesce("i_trend_7d_vs_30d", F.lit(1.0)),
            }
        )
        .withColumns({name: _declared(name) for name in ITEM_FEATURES})
        .drop("_catalog_item_id", *catalogue.values(), "valid_from", "valid_to")
        .drop("_item_category_id", "_item_brand_id", "_item_price", "_item_days_since_listed")
        .drop("_prior_click", "_prior_buy")
    )


def item_affinities(events: DataFrame, first: date, last: date) -> DataFrame:
    """The user's history with each item up to each features_date.

    Args:
        events: clean.events rows from first - 364 to last.
        first: First features_date.
        last: Last features_date.

    Returns:
        (user_id, item_id, features_date, ui_events_30d, ui_days_since_event, ui_purchases_365d,
        ui_days_since_purchase) for the items with an event in the HISTORY_DAYS or a purchase in the
        PURCHASE_HISTORY_DAYS up to F: the decayed, type-weighted interactions of 30 days
        (AFFINITY_WEIGHTS, half-life ITEM_HALF_LIFE_DAYS), the days since the last of them, the
        purchases of a year and the days since the last purchase (nulls where there are none).
        The decayed sum adds its days in a fixed order (age 0, 1, …), so equal histories give
        bit-equal values whatever order the engine meets the rows in (`knn_scores` ranks by them).
    """
    weight = F.coalesce(*[F.when(F.col("event_type") == k, F.lit(w)) for k, w in AFFINITY_WEIGHTS.items()])
    decayed = [
        F.coalesce(F.sum(F.when(F.col("_age") == age, weight)), F.lit(0.0))
        * F.pow(F.lit(0.5), F.lit(age / ITEM_HALF_LIFE_DAYS))
        for age in range(HISTORY_DAYS)
    ]
    recent = F.col("_age") < HISTORY_DAYS
    bought = F.col("event_type") == "purchase"
    useful = events.where(bought | (F.col("event_date") > F.lit(first - timedelta(days=HISTORY_DAYS))))
    return (
        spread(useful, first, last, days=PURCHASE_HISTORY_DAYS, on="features_date", age="_age")
        .where(recent | bought)
        .groupBy("user_id", "item_id", "features_date")
        .agg(
            reduce(operator.add, decayed).alias("ui_events_30d"),
            F.min(F.when(recent, F.col("_age"))).alias("ui_days_since_event"),
            F.count(F.when(bought, 1)).alias("ui_purchases_365d"),
            F.min(F.when(bought, F.col("_age"))).alias("ui_days_since_purchase"),
        )
    )


def knn_scores(affinities: DataFrame, cooccurrence: DataFrame) -> DataFrame:
    """Item-kNN scores of the items co-occurring with the user's 30-day history.

    score(user, item) = sum over the user's KNN_ANCHORS strongest items i of ui_events_30d(i) x
    co-occurrence score(i, item), over the KNN_PARTNERS best partners features.item_cooccurrence
    keeps per anchor.

    Args:
        affinities: Output of `item_affinities`.
        cooccurrence: features.item_cooccurrence rows of the features dates.

    Returns:
        (user_id, item_id, features_date, ui_knn_score), items of the history itself included.
    """
    strongest = Window.partitionBy("user_id", "features_date").orderBy(F.desc("ui_events_30d"), "item_id")
    anchors = (
        affinities.where(F.col("ui_events_30d") > 0)
        .withColumn("_rank", F.row_number().over(strongest))
        .where(F.col("_rank") <= KNN_ANCHORS)
        .select("user_id", "features_date", F.col("item_id").alias("_anchor"), "ui_events_30d")
    )
    partners = cooccurrence.where(F.col("pair_rank") <= KNN_PARTNERS).select(
        F.col("as_of_date").alias("features_date"),
        F.col("item_id").alias("_anchor"),
        F.col("other_item_id").alias("item_id"),
        "score",
    )
    return (
        anchors.join(partners, ["features_date", "_anchor"])
        .groupBy("user_id", "item_id", "features_date")
        .agg(F.sum(F.col("ui_events_30d") * F.col("score")).alias("ui_knn_score"))
    )


def with_pair_features(
    rows: DataFrame,
    *,
    user_category: DataFrame,
    cooccurrence: DataFrame,
    ranks: DataFrame,
    week_events: DataFrame,
    affinities: DataFrame,
    knn: DataFrame,
    first: date,
    last: date,
) -> DataFrame:
    """`rows` plus the user x item example columns (PAIR_FEATURES), missing values filled.

    Args:
        rows: Candidate rows keyed by (user_id, item_id, features_date) that carry the item's
            category_id as `with_item_features` fills it (0 when unknown), `sources` (the
            proposing sources, comma-separated) and `source_score`; other columns are kept.
        user_category: features.user_category rows of the features dates.
        cooccurrence: features.item_cooccurrence rows of the features dates.
        ranks: Output of `recent_item_ranks` for the features dates.
        week_events: clean.events rows from first - 6 to last.
        affinities: Output of `item_affinities` for the features dates.
        knn: Output of `knn_scores` for the features dates.
        first: First features_date.
        last: Last features_date.

    Returns:
        `rows` with the uc_* columns (the user's affinity to the item's category) and the ui_*
        columns (co-occurrence with the user's recent items, the user's history with the item,
        its item-kNN score, and which sources proposed it with what score).
    """
    categories = user_category.select(
        "user_id",
        "category_id",
        F.col("as_of_date").alias("features_date"),
        F.col("affinity_share").alias("uc_affinity_share"),
        F.col("category_rank").alias("uc_category_rank"),
        F.col("purchases_30d").alias("uc_purchases_30d"),
    )
    keys = ["user_id", "item_id", "features_date"]
    pairs = rows.select(*keys)
    proposed = F.split(F.col("sources"), ",")
    return (
        rows.join(categories, ["user_id", "category_id", "features_date"], "left")
        .join(seen_counts(week_events, first, last), keys, "left")
        .join(cooccurrence_scores(pairs, ranks, cooccurrence), keys, "left")
        .join(affinities, keys, "left")
        .join(knn, keys, "left")
        .withColumns(
            {
                "ui_source_score": F.col("source_score"),
                **{
                    f"ui_src_{source}": F.array_contains(proposed, source).cast("int")
                    for source in catalog.CANDIDATE_SOURCES
                },
                "ui_days_since_event": F.coalesce(F.col("ui_days_since_event"), F.lit(NO_RECENT_EVENT_DAYS)),
                "ui_days_since_purchase": F.coalesce(
                    F.col("ui_days_since_purchase"), F.lit(NO_PURCHASE_DAYS)
                ),
            }
        )
        .withColumns({name: F.coalesce(F.col(name), F.lit(0)) for name in PAIR_FEATURES})
        .withColumns({name: _declared(name) for name in PAIR_FEATURES})
    )
