"""Offline evaluation: the recommendations published for run_date D against what users did on D + 1.

Notation: D = run_date, E = eval_date = D + 1, K = the cut-off. For a user u, R_u = the distinct
items u carted or bought on E (the target "purchase+cart"), L_u = u's list of at most K items,
best first, and rel_i = 1 when the item at position i of L_u is in R_u, else 0.

Evaluated users are those with reco.user_recommendations rows for D *and* at least one target on
E; every method is scored on exactly these users, so the rows of one run_date compare like with
like. Methods:

- ``published``: the platform's rows of run_date D with rank <= K.
- ``popularity``: one global ranking as of D from features.item_daily, by purchases_7d, then
  views_7d (descending), then item_id; each user gets its first K items they did not buy.
- ``cooccurrence``: the partners of the user's recent items (any event in the week D - 6 .. D),
  i.e. the features.item_cooccurrence rows as of D anchored on them (each item's top 50), scored
  by the best score over the anchors, ties by item_id; topped up from the popularity ranking
  when fewer than K.
- ``planted_ceiling`` (demo data only, see `planted_lists`): what the generator itself favours.

The baselines drop the items the user bought in the 30 days up to D (D - 29 .. D), as the
published rows do by contract. Targets are kept whatever the user bought before: a repeat purchase
is a real miss for every method alike.

Metrics, for a user with n_u = min(|R_u|, K) and positions i = 1..|L_u|:

- recall@K = sum(rel_i) / n_u;
- ndcg@K = sum(rel_i / log2(i + 1)) / sum_{i=1..n_u} 1 / log2(i + 1) (binary relevance);
- map@K: average precision sum(rel_i * precision@i) / n_u, precision@i = sum_{j<=i} rel_j / i;
- hit_rate@K: 1 when sum(rel_i) > 0;

each a plain mean over the evaluated users (a user with a short or empty list counts with what it
has). Over all evaluated users' lists together:

- coverage = distinct listed items / items of clean.items valid on D (the catalogue);
- novelty = mean over listed rows of -log2(share(item)), share = (n + 1) / (N + M) with n = the
  item's events of any type in the 7 days up to D (features.item_daily as of D), N = the sum of n
  over all items, M = the catalogue size (add-one smoothing keeps never-seen items finite).

The job writes one ops.eval_metrics row per method for (D, K), replacing any earlier rows of the
same run_date and K in one Delta commit, so reruns are idempotent. Spark does the joins over the
big tables (a run's recommendations, 30 days of events, co-occurrences); once restricted to the
evaluated users the lists are small and the metric maths is pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.clean import valid_on
from shoprec import catalog
from shoprec import spark as engine
from shoprec.config import Settings

TARGET_EVENTS = ("purchase", "cart")
TARGET = "purchase+cart"
BOUGHT_DAYS = 30  # items bought in the 30 days up to D are never recommended
RECENT_DAYS = 7  # the anchors of the co-occurrence baseline
POPULARITY_ORDER = ("purchases_7d", "views_7d")
INTERACTION_COLUMNS = ("views_7d", "clicks_7d", "carts_7d", "favs_7d", "purchases_7d")
COLD_START_VERSION = "popularity"  # model_version of published cold-start rows
METHODS = ("published", "popularity", "cooccurrence", "planted_ceiling")
PREFERENCES_FILE = "preferences.parquet"
TRUTH_ITEMS_FILE = "items.parquet"
REPORT_FILE = Path("reports") / "eval_metrics.png"
LIST_COLUMNS = ["user_id", "rank", "item_id"]


@dataclass(frozen=True)
class MethodMetrics:
    """One method's metrics at K over the evaluated users (None when no user was evaluated)."""

    method: str
    users: int
    recall: float | None
    ndcg: float | None
    map: float | None
    hit_rate: float | None
    coverage: float | None
    novelty: float | None
    model_version: str | None = None


