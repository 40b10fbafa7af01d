"""The candidate sources: what each source proposes to a user on run day D, and the cold-start list.

Active users (a features.user_daily row as of D) get candidates from six sources, in priority
order (catalog.CANDIDATE_SOURCES; a pair found by several sources keeps the best one's reason, and
`sources` lists them all; the merge is `jobs.candidates.merge`):

1. ``revisit``: the items of the user's own history (interactions of 30 days, purchases of a
   year), strongest first (`ranking_rows.item_affinities`); what users come back to and buy
   again (items bought in the last 30 days only when repeat purchases are allowed).
2. ``co_viewed``: items of features.item_cooccurrence that co-occurred with one of the user's
   recent items (the same up to RECENT_ITEMS items of the 7 days up to D as recent_items);
   the table keeps the top partners per anchor, so both directions are looked up (as
   ui_cooc_score does). source_score = the best co-occurrence score, which is ui_cooc_score;
   reason ``co_viewed:<anchor item_id>`` (the recent item giving it; ties: the more recent).
3. ``item_knn``: items scoring best against the user's whole 30-day history, affinity-weighted
   (`ranking_rows.knn_scores`), the user's own items left to ``revisit``; reason ``item_knn``.
4. ``top_category``: the most popular items of each of the user's top_category_1..3; reason
   ``top_category:<category_id>``.
5. ``trending``: per top category, the items whose interactions rise most (trend_7d_vs_30d > 1) among
   items with at least ``trending_min_events_7d`` interactions in 7 days; reason ``trending:<category_id>``.
6. ``popular``: the most popular items of the catalogue; reason ``popular``.


For the category sources, source_score = the user's affinity_share of the category times the
item's value (popularity or trend) over the best value in that category's list, so a user's
stronger categories come first.

Cold-start users (in clean.users on D, signed up by D, without a user_daily row as of D) are not
scored by the model: they get the ``cold_start_popular`` most popular items (reason
``cold_start:popular``) plus ``cold_start_trending`` rising items not among them
(``cold_start:trending``), with source_score = popularity scaled to [0, 1] (see `jobs.item_pool.pool`), the
score reco.user_recommendations publishes for them.

Notation: D = run day = features_date; popularity = the item's events in the 7 days up to D
weighted like category affinity (features.AFFINITY_WEIGHTS: view 1, click 2, fav 3, cart 4,
purchase 6): one number that orders the popular lists and gives the cold-start score.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.clean import valid_on

if TYPE_CHECKING:
    from jobs.candidates import CandidateConfig

COLD_START = "cold_start"
PAIR_KEY_COLUMNS = ("user_id", "item_id", "source", "reason", "source_score")


def rising(pooled: DataFrame, min_events_7d: int) -> DataFrame:
    """Pool items that count as trending: enough interactions in 7 days and more of them than in 30."""
    return pooled.where((F.col("events_7d") >= min_events_7d) & (F.col("trend_7d_vs_30d") > 1.0))


def top_per_category(rows: DataFrame, value: str, n: int) -> DataFrame:
    """(category_id, item_id, strength): the n items of each category with the highest `value`.

    strength = value / the category's highest value, in [0, 1] (0 when that is 0); ties go to
    the more popular, then the smaller item_id.
    """
    ranked = Window.partitionBy("category_id").orderBy(F.desc(value), F.desc("popularity"), "item_id")
    return (
        rows.where(F.col("category_id").isNotNull())
        # the ranked window's first row holds the highest value: one sort, where a partition max
        # is a second window that Sail sorts (and buffers) on its own
        .withColumn("_best", F.first(value).over(ranked))
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
        .select(
            "category_id",
            "item_id",
            F.when(F.col("_best") > 0, F.col(value) / F.col("_best")).otherwise(0.0).alias("strength"),
        )
    )


def top_overall(rows: DataFrame, value: str, n: int) -> DataFrame:
    """The n rows with the highest `value` (ties: more popular, then smaller item_id)."""
    return rows.orderBy(F.desc(value), F.desc("popularity"), "item_id").limit(n)


def top_categories(user_daily: DataFrame, user_category: DataFrame) -> DataFrame:
    """(user_id, category_id, affinity_share) for the user's top_category_1..3 as of D (0 share if unknown)."""
    ranked = [
        user_daily.select("user_id", F.col(f"top_category_{k}").alias("category_id")) for k in (1, 2, 3)
    ]
    chosen = ranked[0].unionByName(ranked[1]).unionByName(ranked[2]).where(F.col("category_id").isNotNull())
    shares = user_category.select("user_id", "category_id", "affinity_share")
    return chosen.join(shares, ["user_id", "category_id"], "left").select(
        "user_id", "category_id", F.coalesce("affinity_share", F.lit(0.0)).alias("affinity_share")
    )


