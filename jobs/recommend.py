"""Recommend job: candidates -> champion DLRM scores -> top K per user -> validated, atomic publication.

For run_date D (features as of D, recommendations for D+1), one user bucket after another
(`jobs.user_buckets`: as many as the memory to plan for needs, so no step holds every user's
candidates; the result does not depend on the count):

1. `jobs.candidates` proposes items per active user (revisit, co-viewed, item-kNN, top categories,
   trending, popular) and a labelled popularity list for cold-start users.
2. The champion ranker (or a chosen registry version) scores the bucket's candidates in a
   worker thread of this process while the engine builds the next bucket, computing each user's
   and item's part once (`models.score.PairScorer`), streaming the scores with each pair's
   reason and category to scratch Parquet.
3. `top_k` keeps K per user with at most `category_cap` items of one category ahead of the rest;
   each item's best users of the bucket are kept for the audiences.

Then, for all buckets together:

4. The staged set is validated with `expectations/reco.user_recommendations.yaml`; a blocking
   failure publishes nothing and raises `PublishError`.
5. The run_date partition of reco.user_recommendations is replaced in one Delta commit, then
   reco.latest (when D is the newest run), reco.item_audiences and reco.candidates (the candidate
   set the ranker chose from, for candidate recall). Readers of each table only ever
   see complete sets: a run killed before a commit leaves the previous version in place.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import candidates, item_pool, user_buckets
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec.vocabulary import COLD_START_MODEL
from shoprec_quality import validation

if TYPE_CHECKING:
    from models.score import Ranker, ScoringStats

log = logging.getLogger("shoprec.recommend")


class PublishError(RuntimeError):
    """The staged recommendations failed a blocking expectation; nothing was published."""


@dataclass(frozen=True)
class RecommendConfig:
    """Knobs of a recommend run.

    Attributes:
        k: Items per user.
        category_cap: Items of one category allowed before items of other categories.
        audience_size: Users kept per item in reco.item_audiences.
        candidates: Candidate generation settings (sources, limits, exclusion of bought items).
        buckets: User buckets built and scored one after another (`jobs.user_buckets`); None
            sizes them from the day's active users and the memory to plan for (SHOPREC_MEMORY_GB).
    """

    k: int = 20
    category_cap: int = 3
    audience_size: int = 100
    candidates: candidates.CandidateConfig = field(default_factory=candidates.CandidateConfig)
    buckets: int | None = None

    def __post_init__(self) -> None:
        if self.k < 1 or self.category_cap < 1 or self.audience_size < 1:
            raise ValueError("k, category cap and audience size must be at least 1")
        if self.buckets is not None and self.buckets < 1:
            raise ValueError(f"buckets must be at least 1, got {self.buckets}")


@dataclass(frozen=True)
class RecommendStats:
    """What a recommend run did."""

    run_date: date
    model_version: str
    users: int
    cold_start_users: int
    candidates: int
    rows: int
    audience_rows: int
    scoring_seconds: float
    buckets: int
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        """Candidate pairs scored per second."""
        return self.candidates / max(self.scoring_seconds, 1e-9)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"recommendations {self.run_date} (model v{self.model_version}): {self.rows:,} rows for "
            f"{self.users:,} users ({self.cold_start_users:,} cold start); {self.candidates:,} candidates scored "
            f"at {self.pairs_per_second:,.0f}/s in {self.buckets} user bucket(s); {self.audience_rows:,} "
            f"audience rows; {self.seconds:.1f} s"
        )


def top_k(scored: DataFrame, k: int, category_cap: int) -> DataFrame:
    """Rank each user's scored candidates and keep K; adds `rank` (1..K without gaps).

    Best score first, except that a user's items beyond the `category_cap`-th of one category come
    after every item within the caps (diversity without ever returning fewer than K).
    """
    in_category = Window.partitionBy("user_id", "category_id").orderBy(F.desc("score"), "item_id")
    by_user = Window.partitionBy("user_id").orderBy("_over_cap", F.desc("score"), "item_id")
    # one window per step (Sail cannot nest a window in another's input); an item behind k others of
    # its own category ranks below k anyway (they all come first), so the second window sorts fewer rows
    return (
        scored.withColumn("_in_category", F.row_number().over(in_category))
        .where(F.col("_in_category") <= k)
        .withColumn("_over_cap", (F.col("_in_category") > category_cap).cast("int"))
        .withColumn("rank", F.row_number().over(by_user).cast("int"))
        .where(F.col("rank") <= k)
        .drop("_in_category", "_over_cap")
    )


def cold_start_rows(cold: DataFrame, k: int) -> DataFrame:
    """Top K of each cold-start user's popularity/trending list, scored by scaled popularity."""
    by_user = Window.partitionBy("user_id").orderBy(F.desc("source_score"), "item_id")
    return (
        cold.withColumn("rank", F.row_number().over(by_user).cast("int"))
        .where(F.col("rank") <= k)
        .select(
            "user_id",
            "rank",
            "item_id",
            F.col("source_score").alias("score"),
            F.lit(COLD_START_MODEL).alias("model_version"),
            "reason",
        )
    )


