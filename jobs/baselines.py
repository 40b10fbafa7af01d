"""Strong baseline recommenders for offline evaluation, computed from the raw event history alone.

They share no code with the production retrieval and ranking path (jobs/candidates.py,
models/), so a bug there cannot flatter the comparison. Input: the clean events up to the run
date D, as pandas (user_id, item_id, event_type, event_date[, session_id]), event_date as
datetime64 (as `jobs.eval_inputs` reads it) or dates. Output: per user a
list (user_id, rank, item_id) of at most K items, best first.

- ``popularity``: the items with the most distinct users interacting in the 30 days up to D
  (ties: more weighted events, then the smaller item_id).
- ``recent_popularity``: the same over the 7 days up to D.
- ``item_knn``: SAR-style item-to-item collaborative filtering over each user's whole history up
  to D. A user's affinity to an item is sum(weight(event type) * 0.5 ** (age / 30 days)) with
  the event-type weights of `AFFINITY_WEIGHTS`; two items' similarity is the Jaccard index of the sets
  of users who interacted with them (users with both / users with either); each item keeps its
  `KNN_NEIGHBOURS` most similar items; a user's score for an item is sum over the user's items i
  of affinity(i) * similarity(i, item). Items the user interacted with are removed.
- ``cooccurrence``: items sharing sessions with the user's items of the last 7 days (sessions of
  the 30 days up to D; score = shared sessions / sqrt(sessions of each item), each anchor's
  COOCCURRENCE_PARTNERS best partners, best anchor wins).
- ``buy_again``: the user's own past purchases, most often bought first (ties: the more recent);
  computed only for shops where repeat purchases are normal.

Exclusions follow the shop's setting on repeat purchases, as the published lists do: unless repeat
purchases are allowed, no method lists an item the user bought in the `BOUGHT_DAYS` up to D.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import sparse

from shoprec.vocabulary import AFFINITY_WEIGHTS, BOUGHT_DAYS, RECENT_DAYS

POPULARITY_DAYS = 30
COOCCURRENCE_DAYS = 30
ANCHOR_DAYS = 7
AFFINITY_HALF_LIFE_DAYS = 30.0
KNN_NEIGHBOURS = 50
COOCCURRENCE_PARTNERS = 50  # each anchor's best partners (the K best per user lie among them for K <= 50)
CHUNK = (
    1024  # item rows per sparse product: memory follows the kept entries, not the full item x item product
)
LIST_COLUMNS = ["user_id", "rank", "item_id"]
# Users whose candidate scores (item-kNN, co-occurrence) are held at once: with every evaluated
# user's in one frame, evaluating the large demo shop peaked at 21.8 GiB.
USER_CHUNK = 10_000
ScoreFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (row, column, shared count) -> score
Part = TypeVar("Part")
Result = TypeVar("Result")
Picked = tuple[np.ndarray, np.ndarray, np.ndarray]  # (row, column, position in the row from 0)


def since(events: pd.DataFrame, day: date, days: int) -> pd.DataFrame:
    """Events of the `days` days up to `day` (included); event_date as dates or datetime64."""
    return events[pd.to_datetime(events["event_date"]) > pd.Timestamp(day - timedelta(days=days))]


def _weights(events: pd.DataFrame) -> np.ndarray:
    return events["event_type"].map(AFFINITY_WEIGHTS).fillna(1.0).to_numpy(dtype=float)


def top_lists(scores: pd.DataFrame, k: int, exclude: pd.DataFrame | None = None) -> pd.DataFrame:
    """The K best items per user from (user_id, item_id, score), ties by item_id; `exclude` pairs left out."""
    if exclude is not None and not exclude.empty:
        keys = exclude[["user_id", "item_id"]].drop_duplicates().assign(_drop=True)
        scores = scores.merge(keys, on=["user_id", "item_id"], how="left")
        scores = scores[scores["_drop"].isna()].drop(columns="_drop")
    ranked = scores.sort_values(["user_id", "score", "item_id"], ascending=[True, False, True], kind="stable")
    ranked = ranked.drop_duplicates(["user_id", "item_id"])
    ranked = ranked.assign(rank=ranked.groupby("user_id").cumcount() + 1)
    return ranked[ranked["rank"] <= k][LIST_COLUMNS].reset_index(drop=True)


def _on_every_cpu(compute: Callable[[Part], Result], parts: Iterable[Part]) -> list[Result]:
    """compute(part) for each part, in order, one part per CPU at a time.

    Threads suffice: the sparse products, sorts and searches that take the time release the GIL.
    Memory follows the parts in flight, one per CPU. `compute` must use NumPy and SciPy only.
    """
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(compute, parts))


def _per_user_chunk(users: np.ndarray, item_ids: pd.Index, top: Callable[[slice], Picked]) -> pd.DataFrame:
    """The lists `top` picks for consecutive slices of USER_CHUNK of `users` (ascending), one per CPU.

    Memory follows the chunks in flight, one per CPU. `top(rows)` gets the slice of `users` it lists
    for and returns (row into `users`, item code, position from 0), by row, best first; it must use
    NumPy and SciPy only (see `_on_every_cpu`).
    """
    chunks = [slice(start, start + USER_CHUNK) for start in range(0, len(users), USER_CHUNK)]
    picked = _on_every_cpu(top, chunks)
    if not picked:
        return _lists(users, item_ids, *(np.array([], dtype=np.int64),) * 3)
    row, col, position = (np.concatenate(parts) for parts in zip(*picked, strict=True))
    return _lists(users, item_ids, row, col, position)


def _user_rows(users: np.ndarray, frame: pd.DataFrame) -> np.ndarray:
    """Each row's user as an index into `users` (ascending, every user of `frame` among them)."""
    return np.searchsorted(users, frame["user_id"].to_numpy())