@dataclass(frozen=True)
class EvalStats:
    """What one evaluation of a run_date wrote to ops.eval_metrics."""

    run_date: date
    eval_date: date
    k: int
    target: str
    methods: tuple[MethodMetrics, ...]

    def summary(self) -> str:
        """One line for logs."""
        users = self.methods[0].users if self.methods else 0
        return (
            f"evaluated run_date {self.run_date} on {self.eval_date} ({self.target}, k={self.k}): "
            f"{users:,} users, methods {', '.join(m.method for m in self.methods)}"
        )

    def table(self) -> str:
        """The methods x metrics table the CLI prints."""
        k = self.k
        header = (
            f"{'method':16} {'users':>8} {f'recall@{k}':>10} {f'ndcg@{k}':>10} {f'map@{k}':>10} "
            f"{f'hit@{k}':>10} {'coverage':>9} {'novelty':>8}  model_version"
        )
        lines = [self.summary(), header]
        for m in self.methods:
            cells = [
                _cell(v, w, d)
                for v, w, d in (
                    (m.recall, 10, 4),
                    (m.ndcg, 10, 4),
                    (m.map, 10, 4),
                    (m.hit_rate, 10, 4),
                    (m.coverage, 9, 4),
                    (m.novelty, 8, 2),
                )
            ]
            lines.append(f"{m.method:16} {m.users:>8,} {' '.join(cells)}  {m.model_version or '-'}")
        return "\n".join(lines)