def source_rows(rows: DataFrame, source: str, reason: Column, score: Column) -> DataFrame:
    """Rows (PAIR_KEY_COLUMNS) of one source: the rows' user and item with the source's reason and score."""
    return rows.select(
        "user_id",
        "item_id",
        F.lit(source).alias("source"),
        reason.alias("reason"),
        score.cast("double").alias("source_score"),
    )


def partners(cooccurrence: DataFrame, listed: DataFrame, n: int) -> DataFrame:
    """Each item's n best catalogue partners, the stored and the swapped pairs alike.

    Trimming here loses nothing: an item among a user's n best co-viewed items is among the n best
    partners of every recent item that gives it its score (else those n partners would all rank
    above it), so `co_viewed` joins the users' recent items with short lists only.

    Args:
        cooccurrence: features.item_cooccurrence rows as of D.
        listed: Output of `jobs.item_pool.catalogue` for D.
        n: Partners kept per item (ties: smaller item_id), as many as a user's co_viewed limit.

    Returns:
        (_anchor, item_id, score), one row per anchor and partner.
    """
    both_ways = (
        cooccurrence.select(
            F.col("item_id").alias("_anchor"), F.col("other_item_id").alias("item_id"), "score"
        )
        .unionByName(
            cooccurrence.select(
                F.col("other_item_id").alias("_anchor"), F.col("item_id").alias("item_id"), "score"
            )
        )
        .distinct()  # a pair kept in both items' lists comes twice (with the same, symmetric score)
    )
    ranked = Window.partitionBy("_anchor").orderBy(F.desc("score"), "item_id")
    return (
        both_ways.join(listed.select("item_id"), "item_id", "left_semi")
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
        .drop("_rank")
    )


def revisit(affinities: DataFrame, listed: DataFrame, n: int) -> DataFrame:
    """Source ``revisit``: the n catalogue items of the user's own history, strongest first.

    Strength = ui_events_30d (recent interactions, decayed) + ui_purchases_365d (each purchase of
    the year counts 1: what users buy again); source_score = strength over the user's highest, in
    [0, 1]; reason ``revisit``. Items bought in the last 30 days are dropped by the merge unless
    repeat purchases are allowed.
    """
    strength = F.col("ui_events_30d") + F.col("ui_purchases_365d")
    ranked = Window.partitionBy("user_id").orderBy(F.desc("_strength"), "item_id")
    found = (
        affinities.join(listed.select("item_id"), "item_id", "left_semi")
        .withColumn("_strength", strength)
        .withColumn("_best", F.first("_strength").over(ranked))  # the highest (see top_per_category)
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
    )
    return source_rows(found, "revisit", F.lit("revisit"), F.col("_strength") / F.col("_best"))


def item_knn(knn: DataFrame, affinities: DataFrame, listed: DataFrame, n: int) -> DataFrame:
    """Source ``item_knn``: the n catalogue items scoring best against the user's whole 30-day history.

    Scores are `ranking_rows.knn_scores`; the user's own history items are left to ``revisit``.
    source_score = the score over the user's best, in [0, 1]; reason ``item_knn``.
    """
    ranked = Window.partitionBy("user_id").orderBy(F.desc("ui_knn_score"), "item_id")
    found = (
        knn.join(affinities.select("user_id", "item_id"), ["user_id", "item_id"], "left_anti")
        .join(listed.select("item_id"), "item_id", "left_semi")
        .withColumn("_best", F.first("ui_knn_score").over(ranked))  # the highest (see top_per_category)
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
    )
    return source_rows(found, "item_knn", F.lit("item_knn"), F.col("ui_knn_score") / F.col("_best"))