def filled(lists: pd.DataFrame, fallback: pd.DataFrame, k: int) -> pd.DataFrame:
    """`lists` topped up to K per user with `fallback`'s items (in its order) that are not listed yet."""
    ahead = lists.assign(score=-lists["rank"].astype(float))
    behind = fallback.assign(score=-(k + fallback["rank"]).astype(float))
    return top_lists(pd.concat([ahead, behind])[["user_id", "item_id", "score"]], k)


def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct integer `keys`, sorted: a sort, where NumPy 2's hashed `np.unique` took 8x as long on 30M keys."""
    keys = np.sort(keys)
    return keys[np.r_[True, np.diff(keys) != 0]] if len(keys) else keys


def popularity_ranking(events: pd.DataFrame, day: date, days: int) -> np.ndarray:
    """Item ids by distinct users in the `days` days up to D, then weighted events, then item_id."""
    window = since(events, day, days)
    item_codes, item_ids = pd.factorize(window["item_id"])
    user_codes = pd.factorize(window["user_id"])[0].astype(np.int64)
    users = int(user_codes.max()) + 1 if len(user_codes) else 1
    # distinct users per item from integer (item, user) keys, where a grouped nunique hashes every row
    distinct = _distinct(item_codes.astype(np.int64) * users + user_codes) // users
    stats = pd.DataFrame(
        {
            "item_id": item_ids,
            "users": np.bincount(distinct, minlength=len(item_ids)),
            # the weights are whole numbers, so their sum is exact in any order
            "weight": np.bincount(item_codes, weights=_weights(window), minlength=len(item_ids)),
        }
    )
    ordered = stats.sort_values(["users", "weight", "item_id"], ascending=[False, False, True])
    return ordered["item_id"].to_numpy()