def _cell(value: float | None, width: int, decimals: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


@dataclass(frozen=True)
class EvalInputs:
    """Everything the methods and metrics need, restricted to the evaluated users (small pandas frames).

    Attributes:
        run_date: D.
        eval_date: E = D + 1.
        targets: (user_id, item_id) of the evaluated users' targets on E; defines the users.
        published: (user_id, rank, item_id), the published rows with rank <= K of those users.
        bought: (user_id, item_id) the users bought in the 30 days up to D.
        cooccurrence: (user_id, rank, item_id), the co-occurrence candidates before the top-up.
        item_daily: (item_id, purchases_7d, views_7d, interactions_7d) of every item as of D.
        catalogue: Item ids of clean.items valid on D.
        model_version: Ranker version(s) behind the published rows of D.
    """

    run_date: date
    eval_date: date
    targets: pd.DataFrame
    published: pd.DataFrame
    bought: pd.DataFrame
    cooccurrence: pd.DataFrame
    item_daily: pd.DataFrame
    catalogue: np.ndarray
    model_version: str | None

    @property
    def users(self) -> np.ndarray:
        """The evaluated user ids, ascending."""
        return np.sort(self.targets["user_id"].unique())


# --- Spark transforms ---------------------------------------------------------------------------


def targets(events: DataFrame) -> DataFrame:
    """(user_id, item_id): distinct items carted or bought in `events` (clean.events of E)."""
    return events.where(F.col("event_type").isin(*TARGET_EVENTS)).select("user_id", "item_id").distinct()


def evaluated_targets(target: DataFrame, recommendations: DataFrame) -> DataFrame:
    """The targets of users who have recommendations: these users are the ones evaluated."""
    return target.join(recommendations.select("user_id").distinct(), "user_id", "left_semi")


def bought_items(events: DataFrame, users: DataFrame) -> DataFrame:
    """(user_id, item_id): distinct items the users bought in `events` (clean.events of D - 29 .. D)."""
    return (
        events.where(F.col("event_type") == "purchase")
        .join(users, "user_id", "left_semi")
        .select("user_id", "item_id")
        .distinct()
    )


def recent_items(events: DataFrame, users: DataFrame) -> DataFrame:
    """(user_id, item_id): distinct items the users touched in `events` (clean.events of D - 6 .. D)."""
    return events.join(users, "user_id", "left_semi").select("user_id", "item_id").distinct()


def cooccurrence_lists(recent: DataFrame, cooccurrence: DataFrame, bought: DataFrame, k: int) -> DataFrame:
    """Per user, the top K partners of their recent items, bought items left out.

    Args:
        recent: (user_id, item_id) anchors, from `recent_items`.
        cooccurrence: features.item_cooccurrence rows of one as_of_date: each anchor item_id with
            its top partners other_item_id. Only that direction is used: looking pairs up the other
            way round too (as training's ui_cooc_score does for given pairs) triples the joined rows
            at medium scale, through popular items that are in thousands of partner lists.
        bought: (user_id, item_id) to leave out, from `bought_items`.
        k: List length.

    Returns:
        (user_id, rank, item_id), rank 1..<=K by the best score over the anchors, ties by item_id.
    """
    partners = cooccurrence.select(
        F.col("item_id").alias("_anchor"), F.col("other_item_id").alias("item_id"), "score"
    )
    best_first = Window.partitionBy("user_id").orderBy(F.desc("score"), "item_id")
    return (
        recent.select("user_id", F.col("item_id").alias("_anchor"))
        .join(partners, "_anchor")
        .groupBy("user_id", "item_id")
        .agg(F.max("score").alias("score"))
        .join(bought, ["user_id", "item_id"], "left_anti")
        .withColumn("rank", F.row_number().over(best_first))
        .where(F.col("rank") <= k)
        .select(*LIST_COLUMNS)
    )


def item_interactions(item_daily: DataFrame) -> DataFrame:
    """(item_id, purchases_7d, views_7d, interactions_7d) from features.item_daily of one as_of_date."""
    interactions = sum((F.coalesce(F.col(c), F.lit(0)) for c in INTERACTION_COLUMNS), F.lit(0))
    return item_daily.select(
        "item_id",
        F.coalesce(F.col("purchases_7d"), F.lit(0)).alias("purchases_7d"),
        F.coalesce(F.col("views_7d"), F.lit(0)).alias("views_7d"),
        interactions.cast("bigint").alias("interactions_7d"),
    )


# --- reading the inputs -------------------------------------------------------------------------


def _partition(spark: SparkSession, settings: Settings, table: catalog.Table, day: date) -> DataFrame:
    return engine.read(spark, table, settings).where(
        engine.partition_predicate(table, {table.partition_by[0]: day})
    )


def _events_between(spark: SparkSession, settings: Settings, first: date, last: date) -> DataFrame:
    return engine.read(spark, catalog.CLEAN_EVENTS, settings).where(
        engine.range_predicate(catalog.CLEAN_EVENTS, first, last)
    )


def published_model_version(versions: list[str]) -> str | None:
    """The ranker version(s) of a run: its distinct versions other than cold start, comma-joined.

    A run served from popularity alone reports 'popularity'; no rows report None.
    """
    ranked = sorted({v for v in versions if v and v != COLD_START_VERSION})
    if ranked:
        return ",".join(ranked)
    return COLD_START_VERSION if COLD_START_VERSION in versions else None


class NothingPublishedError(ValueError):
    """The run_date to evaluate has no published recommendations."""


def check_recommendations(recommendations: DataFrame, day: date) -> str | None:
    """Fail unless run_date D has recommendations; returns their `published_model_version`."""
    versions = [row[0] for row in recommendations.select("model_version").distinct().collect()]
    if not versions:
        raise NothingPublishedError(
            f"no {catalog.RECO_USER_RECOMMENDATIONS.name} rows for run_date {day}: "
            f"run `shoprec recommend --date {day}` first"
        )
    return published_model_version(versions)


def check_eval_events(spark: SparkSession, settings: Settings, day: date) -> None:
    """Fail unless clean.events has the partition of E = D + 1 (the targets)."""
    eval_date = day + timedelta(days=1)
    if not _partition(spark, settings, catalog.CLEAN_EVENTS, eval_date).limit(1).collect():
        raise ValueError(
            f"no {catalog.CLEAN_EVENTS.name} for {eval_date}, the day after run_date {day}: it cannot be "
            f"evaluated yet; run `shoprec clean --date {eval_date}` once that day's events have landed"
        )


def load_item_daily(spark: SparkSession, settings: Settings, day: date) -> pd.DataFrame:
    """`item_interactions` as of D in pandas (one row per item with recent events: small); fails when missing."""
    rows = item_interactions(_partition(spark, settings, catalog.ITEM_DAILY, day)).toPandas()
    if rows.empty:
        raise ValueError(
            f"no {catalog.ITEM_DAILY.name} partition for as_of_date {day}: run `shoprec features --date {day}` first"
        )
    return rows


def load_catalogue(spark: SparkSession, settings: Settings, day: date) -> np.ndarray:
    """Item ids of clean.items valid on D; fails when there are none."""
    items = engine.read(spark, catalog.CLEAN_ITEMS, settings).where(valid_on(F.lit(day)))
    ids = items.select("item_id").distinct().toPandas()["item_id"].to_numpy()
    if len(ids) == 0:
        raise ValueError(
            f"{catalog.CLEAN_ITEMS.name} has no items valid on {day}: run `shoprec clean --date {day}` first"
        )
    return np.sort(ids)


def load_inputs(spark: SparkSession, settings: Settings, day: date, k: int) -> EvalInputs:
    """Read and join what run_date D's evaluation needs, down to the evaluated users.

    Raises:
        ValueError: The recommendations of D, the events of D + 1, features.item_daily as of D or
            the catalogue of D are missing (names the table, the day and the command to run).
    """
    recommendations = _partition(spark, settings, catalog.RECO_USER_RECOMMENDATIONS, day)
    model_version = check_recommendations(recommendations, day)
    check_eval_events(spark, settings, day)
    item_daily = load_item_daily(spark, settings, day)
    catalogue = load_catalogue(spark, settings, day)
    eval_events = _partition(spark, settings, catalog.CLEAN_EVENTS, day + timedelta(days=1))
    cooccurrence = _partition(spark, settings, catalog.ITEM_COOCCURRENCE, day)
    with engine.scratch(spark, settings) as scratch:
        target = scratch.materialize(evaluated_targets(targets(eval_events), recommendations), "targets")
        users = scratch.materialize(target.select("user_id").distinct(), "users")
        published = (
            recommendations.where(F.col("rank") <= k)
            .join(users, "user_id", "left_semi")
            .select(*LIST_COLUMNS)
        )
        bought = scratch.materialize(
            bought_items(_events_between(spark, settings, day - timedelta(days=BOUGHT_DAYS - 1), day), users),
            "bought",
        )
        recent = recent_items(
            _events_between(spark, settings, day - timedelta(days=RECENT_DAYS - 1), day), users
        )
        return EvalInputs(
            run_date=day,
            eval_date=day + timedelta(days=1),
            targets=target.toPandas(),
            published=published.toPandas(),
            bought=bought.toPandas(),
            cooccurrence=cooccurrence_lists(recent, cooccurrence, bought, k).toPandas(),
            item_daily=item_daily,
            catalogue=catalogue,
            model_version=model_version,
        )


# --- the methods' lists (pandas) ----------------------------------------------------------------


def popularity_ranking(item_daily: pd.DataFrame) -> np.ndarray:
    """Item ids by purchases_7d, then views_7d (both descending), then item_id."""
    ordered = item_daily.sort_values([*POPULARITY_ORDER, "item_id"], ascending=[False, False, True])
    return ordered["item_id"].to_numpy()


def _ragged(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position): each index r of `lengths` repeated lengths[r] times, with positions 0, 1, ...."""
    owner = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    return owner, np.arange(int(lengths.sum())) - starts[owner]


def _bought_counts(bought: pd.DataFrame, users: np.ndarray) -> np.ndarray:
    """How many items each of `users` bought (0 for none), in the order of `users`."""
    return bought.groupby("user_id").size().reindex(users, fill_value=0).to_numpy()


def _without_bought(candidates: pd.DataFrame, bought: pd.DataFrame) -> pd.DataFrame:
    merged = candidates.merge(
        bought[["user_id", "item_id"]], on=["user_id", "item_id"], how="left", indicator=True
    )
    return merged[merged["_merge"] == "left_only"].drop(columns="_merge")


def _top(candidates: pd.DataFrame, order: list[str], ascending: list[bool], k: int) -> pd.DataFrame:
    """The first k distinct items per user in `order`, ranked 1..k."""
    ranked = candidates.sort_values(["user_id", *order], ascending=[True, *ascending], kind="stable")
    ranked = ranked.drop_duplicates(["user_id", "item_id"])
    ranked = ranked.assign(rank=ranked.groupby("user_id").cumcount() + 1)
    return ranked[ranked["rank"] <= k][LIST_COLUMNS].reset_index(drop=True)


def filled_lists(
    lists: pd.DataFrame, users: np.ndarray, ranking: np.ndarray, bought: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Every user's list topped up to K from `ranking`, skipping items listed already or bought.

    Args:
        lists: (user_id, rank, item_id) to keep first, in rank order (may be empty).
        users: Every user who gets a list.
        ranking: Item ids, best first (`popularity_ranking`).
        bought: (user_id, item_id) never to add.
        k: List length.

    Returns:
        (user_id, rank, item_id) with ranks 1..K (fewer only when the ranking runs out).
    """
    # A user's first k + (items they bought) of the ranking always hold enough items to add.
    lengths = np.minimum(k + _bought_counts(bought, users), len(ranking))
    owner, position = _ragged(lengths)
    fill = pd.DataFrame(
        {
            "user_id": users[owner],
            "rank": position + 1 + k,  # after every kept item
            "item_id": ranking[position],
        }
    )
    kept = lists[lists["user_id"].isin(users)][LIST_COLUMNS]
    return _top(pd.concat([kept, _without_bought(fill, bought)]), ["rank"], [True], k)


def popularity_lists(users: np.ndarray, ranking: np.ndarray, bought: pd.DataFrame, k: int) -> pd.DataFrame:
    """The popularity baseline: the ranking's first K items each user did not buy."""
    return filled_lists(pd.DataFrame(columns=LIST_COLUMNS, dtype="int64"), users, ranking, bought, k)


def planted_lists(
    preferences: pd.DataFrame,
    truth_items: pd.DataFrame,
    catalogue: np.ndarray,
    users: np.ndarray,
    bought: pd.DataFrame,
    eval_date: date,
    k: int,
) -> pd.DataFrame:
    """The planted ceiling: catalogue items ranked by the demo generator's own hidden truth.

    The generator draws a view's category from the user's preferences and the item within the
    category with probability popularity / (total popularity of the category's listed items), and
    each step of the funnel to a cart grows with the preference weight. So an item's score here is
    weight(user, category valid on E) x popularity / category total, from the truth files; items of
    other categories score 0, and a user whose categories hold fewer than K unbought items is
    topped up from the popularity ranking of D. Bought items are left out
    and only the catalogue of D is ranked, as for every method.

    This is what a model could at best aim for on demo data, not a strict upper bound: it ignores
    the funnel's non-linearity and the exploration share of views, and the targets are random
    draws, so a lucky model may beat it on a given day.

    Args:
        preferences: The truth's SCD-2 preferences (user_id, category_id, weight, valid_from, valid_to).
        truth_items: The truth's items (item_id, category_id, popularity, listed_date).
        catalogue: Item ids that may be recommended (clean.items valid on D).
        users: Evaluated user ids.
        bought: (user_id, item_id) to leave out.
        eval_date: E, the day the preferences must be valid on.
        k: List length.

    Returns:
        (user_id, rank, item_id) before the top-up, ranks 1..<=K.
    """
    valid = (preferences["valid_from"] <= eval_date) & (
        preferences["valid_to"].isna() | (preferences["valid_to"] > eval_date)
    )
    prefs = preferences.loc[valid & preferences["user_id"].isin(users), ["user_id", "category_id", "weight"]]
    listed = truth_items[truth_items["listed_date"].isna() | (truth_items["listed_date"] <= eval_date)]
    share = listed["popularity"] / listed.groupby("category_id")["popularity"].transform("sum")
    items = listed.assign(share=share)[lambda f: f["item_id"].isin(catalogue)]
    items = items.sort_values(["category_id", "share", "item_id"], ascending=[True, False, True])
    # Within a category the order is the same for everyone: a user's top K lie in the first
    # K + (items the user bought) of each of their categories.
    sizes = items.groupby("category_id").size()
    starts = sizes.cumsum() - sizes
    needed = k + pd.Series(_bought_counts(bought, users), index=users).reindex(prefs["user_id"]).to_numpy()
    owner, position = _ragged(
        np.minimum(needed, sizes.reindex(prefs["category_id"], fill_value=0).to_numpy())
    )
    row = starts.reindex(prefs["category_id"]).fillna(0).to_numpy(dtype="int64")[owner] + position
    candidates = pd.DataFrame(
        {
            "user_id": prefs["user_id"].to_numpy()[owner],
            "item_id": items["item_id"].to_numpy()[row],
            "score": prefs["weight"].to_numpy()[owner] * items["share"].to_numpy()[row],
        }
    )
    return _top(_without_bought(candidates, bought), ["score", "item_id"], [False, True], k)


def read_truth(truth_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The demo truth's (preferences, items) when both files exist under `truth_dir`, else None."""
    paths = truth_dir / PREFERENCES_FILE, truth_dir / TRUTH_ITEMS_FILE
    if not all(p.is_file() for p in paths):
        return None
    preferences, items = (pq.read_table(p).to_pandas() for p in paths)
    return preferences, items


def method_lists(
    inputs: EvalInputs, k: int, truth: tuple[pd.DataFrame, pd.DataFrame] | None = None
) -> dict[str, pd.DataFrame]:
    """Every method's (user_id, rank, item_id) lists for the evaluated users, in `METHODS` order.

    Args:
        inputs: From `load_inputs`.
        k: List length.
        truth: (preferences, items) from `read_truth`; planted_ceiling only when given.

    Returns:
        Method name -> lists.
    """
    users, bought = inputs.users, inputs.bought
    ranking = popularity_ranking(inputs.item_daily)
    lists = {
        "published": inputs.published[LIST_COLUMNS],
        "popularity": popularity_lists(users, ranking, bought, k),
        "cooccurrence": filled_lists(inputs.cooccurrence, users, ranking, bought, k),
    }
    if truth is not None:
        preferences, items = truth
        planted = planted_lists(preferences, items, inputs.catalogue, users, bought, inputs.eval_date, k)
        lists["planted_ceiling"] = filled_lists(planted, users, ranking, bought, k)
    return lists


# --- metrics (pandas) ---------------------------------------------------------------------------


def ranking_metrics(lists: pd.DataFrame, target: pd.DataFrame, k: int) -> dict[str, float | None]:
    """Mean recall, ndcg, map and hit rate at K over the users of `target` (see the module docstring).

    Args:
        lists: (user_id, rank, item_id); ranks give the order (gaps allowed), only the first K
            rows per user count and a repeated item counts once, at its first position.
        target: (user_id, item_id), the relevant items; its users are the ones averaged over.
        k: Cut-off.

    Returns:
        recall, ndcg, map, hit_rate (None each when `target` has no users).
    """
    relevant = target[["user_id", "item_id"]].drop_duplicates()
    users = pd.Index(np.sort(relevant["user_id"].unique()), name="user_id")
    if users.empty:
        return dict.fromkeys(("recall", "ndcg", "map", "hit_rate"))
    top = lists[lists["user_id"].isin(users)].sort_values(["user_id", "rank"], kind="stable")
    top = top.drop_duplicates(["user_id", "item_id"])
    top = top.assign(position=top.groupby("user_id").cumcount() + 1)
    top = top[top["position"] <= k]
    hits = top.merge(relevant.assign(rel=1.0), on=["user_id", "item_id"], how="left").fillna({"rel": 0.0})
    hits = hits.sort_values(["user_id", "position"])
    hits["precision"] = hits.groupby("user_id")["rel"].cumsum() / hits["position"]
    hits["gain"] = hits["rel"] / np.log2(hits["position"] + 1.0)
    hits["ap_term"] = hits["rel"] * hits["precision"]
    per_user = hits.groupby("user_id")[["rel", "gain", "ap_term"]].sum().reindex(users, fill_value=0.0)
    ideal = np.minimum(relevant.groupby("user_id").size().reindex(users).to_numpy(), k)
    ideal_dcg = np.concatenate([[0.0], np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))])[ideal]
    return {
        "recall": float(np.mean(per_user["rel"].to_numpy() / ideal)),
        "ndcg": float(np.mean(per_user["gain"].to_numpy() / ideal_dcg)),
        "map": float(np.mean(per_user["ap_term"].to_numpy() / ideal)),
        "hit_rate": float(np.mean(per_user["rel"].to_numpy() > 0)),
    }


