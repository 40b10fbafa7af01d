"""Top-K ranking metrics over per-user lists, in pandas (the lists of evaluated users are small).

Notation: for a user u, R_u = the distinct relevant items (the targets), L_u = u's list of at most
K items, best first, rel_i = 1 when the item at position i of L_u is in R_u, else 0, and
n_u = min(|R_u|, K). Per user, with positions i = 1..|L_u|:

- precision@K = sum(rel_i) / K;
- recall@K = sum(rel_i) / n_u;
- ndcg@K = sum(rel_i / log2(i + 1)) / sum_{i=1..n_u} 1 / log2(i + 1) (binary relevance);
- map@K: average precision sum(rel_i * precision@i) / n_u, precision@i = sum_{j<=i} rel_j / i;
- hit_rate@K: 1 when sum(rel_i) > 0;

each a plain mean over the users of the targets (a user with a short or empty list counts with
what it has). Over all listed rows together:

- coverage = distinct listed items / catalogue size;
- novelty = mean over listed rows of -log2(share(item)), share = (n + 1) / (N + M) with n = the
  item's interactions in the 7 days up to the run date, N = their sum over all items, M = the
  catalogue size (add-one smoothing keeps never-seen items finite).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRIC_NAMES = ("precision", "recall", "ndcg", "map", "hit_rate")


def ranking_metrics(lists: pd.DataFrame, target: pd.DataFrame, k: int) -> dict[str, float | None]:
    """Mean precision, recall, ndcg, map and hit rate at K over the users of `target` (see the module docstring).

    Args:
        lists: (user_id, rank, item_id); ranks give the order (gaps allowed), only the first K
            rows per user count and a repeated item counts once, at its first position.
        target: (user_id, item_id), the relevant items; its users are the ones averaged over.
        k: Cut-off.

    Returns:
        METRIC_NAMES -> mean (None each when `target` has no users).
    """
    relevant = target[["user_id", "item_id"]].drop_duplicates()
    users = pd.Index(np.sort(relevant["user_id"].unique()), name="user_id")
    if users.empty:
        return dict.fromkeys(METRIC_NAMES)
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
        "precision": float(np.mean(per_user["rel"].to_numpy() / k)),
        "recall": float(np.mean(per_user["rel"].to_numpy() / ideal)),
        "ndcg": float(np.mean(per_user["gain"].to_numpy() / ideal_dcg)),
        "map": float(np.mean(per_user["ap_term"].to_numpy() / ideal)),
        "hit_rate": float(np.mean(per_user["rel"].to_numpy() > 0)),
    }


def coverage(lists: pd.DataFrame, catalogue_size: int) -> float | None:
    """Distinct listed items / catalogue size (None for an empty catalogue)."""
    return lists["item_id"].nunique() / catalogue_size if catalogue_size else None


def novelty(lists: pd.DataFrame, interactions: pd.Series, catalogue_size: int) -> float | None:
    """Mean over listed rows of -log2((n + 1) / (N + M)) (see the module docstring).

    Args:
        lists: Listed rows (item_id).
        interactions: Interactions in the 7 days up to the run date, indexed by item_id.
        catalogue_size: M.
    """
    if lists.empty:
        return None
    n = lists["item_id"].map(interactions).fillna(0).to_numpy(dtype=float)
    total = float(interactions.sum()) + catalogue_size
    return float(np.mean(-np.log2((n + 1.0) / total)))


def candidate_recall(candidates: pd.DataFrame, target: pd.DataFrame) -> float | None:
    """Mean over the users of `target` of the share of their targets present in `candidates` (no cut-off).

    Args:
        candidates: (user_id, item_id) proposed to each user.
        target: (user_id, item_id), the relevant items; its users are the ones averaged over.
    """
    relevant = target[["user_id", "item_id"]].drop_duplicates()
    if relevant.empty:
        return None
    found = relevant.merge(
        candidates[["user_id", "item_id"]].drop_duplicates(),
        on=["user_id", "item_id"],
        how="left",
        indicator=True,
    )
    share = (found["_merge"] == "both").groupby(found["user_id"]).mean()
    return float(share.mean())