def ranking_lists(
    ranking: np.ndarray, users: np.ndarray, k: int, exclude: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every user's first K items of one global `ranking`, without their excluded items."""
    per_user = exclude.groupby("user_id").size() if exclude is not None and not exclude.empty else None
    extra = int(per_user.max()) if per_user is not None else 0
    head = ranking[: k + extra]
    grid = pd.DataFrame(
        {
            "user_id": np.repeat(users, len(head)),
            "item_id": np.tile(head, len(users)),
            "score": np.tile(-np.arange(len(head), dtype=float), len(users)),
        }
    )
    return top_lists(grid, k, exclude)


def affinities(events: pd.DataFrame, day: date) -> pd.DataFrame:
    """(user_id, item_id, affinity): sum of event weights decayed with a 30-day half-life, up to D."""
    age = (pd.Timestamp(day) - pd.to_datetime(events["event_date"])).dt.days.to_numpy(dtype=float)
    decayed = _weights(events) * np.power(0.5, age / AFFINITY_HALF_LIFE_DAYS)
    frame = events[["user_id", "item_id"]].assign(affinity=decayed)
    return frame.groupby(["user_id", "item_id"], as_index=False)["affinity"].sum()


def _position_in_row(row: np.ndarray) -> np.ndarray:
    """Each entry's position within its run of equal `row` values (rows grouped together)."""
    first = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    return np.arange(len(row)) - np.repeat(first, np.diff(np.r_[first, len(row)]))


def _near_top(local: np.ndarray, value: np.ndarray, rows: int, keep: int) -> np.ndarray:
    """A mask of the entries that may be among their row's `keep` best (every one of them, and a few more).

    One float sort on the composite key row + (1 - value / max|value|) / 4 finds each row's keep-th
    best value; entries within 1e-9 * max|value| of it are kept too, far more than the key's rounding
    error (under 1e-11 * max|value| for up to 10,000 rows), so no exact sort runs over the whole product.
    """
    scale = float(np.abs(value).max()) if len(value) else 0.0
    order = np.argsort(local + 0.25 * (1.0 - value.astype(np.float64) / (scale or 1.0)))
    at = order[_position_in_row(local[order]) == keep - 1]
    cut = np.full(rows, -np.inf)
    cut[local[at]] = value[at]
    return value >= cut[local] - 1e-9 * scale


def _top_k(
    row: np.ndarray, col: np.ndarray, value: np.ndarray, rows: int, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each row's `keep` best entries by value (ties: smaller col), rows 0..rows-1, no (row, col) twice.

    Returns:
        (row, col, value, position in the row from 0) of the kept entries, by row, then best first.
    """
    near = _near_top(row, value, rows, keep)
    row, col, value = row[near], col[near], value[near]
    order = np.lexsort((col, -value, row))
    row, col, value = row[order], col[order], value[order]
    position = _position_in_row(row)
    best = position < keep
    return row[best], col[best], value[best], position[best]


def _allowed(row: np.ndarray, col: np.ndarray, blocked: sparse.csr_matrix) -> np.ndarray:
    """A mask of the (row, col) entries that are not stored in `blocked` (same shape)."""
    width = blocked.shape[1]
    stop = blocked.tocoo()
    stop_keys = np.sort(stop.row.astype(np.int64) * width + stop.col)
    keys = row.astype(np.int64) * width + col
    if len(stop_keys) == 0:
        return np.ones(len(keys), dtype=bool)
    return stop_keys[np.searchsorted(stop_keys, keys).clip(max=len(stop_keys) - 1)] != keys


def _pairs(frame: pd.DataFrame, user_ids: pd.Index, item_ids: pd.Index) -> sparse.csr_matrix:
    """The (user_id, item_id) pairs of `frame` as a users x items pattern; unknown users or items left out."""
    row = user_ids.get_indexer(frame["user_id"])
    col = item_ids.get_indexer(frame["item_id"])
    known = (row >= 0) & (col >= 0)
    return sparse.csr_matrix(
        (np.ones(int(known.sum()), dtype=np.float32), (row[known], col[known])),
        shape=(len(user_ids), len(item_ids)),
    )


def _lists(
    user_ids: pd.Index, item_ids: pd.Index, row: np.ndarray, col: np.ndarray, position: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {"user_id": np.asarray(user_ids)[row], "rank": position + 1, "item_id": np.asarray(item_ids)[col]}
    )


def _top_per_row(
    left: sparse.csr_matrix, right: sparse.csr_matrix, rows: np.ndarray, score: ScoreFn, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `rows`, its `keep` best columns of (left[rows] @ right) by `score`, the diagonal left out.

    Computed CHUNK rows at a time (one chunk per CPU), so memory follows the kept entries, not the
    full product (head items co-occur with almost everything). Only the entries near each row's cut
    are sorted exactly.

    Returns:
        (row, column, score) arrays, best first within a row (ties: smaller column).
    """

    def top(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        product = left[chunk] @ right
        local = np.repeat(np.arange(len(chunk)), np.diff(product.indptr))
        row, col = chunk[local], product.indices
        off = row != col
        local, row, col = local[off], row[off], col[off]
        local, col, value, _ = _top_k(local, col, score(row, col, product.data[off]), len(chunk), keep)
        return chunk[local], col, value

    found = _on_every_cpu(top, (rows[start : start + CHUNK] for start in range(0, len(rows), CHUNK)))
    if not found:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=np.float64)
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))  # type: ignore[return-value]


