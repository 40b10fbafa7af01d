"""Candidates for batch ranking: what each user may be recommended on run day D, and the rows to score.

Point in time: recommendations made on D (for D + 1) use only what is known on D, so the ranker
sees rows built exactly like the training.examples rows of label day D + 1 (features_date D):
features as of D, clean.events up to D, the catalogue (clean.items) valid on D, the user registry
(clean.users) valid on D.

Active users (a features.user_daily row as of D) get candidates from the sources of
`jobs.candidate_sources`, in priority order (catalog.CANDIDATE_SOURCES); cold-start users get its
popularity list. Per-source limits are taken on lists of catalogue items; then,
per (user, item), the priority source's row is kept, items the user bought in the 30 days up to D
are dropped (``exclude_bought``), and each user keeps ``max_candidates`` rows, by priority, then
source_score, then item_id.

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

from jobs import candidate_sources, item_pool, ranking_rows
from jobs.candidate_sources import PAIR_KEY_COLUMNS
from jobs.user_buckets import UserBucket
from shoprec import catalog, engine, inputs
from shoprec.config import Settings
from shoprec.vocabulary import BOUGHT_DAYS

SOURCES = catalog.CANDIDATE_SOURCES  # priority order, best first


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


def merge(
    found: DataFrame,
    excluded: DataFrame | None,
    max_candidates: int,
    materialize: Callable[[DataFrame, str], DataFrame] | None = None,
) -> DataFrame:
    """One row per (user, item): the best source's, without excluded pairs, capped per user.

    Args:
        found: Source rows of every source.
        excluded: (user_id, item_id) pairs never to recommend (recent purchases), or None.
        max_candidates: Rows kept per user, by source priority, then source_score, then item_id.
        materialize: Computes a frame once and returns it read back (the per-pair aggregate is read
            twice); None keeps it lazy.

    Returns:
        Rows (user_id, item_id, source, reason, source_score, sources), `sources` naming every
        source that proposed the pair (sorted, comma-separated).
    """
    # plain aggregations only: Sail's per-pair windows and struct/set aggregates held 13 GB for one
    # medium bucket where these take 1.6 GB (same rows)
    found = found.withColumn("_priority", _priority(F.col("source")))
    kept = found if excluded is None else found.join(excluded, ["user_id", "item_id"], "left_anti")
    named = sorted(SOURCES)
    priorities = range(1, len(SOURCES) + 1)

    def at(priority: int, column: Column) -> Column:
        return F.when(F.col("_priority") == priority, column)

    # one pass: each priority's best score, smallest reason and row count; the pair's best source's
    # are picked after (a source proposing the pair once, as they do, leaves no tie to break)
    per_pair = kept.groupBy("user_id", "item_id").agg(
        F.min("_priority").alias("_priority"),
        *[F.max((F.col("source") == name).cast("int")).alias(f"_has_{k}") for k, name in enumerate(named)],
        *[F.max(at(p, F.col("source_score"))).alias(f"_score_{p}") for p in priorities],
        *[F.min(at(p, F.col("reason"))).alias(f"_reason_{p}") for p in priorities],
        *[F.count(at(p, F.lit(1))).alias(f"_rows_{p}") for p in priorities],
    )

    def of_best(prefix: str) -> Column:
        return F.coalesce(*[at(p, F.col(f"{prefix}_{p}")) for p in priorities])

    proposers = F.concat_ws(
        ",", *[F.when(F.col(f"_has_{k}") == 1, F.lit(name)) for k, name in enumerate(named)]
    )
    best = per_pair.select(
        "user_id",
        "item_id",
        "_priority",
        F.coalesce(*[at(p, F.lit(name)) for p, name in zip(priorities, SOURCES, strict=True)]).alias(
            "source"
        ),
        proposers.alias("sources"),
        of_best("_score").alias("source_score"),
        of_best("_reason").alias("reason"),
        of_best("_rows").alias("_rows"),
    )
    if materialize is not None:
        best = materialize(best, "merge_pairs")
    # a source proposing a pair twice: its best score, then the smallest reason among the rows with it
    pair_source = ["user_id", "item_id", "_priority", "source", "sources"]
    pair = ["user_id", "item_id", "_priority"]
    twice = found.join(best.where(F.col("_rows") > 1).select(*pair, "sources"), pair)
    top_score = twice.groupBy(*pair_source).agg(F.max("source_score").alias("source_score"))
    tie_broken = (
        twice.join(top_score, [*pair_source, "source_score"])
        .groupBy(*pair_source, "source_score")
        .agg(F.min("reason").alias("reason"))
    )
    # a null best score matches no row in the tie-break, so such a pair has no best row
    once = best.where((F.col("_rows") == 1) & F.col("source_score").isNotNull())
    columns = [*pair_source, "source_score", "reason"]
    chosen = once.select(*columns).unionByName(tie_broken.select(*columns))
    ranked = Window.partitionBy("user_id").orderBy("_priority", F.desc("source_score"), "item_id")
    return (
        chosen.withColumn("_kept", F.row_number().over(ranked))
        .where(F.col("_kept") <= max_candidates)
        .select(*PAIR_KEY_COLUMNS, "sources")
    )


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
    bucket: UserBucket | None = None,
    shared: item_pool.ItemFrames | None = None,
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
        bucket: Build for this bucket's users only (item-level frames are unaffected, so the
            buckets' candidates together equal the unbucketed ones).
        shared: The item-level frames of `day` (`item_pool.item_frames`), when several builds share them.

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

    def restrict(frame: DataFrame) -> DataFrame:
        if only_users is not None:
            frame = frame.join(only_users, "user_id", "left_semi")
        return frame if bucket is None else frame.where(bucket.contains(F.col("user_id")))

    events = restrict(engine.read(spark, catalog.CLEAN_EVENTS, settings))
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
    shared = shared or item_pool.item_frames(spark, settings, day, config.co_viewed, scratch)
    items, item_daily, listed, pooled = shared.items, shared.item_daily, shared.listed, shared.pooled
    cooccurrence = shared.cooccurrence
    user_daily = scratch.materialize(restrict(as_of(catalog.USER_DAILY)), "user_daily")
    user_category = as_of(catalog.USER_CATEGORY)
    ranks = scratch.materialize(ranking_rows.recent_item_ranks(week_events, day, day), "ranks")
    active_history = history.join(user_daily.select("user_id"), "user_id", "left_semi")  # active users only
    affinities = scratch.materialize(ranking_rows.item_affinities(active_history, day, day), "affinities")
    knn = scratch.materialize(ranking_rows.knn_scores(affinities, cooccurrence), "knn")

    found = candidate_sources.sources(
        ranks=ranks,
        affinities=affinities,
        knn=knn,
        user_daily=user_daily,
        user_category=user_category,
        item_partners=shared.partners,
        pooled=pooled,
        listed=listed,
        config=config,
        materialize=scratch.materialize,
    )
    merged = scratch.materialize(merge(found, excluded, config.max_candidates, scratch.materialize), "merged")
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
    registry = restrict(engine.read(spark, catalog.CLEAN_USERS, settings))
    cold_users = scratch.materialize(
        candidate_sources.cold_start_users(registry, user_daily, day), "cold_start_users"
    )
    cold = scratch.materialize(
        candidate_sources.cold_start(cold_users, pooled, config, excluded), "cold_start"
    )
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
