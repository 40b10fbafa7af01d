"""The evaluation baselines on hand-made logs with answers worked out by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from jobs import baselines

D = date(2026, 3, 31)


def log(rows: list[tuple[int, int, str, int, str]]) -> pd.DataFrame:
    """(user, item, event_type, days before D, session) rows as clean events."""
    return pd.DataFrame(
        [
            {
                "user_id": u,
                "item_id": i,
                "event_type": t,
                "event_date": D - timedelta(days=age),
                "session_id": s,
            }
            for u, i, t, age, s in rows
        ]
    )


def listed(lists: pd.DataFrame, user: int) -> list[int]:
    return lists[lists["user_id"] == user].sort_values("rank")["item_id"].tolist()


def test_popularity_counts_distinct_users_in_the_window() -> None:
    events = log(
        [
            (1, 10, "view", 0, "a"),
            (1, 10, "view", 0, "a"),  # the same user twice counts once
            (2, 11, "view", 1, "b"),
            (3, 11, "view", 2, "c"),
            (4, 12, "purchase", 20, "d"),  # outside 7 days, inside 30
            (5, 12, "view", 20, "e"),
            (6, 12, "view", 20, "f"),
            (7, 13, "view", 40, "g"),  # outside both windows
        ]
    )
    assert baselines.popularity_ranking(events, D, 30).tolist() == [12, 11, 10]
    assert baselines.popularity_ranking(events, D, 7).tolist() == [11, 10]


def test_item_knn_scores_jaccard_neighbours_of_the_history() -> None:
    # users 1..3 build the similarities; user 4 has item 10 only
    # sim(10, 11) = |{1, 2}| / |{1, 2} u {1, 2, 3}| = 2/3; sim(10, 12) = |{2}| / |{2, 3, 1}|... = 1/3
    events = log(
        [
            (1, 10, "view", 1, "s"),
            (1, 11, "view", 1, "s"),
            (2, 10, "view", 1, "s"),
            (2, 11, "view", 1, "s"),
            (2, 12, "view", 1, "s"),
            (3, 11, "view", 1, "s"),
            (3, 12, "view", 1, "s"),
            (4, 10, "view", 0, "t"),
        ]
    )
    lists = baselines.item_knn_lists(events, D, np.array([4, 2]), k=5)
    assert listed(lists, 4) == [11, 12]
    assert listed(lists, 2) == []  # everything similar is already seen


def test_item_knn_similarity_values() -> None:
    pairs = pd.DataFrame({"user_id": [1, 1, 2, 2, 2, 3, 3], "item_idx": [0, 1, 0, 1, 2, 1, 2]})
    similarity = baselines.jaccard_neighbours(pairs).toarray()
    assert similarity[0, 1] == pytest.approx(2 / 3)
    assert similarity[0, 2] == pytest.approx(1 / 3)
    assert similarity[1, 2] == pytest.approx(2 / 3)
    assert np.diag(similarity).tolist() == [0, 0, 0]


def test_cooccurrence_uses_shared_sessions_of_recent_items() -> None:
    events = log(
        [
            (1, 10, "view", 3, "s1"),
            (1, 11, "view", 3, "s1"),
            (2, 10, "view", 5, "s2"),
            (2, 12, "view", 5, "s2"),
            (3, 10, "view", 6, "s3"),
            (3, 11, "view", 6, "s3"),
            (9, 10, "view", 0, "s9"),  # the evaluated user's recent item
        ]
    )
    lists = baselines.cooccurrence_lists(events, D, np.array([9]), k=5)
    assert listed(lists, 9) == [11, 12]  # 11 shares 2 sessions with 10, 12 one


def test_buy_again_ranks_by_times_then_recency() -> None:
    events = log(
        [
            (1, 10, "purchase", 9, "a"),
            (1, 11, "purchase", 8, "b"),
            (1, 11, "purchase", 7, "c"),
            (1, 12, "purchase", 1, "d"),
            (1, 13, "view", 0, "e"),  # viewed, never bought
        ]
    )
    assert listed(baselines.buy_again_lists(events, np.array([1]), 5), 1) == [11, 12, 10]


def test_bought_items_are_excluded_unless_repeats_are_normal() -> None:
    events = log([(1, 10, "purchase", 2, "a"), (2, 10, "view", 1, "b"), (2, 11, "view", 1, "b")])
    strict = baselines.baseline_lists(events, D, np.array([1]), 5, repeat_purchases=False)
    assert 10 not in listed(strict["popularity"], 1)
    assert "buy_again" not in strict
    lenient = baselines.baseline_lists(events, D, np.array([1]), 5, repeat_purchases=True)
    assert listed(lenient["popularity"], 1)[0] == 10
    assert listed(lenient["buy_again"], 1) == [10]


def random_log(seed: int, rows: int = 3000) -> pd.DataFrame:
    """Users 1..59 with items 100..159 over 20 days: small counts, so many scores tie."""
    rng = np.random.default_rng(seed)
    kinds = ["view", "click", "cart", "purchase"]
    return log(
        [
            (int(u), int(i), kinds[int(t)], int(age), f"s{u}-{age}")
            for u, i, t, age in zip(
                rng.integers(1, 60, rows),
                rng.integers(100, 160, rows),
                rng.integers(0, 4, rows),
                rng.integers(0, 20, rows),
                strict=True,
            )
        ]
    )


def dense_top(scores: np.ndarray, keep: int) -> set[tuple[int, int]]:
    """(row, col) of each row's `keep` best positive entries (ties: smaller col), by a plain sort."""
    kept = set()
    for row, values in enumerate(scores):
        cols = [c for c in np.lexsort((np.arange(len(values)), -values)) if values[c] > 0]
        kept |= {(row, int(c)) for c in cols[:keep]}
    return kept