def item_audiences(scored: DataFrame, size: int) -> DataFrame:
    """Per item, the `size` users with the highest scores among all scored candidates."""
    by_item = Window.partitionBy("item_id").orderBy(F.desc("score"), "user_id")
    return (
        scored.withColumn("rank", F.row_number().over(by_item).cast("int"))
        .where(F.col("rank") <= size)
        .select("item_id", "rank", "user_id", "score")
    )


def run(
    spark: SparkSession,
    settings: Settings,
    day: date,
    config: RecommendConfig | None = None,
    *,
    model_version: int | None = None,
    progress: Callable[[str], None] = log.info,
) -> RecommendStats:
    """Build, validate and publish the recommendations of run_date `day`.

    Args:
        spark: A session with the catalog tables registered.
        settings: Where the lake and the model registry live, and the memory to plan for.
        day: run_date (features as of this day).
        config: Run knobs; defaults when None.
        model_version: Registry version to score with; the champion when None.
        progress: Receives one line per stage.

    Raises:
        ValueError: A missing input partition (named) or bad knobs.
        PublishError: The staged set failed validation; nothing was published.
    """
    from models.registry import Registry

    config = config or RecommendConfig()
    started = datetime.now(UTC)
    record, ranker = Registry.for_settings(settings).load(model_version)
    version = str(record.version)
    progress(f"recommending for run_date {day} with model v{version}")
    with engine.scratch(spark, settings) as scratch:
        candidates.check_inputs(spark, settings, day)
        count = config.buckets or _bucket_count(spark, settings, day)
        shared = item_pool.item_frames(
            spark, settings, day, config.candidates.co_viewed, scratch.child("items")
        )
        parts = _recommend_buckets(
            spark, settings, day, config, ranker, version, count, shared, scratch, progress
        )
        staged = _union([part.staged for part in parts]).select(
            "*", F.lit(started).alias("generated_at"), F.lit(day).alias("run_date")
        )
        active_users = sum(part.active_users for part in parts)
        cold_users = sum(part.cold_start_users for part in parts)
        report = validation.validate(
            spark,
            settings,
            catalog.RECO_USER_RECOMMENDATIONS.name,
            day,
            rows=staged,
            params={
                "k": config.k,
                "expected_users": active_users + cold_users,
                "exclude_bought": config.candidates.exclude_bought,
            },
        )
        if report.blocking_failed:
            failures = "; ".join(r.describe() for r in report.blocking_failures)
            raise PublishError(f"nothing published for run_date {day}: {failures}")
        progress("validated; publishing")
        engine.replace_partition(staged, catalog.RECO_USER_RECOMMENDATIONS, settings, {"run_date": day})
        _refresh_latest(spark, settings)
        audiences = scratch.materialize(
            item_audiences(_union([part.audiences for part in parts]), config.audience_size).select(
                "*",
                F.lit(version).alias("model_version"),
                F.lit(started).alias("generated_at"),
                F.lit(day).alias("run_date"),
            ),
            "audiences",
        )
        engine.replace_partition(audiences, catalog.RECO_ITEM_AUDIENCES, settings, {"run_date": day})
        engine.replace_partition(
            _union([part.merged for part in parts]).withColumn("run_date", F.lit(day)),
            catalog.RECO_CANDIDATES,
            settings,
            {"run_date": day},
        )
        rows = sum(part.rows for part in parts)
        audience_rows = audiences.count()
    return RecommendStats(
        run_date=day,
        model_version=version,
        users=active_users + cold_users,
        cold_start_users=cold_users,
        candidates=sum(part.pairs for part in parts),
        rows=rows,
        audience_rows=audience_rows,
        scoring_seconds=sum(part.scoring_seconds for part in parts),
        buckets=count,
        seconds=(datetime.now(UTC) - started).total_seconds(),
    )


@dataclass(frozen=True)
class _BucketResult:
    """One user bucket's share of a recommend run (frames read from the run's scratch)."""

    staged: DataFrame
    audiences: DataFrame
    merged: DataFrame
    active_users: int
    cold_start_users: int
    pairs: int
    rows: int
    scoring_seconds: float