CO_VIEWED_ANCHORS = 5  # the user's most recent items used as anchors
CO_VIEWED_PARTNERS = (
    10  # partners per anchor; 10 recent anchors x 30 partners ran out of 24 GB at medium scale
)


def co_viewed(ranks: DataFrame, item_partners: DataFrame, n: int) -> DataFrame:
    """Source ``co_viewed``: the n catalogue items co-occurring best with each user's recent items.

    Args:
        ranks: `ranking_rows.recent_item_ranks` rows for D (user_id, item_id, position).
        item_partners: Output of `partners` for D with min(n, CO_VIEWED_PARTNERS) partners.
        n: Items per user.

    Returns:
        Source rows (user_id, item_id, source, reason, source_score); the reason names the recent
        item with the best score (ties: the more recent).
    """
    # bounded fan-out: users x CO_VIEWED_ANCHORS x CO_VIEWED_PARTNERS rows before the per-user top n
    recent = ranks.where(F.col("position") <= CO_VIEWED_ANCHORS).select(
        "user_id", F.col("item_id").alias("_anchor"), "position"
    )
    # the best score, then the most recent anchor giving it (a user's positions are distinct), in plain
    # aggregations: Sail's struct max held 7 GB for one medium bucket
    proposed = recent.join(item_partners, "_anchor")
    best = proposed.groupBy("user_id", "item_id").agg(F.max("score").alias("score"))
    first = (
        proposed.join(best, ["user_id", "item_id", "score"])
        .groupBy("user_id", "item_id", "score")
        .agg(F.min("position").alias("position"))
    )
    by_user = Window.partitionBy("user_id").orderBy(F.desc("score"), "item_id")
    found = (
        first.join(recent, ["user_id", "position"])
        .withColumn("_rank", F.row_number().over(by_user))
        .where(F.col("_rank") <= n)
    )
    reason = F.concat(F.lit("co_viewed:"), F.col("_anchor").cast("string"))
    return source_rows(found, "co_viewed", reason, F.col("score"))


def category_source(
    categories: DataFrame, pooled: DataFrame, source: str, n: int, min_events_7d: int
) -> DataFrame:
    """Source ``top_category`` (most popular) or ``trending`` (rising) items of each user's top categories.

    Args:
        categories: Output of `top_categories`.
        pooled: Output of `jobs.item_pool.pool`.
        source: "top_category" or "trending".
        n: Items per category.
        min_events_7d: Interactions in 7 days a trending item needs (ignored for top_category).

    Returns:
        Source rows; source_score = affinity_share x the item's strength in the category's list.
    """
    if source == "top_category":
        lists = top_per_category(pooled, "popularity", n)
    elif source == "trending":
        lists = top_per_category(rising(pooled, min_events_7d), "trend_7d_vs_30d", n)
    else:
        raise ValueError(f"category_source: unknown source {source!r} (top_category or trending)")
    found = categories.join(lists, "category_id")
    reason = F.concat(F.lit(f"{source}:"), F.col("category_id").cast("string"))
    return source_rows(found, source, reason, F.col("affinity_share") * F.col("strength"))


def popular(users: DataFrame, pooled: DataFrame, n: int) -> DataFrame:
    """Source ``popular``: the n most popular catalogue items for every user of `users` (user_id).

    source_score = popularity_score (see `jobs.item_pool.pool`).
    """
    found = users.select("user_id").crossJoin(
        top_overall(pooled, "popularity", n).select("item_id", "popularity_score")
    )
    return source_rows(found, "popular", F.lit("popular"), F.col("popularity_score"))


