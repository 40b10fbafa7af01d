"""Candidates for batch ranking: what each user may be recommended on run day D, and the rows to score.

Point in time: recommendations made on D (for D + 1) use only what is known on D, so the ranker
sees rows built exactly like the training.examples rows of label day D + 1 (features_date D):
features as of D, clean.events up to D, the catalogue (clean.items) valid on D, the user registry
(clean.users) valid on D.

Active users (a features.user_daily row as of D) get candidates from six sources, in priority
order (catalog.CANDIDATE_SOURCES; a pair found by several sources keeps the best one's reason, and
`sources` lists them all):

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
stronger categories come first. Per-source limits are taken on lists of catalogue items; then,
per (user, item), the priority source's row is kept, items the user bought in the 30 days up to D
are dropped (``exclude_bought``), and each user keeps ``max_candidates`` rows, by priority, then
source_score, then item_id.

Cold-start users (in clean.users on D, signed up by D, without a user_daily row as of D) are not
scored by the model: they get the ``cold_start_popular`` most popular items (reason
``cold_start:popular``) plus ``cold_start_trending`` rising items not among them
(``cold_start:trending``), with source_score = popularity scaled to [0, 1] (see `pool`), the
score reco.user_recommendations publishes for them.

Scoring rows come as three frames so a scorer computes the user and item parts once: ``users``
(user_id + ranking_rows.USER_FEATURES), ``items`` (item_id + ranking_rows.ITEM_FEATURES) and ``pairs``
(user_id, item_id, source, reason, source_score + ranking_rows.PAIR_FEATURES). They are built by the
same builders as training.examples (`ranking_rows.with_user_features` and friends), so joining them
gives the training row of label day D + 1 minus the labels.

Notation: D = run day = features_date; popularity = the item's events in the 7 days up to D
weighted like category affinity (features.AFFINITY_WEIGHTS: view 1, click 2, fav 3, cart 4,
purchase 6): one number that orders the popular lists and gives the cold-start score.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import ranking_rows
from jobs.clean import valid_on
from shoprec import catalog, engine, inputs
from shoprec.config import Settings
from shoprec.vocabulary import AFFINITY_WEIGHTS, BOUGHT_DAYS, EVENT_KINDS

SOURCES = catalog.CANDIDATE_SOURCES  # priority order, best first
COLD_START = "cold_start"
PAIR_KEY_COLUMNS = ("user_id", "item_id", "source", "reason", "source_score")


@dataclass(frozen=True)
class CandidateConfig:
    """How many candidates each source gives, and the merge rules.

    Attributes:
        revisit: Items of the user's own 30-day history per user (strongest first).
        co_viewed: Co-occurring items per user (best scores first).
        item_knn: Items scoring best against the user's whole 30-day history.
        top_category: Most popular items per top category of the user (3 categories at most).
        trending: Rising items per top category of the user.
        popular: Most popular catalogue items, for every active user.
        max_candidates: Candidates kept per active user after the merge.
        exclude_bought: Drop items the user bought in the 30 days up to D.
        trending_min_events_7d: Interactions (any event type) in 7 days an item needs to count as
            trending; below it the trend is noise (with the +1 smoothing, 3 events this week and
            none before already give 1.3).
        cold_start_popular: Most popular items per cold-start user.
        cold_start_trending: Rising items per cold-start user, besides the popular ones.
    """

    revisit: int = 40
    co_viewed: int = 20
    item_knn: int = 30
    top_category: int = 10
    trending: int = 5
    popular: int = 20
    max_candidates: int = 100
    exclude_bought: bool = True
    trending_min_events_7d: int = 10
    cold_start_popular: int = 20
    cold_start_trending: int = 5

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, bool) and value < 0:
                raise ValueError(f"CandidateConfig.{field.name} must be >= 0, got {value}")
        if self.max_candidates < 1:
            raise ValueError(f"CandidateConfig.max_candidates must be >= 1, got {self.max_candidates}")


@dataclass(frozen=True)
class Candidates:
    """The candidates of run day `day` and their scoring rows (frames read from the caller's scratch).

    Attributes:
        day: Run day D (features as of D; recommendations for D + 1).
        merged: One row per (active user, candidate item): PAIR_KEY_COLUMNS + sources (see `merge`).
        users: One row per active user: user_id + ranking_rows.USER_FEATURES.
        items: One row per candidate item: item_id + ranking_rows.ITEM_FEATURES.
        pairs: One row per (active user, candidate item): PAIR_KEY_COLUMNS + ranking_rows.PAIR_FEATURES.
        cold_start: One row per (cold-start user, item): PAIR_KEY_COLUMNS, source_score in [0, 1].
        active_users: Rows of `users`.
        cold_start_users: Cold-start users (each has rows in `cold_start` unless every item was excluded).
        per_source: Rows of `pairs` per source (sources without rows left out).
        cold_start_rows: Rows of `cold_start`.
    """

    day: date
    merged: DataFrame
    users: DataFrame
    items: DataFrame
    pairs: DataFrame
    cold_start: DataFrame
    active_users: int
    cold_start_users: int
    per_source: dict[str, int]
    cold_start_rows: int

    @property
    def candidates(self) -> int:
        """Rows of `pairs`."""
        return sum(self.per_source.values())

    def summary(self) -> str:
        """One line for logs and the CLI."""
        sources = ", ".join(f"{source} {n:,}" for source, n in self.per_source.items())
        return (
            f"candidates {self.day}: {self.active_users:,} active users, {self.candidates:,} candidates "
            f"({sources}); {self.cold_start_users:,} cold-start users, {self.cold_start_rows:,} rows"
        )


def catalogue(items: DataFrame, item_daily: DataFrame, day: date) -> DataFrame:
    """(item_id, category_id) of the recommendable items on `day`.

    The items of clean.items valid on `day` (an item the catalogue knows but that is not valid then,
    delisted or listed later, and an item it never knew are never recommended); for a shop without
    any catalogue (clean.items empty: no exports, no categories in the log) the log is the
    catalogue: the items of the 30-day window (item_daily as of `day`).
    """
    if not items.limit(1).collect():
        return item_daily.select("item_id", "category_id")
    return items.where(valid_on(F.lit(day))).select("item_id", "category_id")


def pool(item_daily: DataFrame, listed: DataFrame) -> DataFrame:
    """Catalogue items with item features as of D and their popularity.

    Args:
        item_daily: features.item_daily rows as of D.
        listed: Output of `catalogue` for D.

    Returns:
        (item_id, category_id, events_7d, trend_7d_vs_30d, popularity, popularity_score), where
        popularity_score = popularity / the day's highest popularity, in [0, 1]: the item's
        popularity share divided by the top item's share (1 for the most popular item).
    """
    popularity = sum(
        (F.lit(weight) * F.col(f"{EVENT_KINDS[kind]}_7d") for kind, weight in AFFINITY_WEIGHTS.items()),
        F.lit(0.0),
    )
    scored = item_daily.join(listed.withColumnRenamed("category_id", "_catalog_category"), "item_id").select(
        "item_id",
        F.coalesce("category_id", "_catalog_category").alias("category_id"),
        sum((F.col(f"{name}_7d") for name in EVENT_KINDS.values()), F.lit(0)).alias("events_7d"),
        "trend_7d_vs_30d",
        popularity.alias("popularity"),
    )
    top = scored.agg(F.max("popularity").alias("_top"))
    return scored.crossJoin(top).select(
        *scored.columns,
        F.when(F.col("_top") > 0, F.col("popularity") / F.col("_top"))
        .otherwise(0.0)
        .alias("popularity_score"),
    )


def _rising(pooled: DataFrame, min_events_7d: int) -> DataFrame:
    """Pool items that count as trending: enough interactions in 7 days and more of them than in 30."""
    return pooled.where((F.col("events_7d") >= min_events_7d) & (F.col("trend_7d_vs_30d") > 1.0))


def _top_per_category(rows: DataFrame, value: str, n: int) -> DataFrame:
    """(category_id, item_id, strength): the n items of each category with the highest `value`.

    strength = value / the category's highest value, in [0, 1] (0 when that is 0); ties go to
    the more popular, then the smaller item_id.
    """
    by_category = Window.partitionBy("category_id")
    ranked = Window.partitionBy("category_id").orderBy(F.desc(value), F.desc("popularity"), "item_id")
    return (
        rows.where(F.col("category_id").isNotNull())
        .withColumn("_best", F.max(value).over(by_category))
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
        .select(
            "category_id",
            "item_id",
            F.when(F.col("_best") > 0, F.col(value) / F.col("_best")).otherwise(0.0).alias("strength"),
        )
    )


def _top_overall(rows: DataFrame, value: str, n: int) -> DataFrame:
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


def _source_rows(rows: DataFrame, source: str, reason: Column, score: Column) -> DataFrame:
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
        listed: Output of `catalogue` for D.
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
    by_user = Window.partitionBy("user_id")
    ranked = Window.partitionBy("user_id").orderBy(F.desc("_strength"), "item_id")
    found = (
        affinities.join(listed.select("item_id"), "item_id", "left_semi")
        .withColumn("_strength", strength)
        .withColumn("_best", F.max("_strength").over(by_user))
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
    )
    return _source_rows(found, "revisit", F.lit("revisit"), F.col("_strength") / F.col("_best"))


def item_knn(knn: DataFrame, affinities: DataFrame, listed: DataFrame, n: int) -> DataFrame:
    """Source ``item_knn``: the n catalogue items scoring best against the user's whole 30-day history.

    Scores are `ranking_rows.knn_scores`; the user's own history items are left to ``revisit``.
    source_score = the score over the user's best, in [0, 1]; reason ``item_knn``.
    """
    by_user = Window.partitionBy("user_id")
    ranked = Window.partitionBy("user_id").orderBy(F.desc("ui_knn_score"), "item_id")
    found = (
        knn.join(affinities.select("user_id", "item_id"), ["user_id", "item_id"], "left_anti")
        .join(listed.select("item_id"), "item_id", "left_semi")
        .withColumn("_best", F.max("ui_knn_score").over(by_user))
        .withColumn("_rank", F.row_number().over(ranked))
        .where(F.col("_rank") <= n)
    )
    return _source_rows(found, "item_knn", F.lit("item_knn"), F.col("ui_knn_score") / F.col("_best"))


CO_VIEWED_ANCHORS = 5  # the user's most recent items used as anchors
CO_VIEWED_PARTNERS = (
    10  # partners per anchor; 10 recent anchors x 30 partners ran out of 24 GB at medium scale
)


def co_viewed(ranks: DataFrame, cooccurrence: DataFrame, listed: DataFrame, n: int) -> DataFrame:
    """Source ``co_viewed``: the n catalogue items co-occurring best with each user's recent items.

    Args:
        ranks: `ranking_rows.recent_item_ranks` rows for D (user_id, item_id, position).
        cooccurrence: features.item_cooccurrence rows as of D.
        listed: Output of `catalogue` for D.
        n: Items per user.

    Returns:
        Source rows (user_id, item_id, source, reason, source_score); the reason names the recent
        item with the best score (ties: the more recent, then the smaller id).
    """
    # bounded fan-out: users x CO_VIEWED_ANCHORS x CO_VIEWED_PARTNERS rows before the per-user top n
    recent = ranks.where(F.col("position") <= CO_VIEWED_ANCHORS).select(
        "user_id", F.col("item_id").alias("_anchor"), "position"
    )
    # max of a struct compares field by field: best score, then lowest position, then lowest anchor
    best = F.max(F.struct(F.col("score"), (-F.col("position")).alias("_p"), (-F.col("_anchor")).alias("_a")))
    by_user = Window.partitionBy("user_id").orderBy(F.desc("score"), "item_id")
    found = (
        recent.join(partners(cooccurrence, listed, min(n, CO_VIEWED_PARTNERS)), "_anchor")
        .groupBy("user_id", "item_id")
        .agg(best.alias("_best"))
        .select(
            "user_id", "item_id", F.col("_best.score").alias("score"), (-F.col("_best._a")).alias("_anchor")
        )
        .withColumn("_rank", F.row_number().over(by_user))
        .where(F.col("_rank") <= n)
    )
    reason = F.concat(F.lit("co_viewed:"), F.col("_anchor").cast("string"))
    return _source_rows(found, "co_viewed", reason, F.col("score"))


def category_source(
    categories: DataFrame, pooled: DataFrame, source: str, n: int, min_events_7d: int
) -> DataFrame:
    """Source ``top_category`` (most popular) or ``trending`` (rising) items of each user's top categories.

    Args:
        categories: Output of `top_categories`.
        pooled: Output of `pool`.
        source: "top_category" or "trending".
        n: Items per category.
        min_events_7d: Interactions in 7 days a trending item needs (ignored for top_category).

    Returns:
        Source rows; source_score = affinity_share x the item's strength in the category's list.
    """
    if source == "top_category":
        lists = _top_per_category(pooled, "popularity", n)
    elif source == "trending":
        lists = _top_per_category(_rising(pooled, min_events_7d), "trend_7d_vs_30d", n)
    else:
        raise ValueError(f"category_source: unknown source {source!r} (top_category or trending)")
    found = categories.join(lists, "category_id")
    reason = F.concat(F.lit(f"{source}:"), F.col("category_id").cast("string"))
    return _source_rows(found, source, reason, F.col("affinity_share") * F.col("strength"))


def popular(users: DataFrame, pooled: DataFrame, n: int) -> DataFrame:
    """Source ``popular``: the n most popular catalogue items for every user of `users` (user_id).

    source_score = popularity_score (see `pool`).
    """
    found = users.select("user_id").crossJoin(
        _top_overall(pooled, "popularity", n).select("item_id", "popularity_score")
    )
    return _source_rows(found, "popular", F.lit("popular"), F.col("popularity_score"))


def _priority(source: Column) -> Column:
    """1 for the first of SOURCES, 2 for the next, ..."""
    return F.coalesce(*[F.when(source == name, F.lit(k)) for k, name in enumerate(SOURCES, start=1)])


def bought(events: DataFrame, day: date) -> DataFrame:
    """(user_id, item_id) pairs with a purchase in the BOUGHT_DAYS days up to `day`."""
    since = day - timedelta(days=BOUGHT_DAYS - 1)
    return (
        events.where(
            (F.col("event_type") == "purchase") & F.col("event_date").between(F.lit(since), F.lit(day))
        )
        .select("user_id", "item_id")
        .distinct()
    )


def merge(found: DataFrame, excluded: DataFrame | None, max_candidates: int) -> DataFrame:
    """One row per (user, item): the best source's, without excluded pairs, capped per user.

    Args:
        found: Source rows of every source.
        excluded: (user_id, item_id) pairs never to recommend (recent purchases), or None.
        max_candidates: Rows kept per user, by source priority, then source_score, then item_id.

    Returns:
        Rows (user_id, item_id, source, reason, source_score, sources), `sources` naming every
        source that proposed the pair (sorted, comma-separated).
    """
    if excluded is not None:
        found = found.join(excluded, ["user_id", "item_id"], "left_anti")
    pair = Window.partitionBy("user_id", "item_id")
    best_source = pair.orderBy("_priority", F.desc("source_score"), "reason")
    kept = Window.partitionBy("user_id").orderBy("_priority", F.desc("source_score"), "item_id")
    return (
        found.withColumn("_priority", _priority(F.col("source")))
        .withColumn("sources", F.array_join(F.array_sort(F.collect_set("source").over(pair)), ","))
        .withColumn("_best", F.row_number().over(best_source))
        .where(F.col("_best") == 1)
        .withColumn("_kept", F.row_number().over(kept))
        .where(F.col("_kept") <= max_candidates)
        .select(*PAIR_KEY_COLUMNS, "sources")
    )


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
        pooled: Output of `pool`.
        config: cold_start_popular, cold_start_trending and trending_min_events_7d are used.
        excluded: (user_id, item_id) pairs never to recommend, or None.

    Returns:
        Rows (user_id, item_id, source, reason, source_score): source popular or trending,
        reason cold_start:popular or cold_start:trending, source_score = popularity_score.
    """
    most_popular = _top_overall(pooled, "popularity", config.cold_start_popular).select(
        "item_id", "popularity_score", F.lit("popular").alias("source")
    )
    rising = _top_overall(
        _rising(pooled, config.trending_min_events_7d).join(most_popular, "item_id", "left_anti"),
        "trend_7d_vs_30d",
        config.cold_start_trending,
    ).select("item_id", "popularity_score", F.lit("trending").alias("source"))
    listed = most_popular.unionByName(rising)
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
    cooccurrence: DataFrame,
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
        cooccurrence: features.item_cooccurrence rows as of D.
        pooled: Output of `pool`.
        listed: Output of `catalogue` for D.
        config: Per-source limits.
        materialize: Computes a frame once and returns it read back; None keeps it lazy.
    """
    categories = top_categories(user_daily, user_category)
    found: list[DataFrame] = []
    if config.revisit:
        found.append(revisit(affinities, listed, config.revisit))
    if config.co_viewed:
        found.append(co_viewed(ranks, cooccurrence, listed, config.co_viewed))
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


def user_rows(user_daily: DataFrame, ranks: DataFrame, day: date) -> DataFrame:
    """`users`: one row per active user (user_daily as of `day`) with the ranking_rows.USER_FEATURES columns."""
    keys = user_daily.select("user_id", F.lit(day).alias("features_date"))
    return ranking_rows.with_user_features(keys, user_daily=user_daily, ranks=ranks).select(
        "user_id", *ranking_rows.USER_FEATURES
    )


def item_rows(merged: DataFrame, item_daily: DataFrame, items: DataFrame, day: date) -> DataFrame:
    """`items`: one row per candidate item with the ranking_rows.ITEM_FEATURES columns as of `day`."""
    keys = merged.select("item_id").distinct().withColumn("features_date", F.lit(day))
    return ranking_rows.with_item_features(keys, item_daily=item_daily, items=items).select(
        "item_id", *ranking_rows.ITEM_FEATURES
    )


def pair_rows(
    merged: DataFrame,
    candidate_items: DataFrame,
    *,
    user_category: DataFrame,
    cooccurrence: DataFrame,
    ranks: DataFrame,
    week_events: DataFrame,
    affinities: DataFrame,
    knn: DataFrame,
    day: date,
) -> DataFrame:
    """`pairs`: the merged candidates with the ranking_rows.PAIR_FEATURES columns as of `day`.

    Args:
        merged: Output of `merge`.
        candidate_items: Output of `item_rows` (gives each item's filled category_id).
        user_category: features.user_category rows as of `day`.
        cooccurrence: features.item_cooccurrence rows as of `day`.
        ranks: `ranking_rows.recent_item_ranks` rows for `day`.
        week_events: clean.events rows of the 7 days up to `day`.
        affinities: `ranking_rows.item_affinities` rows for `day`.
        knn: `ranking_rows.knn_scores` rows for `day`.
        day: Run day D.
    """
    rows = merged.join(candidate_items.select("item_id", "category_id"), "item_id").withColumn(
        "features_date", F.lit(day)
    )
    return ranking_rows.with_pair_features(
        rows,
        user_category=user_category,
        cooccurrence=cooccurrence,
        ranks=ranks,
        week_events=week_events,
        affinities=affinities,
        knn=knn,
        first=day,
        last=day,
    ).select(*PAIR_KEY_COLUMNS, *ranking_rows.PAIR_FEATURES)


def check_inputs(spark: SparkSession, settings: Settings, day: date) -> None:
    """Fail naming the table, the day and the command to run when an input partition of `day` is missing.

    Run day D needs features.user_daily and features.item_daily as of D and clean.events on D
    (user_category and item_cooccurrence may legitimately be empty for a day).
    """
    for table in (catalog.CLEAN_EVENTS, catalog.USER_DAILY, catalog.ITEM_DAILY):
        inputs.require_days(spark, settings, table, [day], f"(run day {day})")


def build(
    spark: SparkSession,
    settings: Settings,
    day: date,
    config: CandidateConfig | None = None,
    *,
    scratch: engine.Scratch,
    only_users: DataFrame | None = None,
) -> Candidates:
    """Candidates of run day `day` for every active and cold-start user, with their scoring rows.

    Reads the catalog tables as of `day` only and writes nothing to them: every frame is
    materialised in `scratch`, so the returned frames can be read (and scored) as long as the
    caller's scratch lives.

    Args:
        spark: A session that can read the lake.
        settings: Where the lake lives.
        day: Run day D (features as of D; the recommendations are for D + 1).
        config: Source limits and merge rules (defaults: `CandidateConfig()`).
        scratch: Where the frames are materialised, e.g. from `shoprec.engine.scratch`.
        only_users: (user_id) to build candidates for, e.g. the users with a label on the next
            day (training examples); None builds them for every active and cold-start user.

    Returns:
        The users, items, pairs and cold_start frames with their counts.

    Raises:
        ValueError: An input partition of `day` is missing (names the table and the day).
    """
    config = config or CandidateConfig()
    check_inputs(spark, settings, day)

    def as_of(table: catalog.Table) -> DataFrame:
        return engine.read(spark, table, settings).where(
            engine.partition_predicate(table, {"as_of_date": day})
        )

    events = engine.read(spark, catalog.CLEAN_EVENTS, settings)
    if only_users is not None:
        events = events.join(only_users, "user_id", "left_semi")
    history = events.where(
        F.col("event_date").between(
            F.lit(day - timedelta(days=ranking_rows.PURCHASE_HISTORY_DAYS - 1)), F.lit(day)
        )
    )
    week_events = scratch.materialize(
        events.where(
            F.col("event_date").between(F.lit(day - timedelta(days=ranking_rows.RECENT_DAYS - 1)), F.lit(day))
        ),
        "week_events",
    )
    excluded = scratch.materialize(bought(events, day), "bought") if config.exclude_bought else None
    items = engine.read(spark, catalog.CLEAN_ITEMS, settings)
    active = as_of(catalog.USER_DAILY)
    if only_users is not None:
        active = active.join(only_users, "user_id", "left_semi")
    user_daily = scratch.materialize(active, "user_daily")
    item_daily = scratch.materialize(as_of(catalog.ITEM_DAILY), "item_daily")
    user_category = as_of(catalog.USER_CATEGORY)
    cooccurrence = as_of(catalog.ITEM_COOCCURRENCE)
    listed = scratch.materialize(catalogue(items, item_daily, day), "catalogue")
    pooled = scratch.materialize(pool(item_daily, listed), "pool")
    ranks = scratch.materialize(ranking_rows.recent_item_ranks(week_events, day, day), "ranks")
    active_history = history.join(user_daily.select("user_id"), "user_id", "left_semi")  # active users only
    affinities = scratch.materialize(ranking_rows.item_affinities(active_history, day, day), "affinities")
    knn = scratch.materialize(ranking_rows.knn_scores(affinities, cooccurrence), "knn")

    found = sources(
        ranks=ranks,
        affinities=affinities,
        knn=knn,
        user_daily=user_daily,
        user_category=user_category,
        cooccurrence=cooccurrence,
        pooled=pooled,
        listed=listed,
        config=config,
        materialize=scratch.materialize,
    )
    merged = scratch.materialize(merge(found, excluded, config.max_candidates), "merged")
    users = scratch.materialize(user_rows(user_daily, ranks, day), "users")
    item_frame = scratch.materialize(item_rows(merged, item_daily, items, day), "items")
    pairs = scratch.materialize(
        pair_rows(
            merged,
            item_frame,
            user_category=user_category,
            cooccurrence=cooccurrence,
            ranks=ranks,
            week_events=week_events,
            affinities=affinities,
            knn=knn,
            day=day,
        ),
        "pairs",
    )
    registry = engine.read(spark, catalog.CLEAN_USERS, settings)
    if only_users is not None:
        registry = registry.join(only_users, "user_id", "left_semi")
    cold_users = scratch.materialize(cold_start_users(registry, user_daily, day), "cold_start_users")
    cold = scratch.materialize(cold_start(cold_users, pooled, config, excluded), "cold_start")
    per_source = {row["source"]: row["count"] for row in pairs.groupBy("source").count().collect()}
    return Candidates(
        day=day,
        merged=merged,
        users=users,
        items=item_frame,
        pairs=pairs,
        cold_start=cold,
        active_users=users.count(),
        cold_start_users=cold_users.count(),
        per_source={source: per_source[source] for source in SOURCES if source in per_source},
        cold_start_rows=cold.count(),
    )