def _bucket_count(spark: SparkSession, settings: Settings, day: date) -> int:
    """Buckets for run day `day`: sized from its active users and the memory to plan for."""
    active = (
        engine.read(spark, catalog.USER_DAILY, settings)
        .where(engine.partition_predicate(catalog.USER_DAILY, {"as_of_date": day}))
        .count()
    )
    return user_buckets.bucket_count(active, settings.memory_bytes)


def _recommend_buckets(
    spark: SparkSession,
    settings: Settings,
    day: date,
    config: RecommendConfig,
    ranker: Ranker,
    version: str,
    count: int,
    shared: item_pool.ItemFrames,
    scratch: engine.Scratch,
    progress: Callable[[str], None],
) -> list[_BucketResult]:
    """Every bucket's result, in bucket order.

    The model scores one bucket in a worker thread while the engine builds the next bucket's
    candidates and ranks the one before (a pipeline of two stages: neither fills the CPUs alone).
    One bucket is scored at a time, so memory holds one scorer's tables next to the engine's bucket.
    With several buckets the model gets half the CPUs' threads: on 2 cores, a second thread
    beside the engine cost more CPU than it saved (README, performance).
    """
    from models.score import torch_threads

    results: list[_BucketResult] = []
    with (
        torch_threads(max(1, (os.cpu_count() or 2) // 2) if count > 1 else None),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="shoprec-scoring") as model,
    ):
        waiting: _ScoringBucket | None = None
        for bucket in user_buckets.buckets(count):
            built = _build_bucket(
                spark, settings, day, config, ranker, bucket, shared, scratch, model, progress
            )
            if waiting is not None:
                results.append(_rank_bucket(spark, config, version, waiting, progress))
            waiting = built
        if waiting is not None:
            results.append(_rank_bucket(spark, config, version, waiting, progress))
    return results


@dataclass(frozen=True)
class _ScoringBucket:
    """A bucket whose candidates are built and being scored."""

    bucket: user_buckets.UserBucket
    found: candidates.Candidates
    space: engine.Scratch
    scoring: Future[ScoringStats]


def _build_bucket(
    spark: SparkSession,
    settings: Settings,
    day: date,
    config: RecommendConfig,
    ranker: Ranker,
    bucket: user_buckets.UserBucket,
    shared: item_pool.ItemFrames,
    scratch: engine.Scratch,
    model: ThreadPoolExecutor,
    progress: Callable[[str], None],
) -> _ScoringBucket:
    """One bucket's candidates (engine), handed to `model` to score."""
    from models.score import score_files

    space = scratch.child(f"bucket_{bucket.index}")
    found = candidates.build(
        spark, settings, day, config.candidates, scratch=space, bucket=bucket, shared=shared
    )
    progress(f"{found.summary()} ({bucket})")
    progress(f"scoring candidates of {found.active_users:,} users ({bucket})")
    scoring = model.submit(
        score_files,
        ranker,
        space.path("users"),
        space.path("items"),
        space.path("pairs"),
        space.folder("scores"),
        carry=("reason", "category_id"),
    )
    return _ScoringBucket(bucket, found, space, scoring)


def _rank_bucket(
    spark: SparkSession,
    config: RecommendConfig,
    version: str,
    waiting: _ScoringBucket,
    progress: Callable[[str], None],
) -> _BucketResult:
    """Top K and the partial item audiences of a bucket, once its scores are written."""
    scoring = waiting.scoring.result()
    progress(f"scored {scoring.pairs:,} pairs at {scoring.pairs_per_second:,.0f}/s ({waiting.bucket})")
    space = waiting.space
    scored = spark.read.parquet(str(space.path("scores")))
    ranked = top_k(scored, config.k, config.category_cap).select(
        "user_id", "rank", "item_id", "score", F.lit(version).alias("model_version"), "reason"
    )
    staged = space.materialize(
        ranked.unionByName(cold_start_rows(waiting.found.cold_start, config.k)), "staged"
    )
    audiences = space.materialize(item_audiences(scored, config.audience_size), "audiences")
    return _BucketResult(
        staged=staged,
        audiences=audiences,
        merged=waiting.found.merged,
        active_users=waiting.found.active_users,
        cold_start_users=waiting.found.cold_start_users,
        pairs=scoring.pairs,
        rows=staged.count(),
        scoring_seconds=scoring.seconds,
    )


def _union(frames: list[DataFrame]) -> DataFrame:
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    return union


def _refresh_latest(spark: SparkSession, settings: Settings) -> None:
    """Replace reco.latest (one commit) with the newest run_date of reco.user_recommendations."""
    published = engine.read(spark, catalog.RECO_USER_RECOMMENDATIONS, settings)
    newest = published.agg(F.max("run_date")).first()[0]
    engine.overwrite(published.where(F.col("run_date") == F.lit(newest)), catalog.RECO_LATEST, settings)
