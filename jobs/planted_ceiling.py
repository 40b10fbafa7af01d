"""The planted-preference ceiling (demo data only): lists ranked by the demo generator's hidden truth.

It reads the truth files `shoprec demo-data` writes beside the lake (never read by the pipeline)
and encodes how the generator draws behaviour, so it lives apart from the evaluation proper and
only runs when those files exist.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

PREFERENCES_FILE = "preferences.parquet"
TRUTH_ITEMS_FILE = "items.parquet"
LIST_COLUMNS = ["user_id", "rank", "item_id"]


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
    topped up by the caller (from the popularity baseline). Bought items are left out
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