def coverage(lists: pd.DataFrame, catalogue_size: int) -> float | None:
    """Distinct listed items / catalogue size (None for an empty catalogue)."""
    return lists["item_id"].nunique() / catalogue_size if catalogue_size else None


def novelty(lists: pd.DataFrame, item_daily: pd.DataFrame, catalogue_size: int) -> float | None:
    """Mean over listed rows of -log2((n + 1) / (N + M)); n from interactions_7d (see the module docstring)."""
    if lists.empty:
        return None
    counts = item_daily.set_index("item_id")["interactions_7d"]
    n = lists["item_id"].map(counts).fillna(0).to_numpy(dtype=float)
    total = float(item_daily["interactions_7d"].sum()) + catalogue_size
    return float(np.mean(-np.log2((n + 1.0) / total)))


def method_metrics(method: str, lists: pd.DataFrame, inputs: EvalInputs, k: int) -> MethodMetrics:
    """All metrics of one method's lists over the evaluated users."""
    users = inputs.users
    scored = lists[lists["user_id"].isin(users)]
    ranking = ranking_metrics(scored, inputs.targets, k)
    top = scored.sort_values(["user_id", "rank"]).groupby("user_id").head(k)
    size = len(inputs.catalogue)
    return MethodMetrics(
        method=method,
        users=len(users),
        **ranking,
        coverage=coverage(top, size) if len(users) else None,
        novelty=novelty(top, inputs.item_daily, size) if len(users) else None,
        model_version=inputs.model_version if method == "published" else None,
    )