def cold_start_users(users: DataFrame, user_daily: DataFrame, day: date) -> DataFrame:
    """(user_id) of users in clean.users valid on `day`, signed up by then, without a user_daily row.

    A registry row without a signup_date counts as signed up: the registry knew the user on `day`.
    """
    known = users.where(
        valid_on(F.lit(day)) & (F.col("signup_date").isNull() | (F.col("signup_date") <= F.lit(day)))
    )
    return known.select("user_id").distinct().join(user_daily.select("user_id"), "user_id", "left_anti")


def cold_start(
    users: DataFrame, pooled: DataFrame, config: CandidateConfig, excluded: DataFrame | None
) -> DataFrame:
    """The popularity list of cold-start users: popular items, then a few rising ones.

    Args:
        users: Output of `cold_start_users`.
        pooled: Output of `jobs.item_pool.pool`.
        config: cold_start_popular, cold_start_trending and trending_min_events_7d are used.
        excluded: (user_id, item_id) pairs never to recommend, or None.

    Returns:
        Rows (user_id, item_id, source, reason, source_score): source popular or trending,
        reason cold_start:popular or cold_start:trending, source_score = popularity_score.
    """
    most_popular = top_overall(pooled, "popularity", config.cold_start_popular).select(
        "item_id", "popularity_score", F.lit("popular").alias("source")
    )
    risers = top_overall(
        rising(pooled, config.trending_min_events_7d).join(most_popular, "item_id", "left_anti"),
        "trend_7d_vs_30d",
        config.cold_start_trending,
    ).select("item_id", "popularity_score", F.lit("trending").alias("source"))
    listed = most_popular.unionByName(risers)
    found = users.crossJoin(listed).select(
        "user_id",
        "item_id",
        "source",
        F.concat(F.lit(f"{COLD_START}:"), F.col("source")).alias("reason"),
        F.col("popularity_score").alias("source_score"),
    )
    if excluded is not None:
        found = found.join(excluded, ["user_id", "item_id"], "left_anti")
    return found.select(*PAIR_KEY_COLUMNS)


def sources(
    *,
    ranks: DataFrame,
    affinities: DataFrame,
    knn: DataFrame,
    user_daily: DataFrame,
    user_category: DataFrame,
    item_partners: DataFrame,
    pooled: DataFrame,
    listed: DataFrame,
    config: CandidateConfig,
    materialize: Callable[[DataFrame, str], DataFrame] | None = None,
) -> DataFrame:
    """Source rows of every source for the active users (before the merge); sources with limit 0 are skipped.

    `materialize` (e.g. `Scratch.materialize`) computes each source on its own: one plan holding every
    source's joins and windows at once ran out of 24 GB at the medium scale.

    Args:
        ranks: `ranking_rows.recent_item_ranks` rows for D.
        affinities: `ranking_rows.item_affinities` rows for D.
        knn: `ranking_rows.knn_scores` rows for D.
        user_daily: features.user_daily rows as of D (the active users).
        user_category: features.user_category rows as of D.
        item_partners: Output of `partners` for D (the co_viewed lists).
        pooled: Output of `jobs.item_pool.pool`.
        listed: Output of `jobs.item_pool.catalogue` for D.
        config: Per-source limits.
        materialize: Computes a frame once and returns it read back; None keeps it lazy.
    """
    categories = top_categories(user_daily, user_category)
    found: list[DataFrame] = []
    if config.revisit:
        found.append(revisit(affinities, listed, config.revisit))
    if config.co_viewed:
        found.append(co_viewed(ranks, item_partners, config.co_viewed))
    if config.item_knn:
        found.append(item_knn(knn, affinities, listed, config.item_knn))
    for source in ("top_category", "trending"):
        if getattr(config, source):
            found.append(
                category_source(
                    categories, pooled, source, getattr(config, source), config.trending_min_events_7d
                )
            )
    if config.popular:
        found.append(popular(user_daily, pooled, config.popular))
    if not found:
        raise ValueError("CandidateConfig: every source has limit 0, so no user would get a candidate")
    if materialize is not None:
        found = [materialize(frame, f"source_{k}") for k, frame in enumerate(found)]
    union = found[0]
    for frame in found[1:]:
        union = union.unionByName(frame)
    return union
