"""The planted-preference ceiling (demo data only): lists ranked by the demo generator's hidden truth.

One concern: the best lists a recommender could make on demo data. It reads the truth files
`shoprec demo-data` writes beside the lake (`shoprec_demo.truth`, never read by the pipeline) and
encodes how the generator draws behaviour (`shoprec_demo.simulate`, `shoprec_demo.draws`), so it
lives with the generator. `jobs.offline_eval` adds it as one more method only when the truth files
exist (`read_truth` returns None otherwise): the one import of the demo package by a job.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shoprec_demo.draws import attractiveness_at
from shoprec_demo.simulate import STOREWIDE_AFFINITY, STOREWIDE_EXPONENT, STOREWIDE_SHARE, funnel_prob
from shoprec_demo.text import EPOCH_ORDINAL
from shoprec_demo.truth import ITEMS_FILE, PREFERENCES_FILE

LIST_COLUMNS = ["user_id", "rank", "item_id"]
TREND_COLUMNS = {"trend_boost", "trend_peak", "trend_days"}


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


def _attractiveness(items: pd.DataFrame, eval_date: date) -> np.ndarray:
    """The items' attractiveness on E: `popularity` times the trend of the truth's trend columns."""
    boost = items["trend_boost"].fillna(0.0).to_numpy(dtype=float)
    peak = (pd.to_datetime(items["trend_peak"]) - pd.Timestamp("1970-01-01")).dt.days + EPOCH_ORDINAL
    return attractiveness_at(
        items["popularity"].to_numpy(dtype=float),
        boost,
        peak.fillna(0).to_numpy(dtype="int64"),
        items["trend_days"].fillna(1.0).to_numpy(dtype=float),
        eval_date.toordinal(),
    )


def _cart_probability(affinity: np.ndarray) -> np.ndarray:
    """P(cart | view) of the generator's funnel at the given affinities."""
    return funnel_prob("click_given_view", affinity) * funnel_prob("cart_given_click", affinity)


def _first_of_groups(
    starts: np.ndarray, sizes: np.ndarray, needed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(owner, row): for each request r, the rows starts[r] .. starts[r] + min(needed[r], sizes[r]) - 1."""
    owner, position = _ragged(np.minimum(needed, sizes))
    return owner, starts[owner] + position


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

    The generator draws most views from the user's preferences: a category by its weight, then an
    item with probability attractiveness / (total attractiveness of the category's listed items);
    the other views (`STOREWIDE_SHARE`) draw an item across the whole listed catalogue with
    probability attractiveness ** `STOREWIDE_EXPONENT` / (its total); each step of the funnel to a
    cart grows with the preference weight of the item's category (at least `STOREWIDE_AFFINITY` on
    storewide views). So an item's score is its expected carts per view of the user on E:

        (1 - g) * w * a / A_c * P_cart(w) + g * a ** b / B * P_cart(max(w, s))

    with w the user's weight of the item's category valid on E (0 for other categories) and a the
    item's attractiveness on E (`popularity` times its trend). Truth files without the trend
    columns (an older generator, which had no storewide views) are scored w x a / A_c: items of
    other categories score 0 there, and a user whose categories hold fewer than K unbought items is
    topped up by the caller (from the popularity baseline). Bought items are left out and only the
    catalogue of D is ranked, as for every method.

    This is what a model could at best aim for on demo data, not a strict upper bound: it ignores
    the restocking of consumables (the habits are not part of this truth), the sessions' pull
    towards the items just viewed and the purchase step, and the targets are random draws, so a
    lucky model may beat it on a given day.

    Args:
        preferences: The truth's SCD-2 preferences (user_id, category_id, weight, valid_from, valid_to).
        truth_items: The truth's items (item_id, category_id, popularity, listed_date and, from
            the current generator, trend_boost, trend_peak, trend_days).
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
    storewide = set(listed.columns) >= TREND_COLUMNS
    attractiveness = _attractiveness(listed, eval_date) if storewide else listed["popularity"].to_numpy(float)
    listed = listed.assign(a=attractiveness)
    listed = listed.assign(
        share=listed["a"] / listed.groupby("category_id")["a"].transform("sum"),
        store=listed["a"] ** STOREWIDE_EXPONENT / (listed["a"] ** STOREWIDE_EXPONENT).sum(),
    )
    items = listed[listed["item_id"].isin(catalogue)]
    items = items.sort_values(["category_id", "a", "item_id"], ascending=[True, False, True])
    # Both terms grow with a, so within a category the order is the same for everyone: a user's
    # top K lie in the first K + (items the user bought) of each of their categories, and, of the
    # other categories, in the first K + (items bought) of the whole catalogue by a.
    sizes = items.groupby("category_id").size()
    starts = sizes.cumsum() - sizes
    bought_counts = pd.Series(_bought_counts(bought, users), index=users)
    owner, row = _first_of_groups(
        starts.reindex(prefs["category_id"]).fillna(0).to_numpy(dtype="int64"),
        sizes.reindex(prefs["category_id"], fill_value=0).to_numpy(),
        k + bought_counts.reindex(prefs["user_id"]).to_numpy(),
    )
    candidates = pd.DataFrame({"user_id": prefs["user_id"].to_numpy()[owner], "row": row})
    if storewide:
        by_a = np.lexsort((items["item_id"].to_numpy(), -items["a"].to_numpy()))
        owner, rank = _first_of_groups(
            np.zeros(len(users), "int64"), np.full(len(users), len(items)), k + bought_counts.to_numpy()
        )
        global_rows = pd.DataFrame({"user_id": np.asarray(users)[owner], "row": by_a[rank]})
        candidates = pd.concat([candidates, global_rows])
    row = candidates["row"].to_numpy()
    candidates = candidates.assign(
        item_id=items["item_id"].to_numpy()[row], category_id=items["category_id"].to_numpy()[row]
    ).merge(prefs, on=["user_id", "category_id"], how="left")
    row = candidates["row"].to_numpy()
    w = candidates["weight"].fillna(0.0).to_numpy()
    share, store = items["share"].to_numpy()[row], items["store"].to_numpy()[row]
    if storewide:
        g, s = STOREWIDE_SHARE, STOREWIDE_AFFINITY
        score = (1 - g) * w * share * _cart_probability(w) + g * store * _cart_probability(np.maximum(w, s))
    else:
        score = w * share
    candidates = candidates.assign(score=score)[lambda f: f["score"] > 0]
    return _top(_without_bought(candidates, bought), ["score", "item_id"], [False, True], k)


def read_truth(truth_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The demo truth's (preferences, items) when both files exist under `truth_dir`, else None."""
    paths = truth_dir / PREFERENCES_FILE, truth_dir / ITEMS_FILE
    if not all(p.is_file() for p in paths):
        return None
    preferences, items = (pq.read_table(p).to_pandas() for p in paths)
    return preferences, items