# --- output -------------------------------------------------------------------------------------


def metrics_rows(stats: EvalStats, evaluated_at: datetime) -> list[tuple]:
    """ops.eval_metrics rows (declared column order) for the methods of `stats`."""
    values = [
        {
            "run_date": stats.run_date,
            "eval_date": stats.eval_date,
            "k": stats.k,
            "target": stats.target,
            "evaluated_at": evaluated_at,
            **{f.name: getattr(m, f.name) for f in fields(m)},
        }
        for m in stats.methods
    ]
    return [tuple(row[c] for c in catalog.OPS_EVAL_METRICS.column_names) for row in values]


def write_metrics(spark: SparkSession, settings: Settings, stats: EvalStats) -> None:
    """Replace ops.eval_metrics' rows of (run_date, k) with `stats` in one commit."""
    table = catalog.OPS_EVAL_METRICS
    rows = spark.createDataFrame(metrics_rows(stats, datetime.now(UTC)), engine.spark_schema(table))
    engine.replace_rows(rows, table, settings, {"run_date": stats.run_date, "k": stats.k})


def run(spark: SparkSession, settings: Settings, day: date, *, k: int = 20) -> EvalStats:
    """Evaluate run_date D's recommendations and the baselines on D + 1; replace their ops.eval_metrics rows.

    Args:
        spark: A session with the catalog tables registered.
        settings: Where the lake (and, for demo data, the truth files) live.
        day: D, the run_date evaluated.
        k: Cut-off of the top-K metrics and length of the baselines' lists.

    Returns:
        The metrics written, one entry per method (planted_ceiling only with demo truth files).

    Raises:
        ValueError: k < 1, or an input is missing (names the table, the day and the command to run).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    inputs = load_inputs(spark, settings, day, k)
    lists = method_lists(inputs, k, read_truth(settings.demo_truth))
    stats = EvalStats(
        run_date=day,
        eval_date=inputs.eval_date,
        k=k,
        target=TARGET,
        methods=tuple(method_metrics(name, frame, inputs, k) for name, frame in lists.items()),
    )
    write_metrics(spark, settings, stats)
    return stats


def metrics_history(spark: SparkSession, settings: Settings, k: int) -> pd.DataFrame:
    """Every run_date's ops.eval_metrics rows at cut-off k, by run_date and method."""
    table = catalog.OPS_EVAL_METRICS
    rows = engine.read(spark, table, settings).where(F.col("k") == k).toPandas()
    return rows.sort_values(["run_date", "method"]).reset_index(drop=True)


