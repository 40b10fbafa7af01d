"""Examples job: candidate sets of past days + what users did next -> training.examples, per label_date.

The ranker is trained where it serves: for label day L (features_date F = L - 1), the rows are the
candidates retrieval proposed on F (`jobs.candidates.build`, the very function recommend runs) to
the users who interacted with anything on L, with the same feature columns recommend scores.
Per label day the item-level frames are built once (`jobs.item_pool`) and the users' candidates one
user bucket after another (`jobs.user_buckets`: as many as the memory to plan for needs for the
day's positive users), each bucket's labelled rows materialised in the run's scratch; the rows do
not depend on the bucket count (every choice is per user).

- positives: candidates the user clicked, carted, favourited or bought on L (views are not
  positives), labelled with the strongest of those events and its weight; interactions with items
  outside the candidate set are left out (the ranker never sees such items when serving, and their
  source features would be all zero, a pattern that would teach it the wrong thing);
- negatives: the user's other candidates, at most `negatives_per_positive` per positive, the ones
  with the lowest hash of (user, item, label_date, seed) (a fixed seed gives the same rows);
- users whose candidates hold none of their interactions of L give no rows.

Point in time: everything comes from `jobs.candidates`, which reads only what is known on F.
Rows are written in a deterministic shuffled order within each label_date (`write_order`): a
trainer streams them in file order and must not see one user's rows together.

A label day needs clean.events on L and F and features.user_daily / item_daily as of F; without
them the run fails naming the table, the days and the command that builds them.

Notation: L = label_date, F = features_date = L - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs import candidates, item_pool, user_buckets
from jobs.candidates import CandidateConfig
from shoprec import catalog, engine, inputs
from shoprec.config import Settings
from shoprec.dates import days_between

# Positive event types: (strength, weight). The strongest event of a (user, item, day) labels it.
POSITIVE_EVENTS = {"purchase": (4, 4.0), "cart": (3, 2.0), "fav": (2, 2.0), "click": (1, 1.0)}
NEGATIVE_EVENT = "negative"
NEGATIVE_WEIGHT = 1.0
DEFAULT_NEGATIVES = 10
DEFAULT_SEED = 20260101


@dataclass(frozen=True)
class ExamplesStats:
    """Rows written to training.examples per label day, the positive/negative split, the user buckets.

    `buckets` has the user buckets of each label day with positives (quiet days are left out).
    """

    start: date
    end: date
    rows: dict[date, int]
    positives: int
    negatives: int
    buckets: dict[date, int]

    def summary(self) -> str:
        """One line for logs and the CLI."""

        def built_in(day: date) -> str:
            count = self.buckets.get(day)
            return "" if count is None else f" ({count} user bucket{'s' if count > 1 else ''})"

        days = ", ".join(f"{day} {n:,}{built_in(day)}" for day, n in self.rows.items())
        return (
            f"examples {self.start}..{self.end}: {self.positives + self.negatives:,} rows "
            f"({self.positives:,} positives, {self.negatives:,} negatives); per label day: {days}"
        )


def positives(events: DataFrame) -> DataFrame:
    """The positive (user, item) pairs of the label days' events.

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


def labelled_candidates(
    found: candidates.Candidates, positive: DataFrame, label_day: date, negatives_per_positive: int, seed: int
) -> DataFrame:
    """training.examples rows of one label day from that day's candidates and positives.

    Args:
        found: The candidates built as of label_day - 1 for the users of `positive`.
        positive: Output of `positives` for label_day.
        label_day: L.
        negatives_per_positive: Negatives kept per positive of a user (0 keeps positives only).
        seed: Seed of the negatives' hash order.

    Returns:
        Every column of training.examples.
    """
    rows = (
        found.pairs.join(found.users, "user_id")
        .join(found.items, "item_id")
        .join(positive.drop("label_date"), ["user_id", "item_id"], "left")
        .withColumns(
            {
                "label": F.coalesce(F.col("label"), F.lit(0)),
                "label_event": F.coalesce(F.col("label_event"), F.lit(NEGATIVE_EVENT)),
                "weight": F.coalesce(F.col("weight"), F.lit(NEGATIVE_WEIGHT)),
                "features_date": F.lit(label_day - timedelta(days=1)),
                "label_date": F.lit(label_day),
            }
        )
    )
    per_user = Window.partitionBy("user_id")
    draw = Window.partitionBy("user_id", "label").orderBy(
        F.xxhash64("user_id", "item_id", "label_date", F.lit(seed)), "item_id"
    )
    kept = (
        rows.withColumn("_positives", F.sum("label").over(per_user))
        .where(F.col("_positives") > 0)
        .withColumn("_draw", F.row_number().over(draw))
        .where((F.col("label") == 1) | (F.col("_draw") <= F.col("_positives") * negatives_per_positive))
    )
    return engine.conform(kept, catalog.TRAINING_EXAMPLES)


def write_order(seed: int) -> list[Column]:
    """The order of the rows in the files: by label_date, then a hash of (user, item, label_date, seed).

    A fixed shuffle: reruns write the same order, and a trainer streaming a day's files sees users
    and items mixed (user_id and item_id only break hash ties).
    """
    key = F.xxhash64("user_id", "item_id", "label_date", F.lit(seed))
    return [F.col("label_date"), key, F.col("user_id"), F.col("item_id")]