def jaccard_neighbours(pairs: pd.DataFrame, neighbours: int = KNN_NEIGHBOURS) -> sparse.csr_matrix:
    """Item-item Jaccard similarity of (user_id, item_idx) interaction pairs, each row trimmed to its top items.

    Returns:
        A square CSR matrix over item indexes 0..max(item_idx) without its diagonal.
    """
    users = pd.factorize(pairs["user_id"])[0]
    items = pairs["item_idx"].to_numpy()
    if len(items) == 0:
        return sparse.csr_matrix((0, 0))
    size = int(items.max()) + 1
    binary = sparse.csr_matrix(
        (np.ones(len(items), dtype=np.float32), (users, items)), shape=(users.max() + 1, size)
    )
    per_item = np.asarray(binary.sum(axis=0)).ravel()

    def jaccard(row: np.ndarray, col: np.ndarray, both: np.ndarray) -> np.ndarray:
        return both / (per_item[row] + per_item[col] - both)

    row, col, value = _top_per_row(binary.T.tocsr(), binary, np.arange(size), jaccard, neighbours)
    return sparse.csr_matrix((value, (row, col)), shape=(size, size))


def item_knn_lists(
    events: pd.DataFrame, day: date, users: np.ndarray, k: int, exclude: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The SAR-style item-kNN baseline for `users` (see the module docstring); seen items removed."""
    affinity = affinities(events, day)
    codes, item_ids = pd.factorize(affinity["item_id"], sort=True)
    affinity = affinity.assign(item_idx=codes)
    similarity = jaccard_neighbours(affinity[["user_id", "item_idx"]])
    users = np.unique(users)
    evaluated = affinity[affinity["user_id"].isin(users)]
    profile = sparse.csr_matrix(
        (evaluated["affinity"].to_numpy(), (_user_rows(users, evaluated), evaluated["item_idx"].to_numpy())),
        shape=(len(users), len(item_ids)),
    )
    blocked = profile if exclude is None else profile + _pairs(exclude, pd.Index(users), item_ids)

    def top(rows: slice) -> Picked:
        scores = profile[rows] @ similarity
        row = np.repeat(np.arange(scores.shape[0]), np.diff(scores.indptr))
        fresh = _allowed(row, scores.indices, blocked[rows])
        row, col, _, position = _top_k(
            row[fresh], scores.indices[fresh], scores.data[fresh], scores.shape[0], k
        )
        return row + rows.start, col, position

    return _per_user_chunk(users, item_ids, top)


def cooccurrence_lists(
    events: pd.DataFrame, day: date, users: np.ndarray, k: int, exclude: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Session co-occurrence partners of each user's last-7-day items (see the module docstring)."""
    window = since(events, day, COOCCURRENCE_DAYS)[["session_id", "item_id"]].dropna()
    item_codes, item_ids = pd.factorize(window["item_id"], sort=True)
    if len(item_ids) == 0:
        return pd.DataFrame(columns=LIST_COLUMNS, dtype="int64")
    # each (session, item) once: one hash of the session ids, then integer keys
    in_session = _distinct(
        pd.factorize(window["session_id"])[0].astype(np.int64) * len(item_ids) + item_codes
    )
    session_codes, item_codes = np.divmod(in_session, len(item_ids))
    binary = sparse.csr_matrix(
        (np.ones(len(in_session), dtype=np.float32), (session_codes, item_codes)),
        shape=(session_codes.max() + 1, len(item_ids)),
    )
    per_item = np.asarray(binary.sum(axis=0)).ravel()
    anchors = since(events, day, ANCHOR_DAYS)
    anchors = anchors[anchors["user_id"].isin(users)][["user_id", "item_id"]].drop_duplicates()
    anchors = anchors.assign(item_idx=item_ids.get_indexer(anchors["item_id"]))
    anchors = anchors[anchors["item_idx"] >= 0]

    def cosine(row: np.ndarray, col: np.ndarray, both: np.ndarray) -> np.ndarray:
        return both / np.sqrt(per_item[row] * per_item[col])

    wanted = np.unique(anchors["item_idx"].to_numpy())
    anchor, partner, score = _top_per_row(binary.T.tocsr(), binary, wanted, cosine, COOCCURRENCE_PARTNERS)
    # anchor a's partners are entries first[a]..first[a + 1] - 1 (the partners come by anchor)
    first = np.searchsorted(anchor, np.arange(len(item_ids) + 1))
    users = np.unique(users)
    anchor_row = _user_rows(users, anchors)
    by_user = np.argsort(anchor_row, kind="stable")
    anchor_row, anchor_item = anchor_row[by_user], anchors["item_idx"].to_numpy()[by_user]
    blocked = None if exclude is None else _pairs(exclude, pd.Index(users), item_ids)

    def top(rows: slice) -> Picked:
        mine = slice(*np.searchsorted(anchor_row, [rows.start, rows.stop]))
        starts = first[anchor_item[mine]]
        counts = first[anchor_item[mine] + 1] - starts
        row = np.repeat(anchor_row[mine] - rows.start, counts)
        at = np.repeat(starts, counts) + _position_in_row(np.repeat(np.arange(len(starts)), counts))
        # an item reached from several anchors keeps its best score
        keys = row.astype(np.int64) * len(item_ids) + partner[at]
        order = np.argsort(keys)
        keys, value = keys[order], score[at][order]
        group = np.r_[0, np.flatnonzero(np.diff(keys)) + 1] if len(keys) else np.array([], dtype=np.int64)
        row, col = np.divmod(keys[group], len(item_ids))
        value = np.maximum.reduceat(value, group) if len(group) else value
        if blocked is not None:
            fresh = _allowed(row, col, blocked[rows])
            row, col, value = row[fresh], col[fresh], value[fresh]
        row, col, _, position = _top_k(row, col, value, min(rows.stop, len(users)) - rows.start, k)
        return row + rows.start, col, position

    return _per_user_chunk(users, item_ids, top)


def buy_again_lists(events: pd.DataFrame, users: np.ndarray, k: int) -> pd.DataFrame:
    """Each user's past purchases, most often bought first, then the most recently bought."""
    bought = events[(events["event_type"] == "purchase") & events["user_id"].isin(users)]
    stats = bought.groupby(["user_id", "item_id"], as_index=False).agg(
        times=("event_type", "size"), last=("event_date", "max")
    )
    recency = (pd.to_datetime(stats["last"]) - pd.Timestamp("1970-01-01")).dt.days
    return top_lists(stats.assign(score=stats["times"] * 1e6 + recency)[["user_id", "item_id", "score"]], k)


def bought_recently(events: pd.DataFrame, day: date, users: np.ndarray) -> pd.DataFrame:
    """(user_id, item_id) the users bought in the BOUGHT_DAYS up to D."""
    window = since(events, day, BOUGHT_DAYS)
    bought = window[(window["event_type"] == "purchase") & window["user_id"].isin(users)]
    return bought[["user_id", "item_id"]].drop_duplicates().reset_index(drop=True)


def baseline_lists(
    events: pd.DataFrame, day: date, users: np.ndarray, k: int, *, repeat_purchases: bool
) -> dict[str, pd.DataFrame]:
    """Every baseline's lists for `users` from the events up to D (see the module docstring).

    Args:
        events: clean.events rows dated D or earlier: user_id, item_id, event_type, event_date, session_id.
        day: D, the run date.
        users: The users to list for.
        k: List length.
        repeat_purchases: Whether the shop recommends items a user bought before (then buy_again
            is computed and nothing is excluded), or not (items bought in the BOUGHT_DAYS up to D
            are left out of every list).

    Returns:
        Method name -> (user_id, rank, item_id).
    """
    exclude = None if repeat_purchases else bought_recently(events, day, users)
    lists = {
        "popularity": ranking_lists(popularity_ranking(events, day, POPULARITY_DAYS), users, k, exclude),
        "recent_popularity": ranking_lists(popularity_ranking(events, day, RECENT_DAYS), users, k, exclude),
        "item_knn": item_knn_lists(events, day, users, k, exclude),
        "cooccurrence": cooccurrence_lists(events, day, users, k, exclude),
    }
    if repeat_purchases:
        lists["buy_again"] = buy_again_lists(events, users, k)
    return lists