def report_path(settings: Settings) -> Path:
    """Where `metrics_plot` goes: SHOPREC_HOME/reports/eval_metrics.png."""
    return settings.home.resolve() / REPORT_FILE


PLOTTED: Mapping[str, str] = {"recall": "Recall", "ndcg": "NDCG"}


def metrics_plot(history: pd.DataFrame, path: Path, k: int) -> Path:
    """A PNG of recall and NDCG at k over run_date, one line per method; returns its path."""
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(figure)  # Agg: no display, no global pyplot state
    axes = figure.subplots(1, len(PLOTTED), sharex=True)
    days = pd.to_datetime(history["run_date"])
    for ax, (column, label) in zip(axes, PLOTTED.items(), strict=True):
        for method in [m for m in METHODS if m in set(history["method"])]:
            rows = history["method"] == method
            ax.plot(days[rows], history.loc[rows, column], marker="o", label=method)
        ax.set_title(f"{label}@{k} ({TARGET} on run_date + 1)")
        ax.set_xlabel("run_date")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        locator = dates.AutoDateLocator(maxticks=8) if days.nunique() > 1 else dates.DayLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    if days.nunique() == 1:  # one run_date: a day either side instead of matplotlib's default years
        axes[0].set_xlim(days.iloc[0] - pd.Timedelta(days=1), days.iloc[0] + pd.Timedelta(days=1))
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