def check_inputs(spark: SparkSession, settings: Settings, label_days: list[date]) -> None:
    """Fail naming the table, the days and the command to run when an input partition is missing.

    Each label day L needs clean.events on L and on L - 1, and features.user_daily /
    features.item_daily as of L - 1 (user_category and item_cooccurrence may legitimately be empty).
    """
    features_days = inputs.shifted(label_days, -1)
    inputs.require_days(spark, settings, catalog.CLEAN_EVENTS, sorted({*label_days, *features_days}))
    for table in (catalog.USER_DAILY, catalog.ITEM_DAILY):
        inputs.require_days(
            spark, settings, table, features_days, "(the features of the day before each label day)"
        )


def run(
    spark: SparkSession,
    settings: Settings,
    start: date,
    end: date | None = None,
    *,
    negatives_per_positive: int = DEFAULT_NEGATIVES,
    seed: int = DEFAULT_SEED,
    config: CandidateConfig | None = None,
    buckets: int | None = None,
) -> ExamplesStats:
    """Build training.examples for label days start..end and replace those partitions in one commit.

    Args:
        spark: A session with the catalog tables registered.
        settings: Where the lake lives, and the memory to plan for.
        start: First label day.
        end: Last label day (included); defaults to start.
        negatives_per_positive: Negative candidates kept per positive (0 writes positives only).
        seed: Seed of the negatives' choice and of the row shuffle; a fixed seed gives the same rows.
        config: Candidate settings, as recommend uses them (the default when None).
        buckets: User buckets built one after another per label day; None sizes them from the
            day's positive users and the memory to plan for (SHOPREC_MEMORY_GB).

    Returns:
        Rows written per label day, positives and negatives, user buckets per label day.

    Raises:
        MissingInputError: An input partition is missing (names the table, the days and the command).
        ValueError: A bad argument.
    """
    end = end or start
    label_days = list(days_between(start, end))
    if negatives_per_positive < 0:
        raise ValueError(f"negatives_per_positive must be >= 0, got {negatives_per_positive}")
    if buckets is not None and buckets < 1:
        raise ValueError(f"buckets must be at least 1, got {buckets}")
    config = config or CandidateConfig()
    check_inputs(spark, settings, label_days)
    events = engine.read(spark, catalog.CLEAN_EVENTS, settings)
    counts: dict[date, int] = {}
    with engine.scratch(spark, settings) as scratch:
        parts: list[DataFrame] = []
        for label_day in label_days:
            positive = scratch.materialize(
                positives(events.where(F.col("event_date") == F.lit(label_day))), f"positives_{label_day}"
            )
            users = positive.select("user_id").distinct()
            labelled_users = users.count()
            if not labelled_users:
                continue  # a quiet day: nobody to learn from
            counts[label_day] = buckets or user_buckets.bucket_count(labelled_users, settings.memory_bytes)
            parts += _label_day(
                spark,
                settings,
                label_day,
                positive,
                users,
                counts[label_day],
                config,
                scratch,
                negatives_per_positive=negatives_per_positive,
                seed=seed,
            )
        built = engine.empty(spark, catalog.TRAINING_EXAMPLES)
        for frame in parts:
            built = built.unionByName(frame)
        built = scratch.materialize(built, "examples")
        engine.replace_range(
            engine.sort_for_write(built, *write_order(seed)), catalog.TRAINING_EXAMPLES, settings, start, end
        )
    written = (
        engine.read(spark, catalog.TRAINING_EXAMPLES, settings)
        .where(engine.range_predicate(catalog.TRAINING_EXAMPLES, start, end))
        .groupBy("label_date")
        .agg(F.count(F.lit(1)).alias("rows"), F.sum("label").alias("positives"))
        .collect()
    )
    by_day = {row["label_date"]: (row["rows"], row["positives"] or 0) for row in written}
    rows_per_day = {day: by_day.get(day, (0, 0))[0] for day in label_days}
    positives_n = sum(p for _, p in by_day.values())
    return ExamplesStats(
        start, end, rows_per_day, positives_n, sum(rows_per_day.values()) - positives_n, counts
    )


def _label_day(
    spark: SparkSession,
    settings: Settings,
    label_day: date,
    positive: DataFrame,
    users: DataFrame,
    count: int,
    config: CandidateConfig,
    scratch: engine.Scratch,
    *,
    negatives_per_positive: int,
    seed: int,
) -> list[DataFrame]:
    """The labelled rows of one label day, one frame per user bucket (materialised in `scratch`).

    The item-level frames of L - 1 are built once for all buckets; each bucket's candidates live in
    their own scratch space, removed once its rows are materialised.
    """
    features_day = label_day - timedelta(days=1)
    parts: list[DataFrame] = []
    with engine.scratch(spark, settings) as day_scratch:
        shared = item_pool.item_frames(spark, settings, features_day, config.co_viewed, day_scratch)
        for bucket in user_buckets.buckets(count):
            with engine.scratch(spark, settings) as bucket_scratch:
                found = candidates.build(
                    spark,
                    settings,
                    features_day,
                    config,
                    scratch=bucket_scratch,
                    only_users=users,
                    bucket=bucket,
                    shared=shared,
                )
                rows = labelled_candidates(found, positive, label_day, negatives_per_positive, seed)
                parts.append(scratch.materialize(rows, f"examples_{label_day}_{bucket.index}"))
    return parts
