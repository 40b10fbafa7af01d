"""The item pool of run day D: the recommendable items, their popularity, and the item-level frames.

What every user's candidates share on D, computed once per run: the catalogue valid on D (or the log
when a shop exports none), item features and popularity (`pool`), and each item's co-viewed partners.

Notation: popularity = the item's events in the 7 days up to D weighted like category affinity
(vocabulary.AFFINITY_WEIGHTS: view 1, click 2, fav 3, cart 4, purchase 6): one number that orders the
popular lists and gives the cold-start score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import candidate_sources
from jobs.clean import valid_on
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec.vocabulary import AFFINITY_WEIGHTS, EVENT_KINDS


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


@dataclass(frozen=True)
class ItemFrames:
    """The item-level inputs of run day D: the same for every user, so built once per run.

    Attributes:
        items: clean.items (the catalogue history).
        item_daily: features.item_daily rows as of D.
        listed: Output of `catalogue` for D.
        pooled: Output of `pool` for D.
        cooccurrence: features.item_cooccurrence rows as of D.
        partners: Output of `candidate_sources.partners` for the co_viewed source.
    """

    items: DataFrame
    item_daily: DataFrame
    listed: DataFrame
    pooled: DataFrame
    cooccurrence: DataFrame
    partners: DataFrame


def item_frames(
    spark: SparkSession, settings: Settings, day: date, co_viewed: int, scratch: engine.Scratch
) -> ItemFrames:
    """Read and materialise the item-level inputs of run day `day` in `scratch`.

    `co_viewed` is the co_viewed source's limit per user (each item keeps that many partners, at most
    candidate_sources.CO_VIEWED_PARTNERS).
    """

    def as_of(table: catalog.Table) -> DataFrame:
        return engine.read(spark, table, settings).where(
            engine.partition_predicate(table, {"as_of_date": day})
        )

    items = engine.read(spark, catalog.CLEAN_ITEMS, settings)
    item_daily = scratch.materialize(as_of(catalog.ITEM_DAILY), "item_daily")
    cooccurrence = as_of(catalog.ITEM_COOCCURRENCE)
    listed = scratch.materialize(catalogue(items, item_daily, day), "catalogue")
    per_anchor = min(co_viewed, candidate_sources.CO_VIEWED_PARTNERS)
    return ItemFrames(
        items=items,
        item_daily=item_daily,
        listed=listed,
        pooled=scratch.materialize(pool(item_daily, listed), "pool"),
        cooccurrence=cooccurrence,
        partners=scratch.materialize(
            candidate_sources.partners(cooccurrence, listed, per_anchor), "partners"
        ),
    )