@pytest.mark.parametrize("chunk", [baselines.CHUNK, 7])  # 7: many item chunks, computed concurrently
def test_jaccard_neighbours_keep_the_best_of_each_row_with_ties_to_the_smaller_item(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baselines, "CHUNK", chunk)
    pairs = random_log(5, 600)[["user_id", "item_id"]].drop_duplicates()
    pairs = pairs.assign(item_idx=pairs["item_id"] - 100)
    binary = pd.crosstab(pairs["user_id"], pairs["item_idx"]).clip(upper=1).to_numpy(dtype=float)
    both = binary.T @ binary
    per_item = binary.sum(axis=0)
    jaccard = both / (per_item[:, None] + per_item[None, :] - both)
    np.fill_diagonal(jaccard, 0.0)
    found = baselines.jaccard_neighbours(pairs, neighbours=5).tocoo()
    assert set(zip(found.row.tolist(), found.col.tolist(), strict=True)) == dense_top(jaccard, 5)
    np.testing.assert_allclose(found.data, jaccard[found.row, found.col], rtol=1e-6)


def test_lists_equal_a_plain_sort_of_every_score() -> None:
    events = random_log(7)
    users = np.arange(1, 60)
    bought = events[events["event_type"] == "purchase"][["user_id", "item_id"]]
    affinity = baselines.affinities(events, D)
    affinity = affinity.assign(item_idx=affinity["item_id"] - 100)
    similarity = baselines.jaccard_neighbours(affinity[["user_id", "item_idx"]]).toarray()
    profile = affinity.pivot_table(index="user_id", columns="item_idx", values="affinity", fill_value=0.0)
    scores = profile.to_numpy() @ similarity
    frame = pd.DataFrame(
        {
            "user_id": np.repeat(profile.index.to_numpy(), scores.shape[1]),
            "item_id": np.tile(np.arange(scores.shape[1]) + 100, len(profile)),
            "score": scores.ravel(),
        }
    )
    seen = affinity[["user_id", "item_id"]]
    expected = baselines.top_lists(frame[frame["score"] > 0], 10, pd.concat([seen, bought]))
    pd.testing.assert_frame_equal(baselines.item_knn_lists(events, D, users, 10, bought), expected)


def test_cooccurrence_lists_equal_a_plain_sort_of_every_partner() -> None:
    events = random_log(11)
    users = np.arange(1, 60)
    bought = events[events["event_type"] == "purchase"][["user_id", "item_id"]]
    sessions = events[["session_id", "item_id"]].drop_duplicates()  # all 20 days lie in the 30-day window
    binary = pd.crosstab(sessions["session_id"], sessions["item_id"]).clip(upper=1).astype(np.float32)
    items = binary.columns.to_numpy()
    both = binary.to_numpy().T @ binary.to_numpy()
    per_item = binary.to_numpy().sum(axis=0)
    cosine = both / np.sqrt(per_item[:, None] * per_item[None, :])
    np.fill_diagonal(cosine, 0.0)
    partners = pd.DataFrame(
        [
            {"anchor": items[a], "item_id": items[p], "score": cosine[a, p]}
            for a, p in sorted(dense_top(cosine, baselines.COOCCURRENCE_PARTNERS))
        ]
    )
    anchors = baselines.since(events, D, baselines.ANCHOR_DAYS)[["user_id", "item_id"]].drop_duplicates()
    reached = anchors.rename(columns={"item_id": "anchor"}).merge(partners, on="anchor")
    best = reached.groupby(["user_id", "item_id"], as_index=False)["score"].max()
    expected = baselines.top_lists(best, 10, bought)
    pd.testing.assert_frame_equal(baselines.cooccurrence_lists(events, D, users, 10, bought), expected)


@pytest.mark.parametrize("method", [baselines.item_knn_lists, baselines.cooccurrence_lists])
def test_lists_built_per_chunk_of_users_and_items_equal_one_pass(
    method: Callable[..., pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    events = random_log(3)
    users = np.arange(1, 60)
    bought = events[events["event_type"] == "purchase"][["user_id", "item_id"]]
    whole = method(events, D, users, 10, bought)
    monkeypatch.setattr(baselines, "USER_CHUNK", 7)
    monkeypatch.setattr(baselines, "CHUNK", 7)
    chunked = method(events, D, users, 10, bought)
    assert len(whole) > 400
    pd.testing.assert_frame_equal(chunked, whole)


@pytest.mark.parametrize("repeat_purchases", [False, True])
def test_lists_are_the_same_with_event_dates_as_datetime64(repeat_purchases: bool) -> None:
    """The evaluation reads event_date as datetime64 (jobs.eval_inputs); dates give the same lists."""
    events = random_log(5)
    as_datetime = events.assign(event_date=pd.to_datetime(events["event_date"]))
    users = np.arange(1, 60)
    dated = baselines.baseline_lists(events, D, users, 10, repeat_purchases=repeat_purchases)
    stamped = baselines.baseline_lists(as_datetime, D, users, 10, repeat_purchases=repeat_purchases)
    assert dated.keys() == stamped.keys()
    for method, lists in dated.items():
        assert len(lists) > 0, method
        pd.testing.assert_frame_equal(stamped[method], lists)
