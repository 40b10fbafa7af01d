"""The top-K metric maths against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jobs.ranking_metrics import METRIC_NAMES, candidate_recall, coverage, novelty, ranking_metrics


def discount(position: int) -> float:
    return 1.0 / math.log2(position + 1)


def idcg(n: int) -> float:
    return sum(discount(i) for i in range(1, n + 1))


def test_ranking_metrics_match_hand_computation() -> None:
    lists = pd.DataFrame(
        [(1, r, i) for r, i in enumerate([10, 11, 12, 13, 14], 1)]
        + [
            (2, 1, 20),
            (2, 2, 21),
            (3, 1, 10),
            (3, 3, 11),
        ],  # user 3: a gap in the ranks, still positions 1, 2
        columns=["user_id", "rank", "item_id"],
    )
    target = pd.DataFrame(
        [(1, 11), (1, 13), (1, 14), (2, 20), (3, 11), (4, 99)], columns=["user_id", "item_id"]
    )
    got = ranking_metrics(lists, target, k=4)
    # user 1: hits at 2 and 4 of 3 relevant (14 is 5th); user 2: hit at 1; user 3: hit at 2; user 4: no list
    recall = [2 / 3, 1.0, 1.0, 0.0]
    ndcg = [(discount(2) + discount(4)) / idcg(3), 1.0, discount(2), 0.0]
    average_precision = [(1 / 2 + 2 / 4) / 3, 1.0, 1 / 2, 0.0]
    assert got["recall"] == pytest.approx(np.mean(recall))
    assert got["ndcg"] == pytest.approx(np.mean(ndcg))
    assert got["map"] == pytest.approx(np.mean(average_precision))
    assert got["hit_rate"] == pytest.approx(3 / 4)
    assert got["precision"] == pytest.approx(np.mean([2 / 4, 1 / 4, 1 / 4, 0.0]))


def test_ranking_metrics_cap_relevant_at_k_and_count_a_repeated_item_once() -> None:
    lists = pd.DataFrame([(1, 1, 5), (1, 2, 5), (1, 3, 6)], columns=["user_id", "rank", "item_id"])
    target = pd.DataFrame([(1, i) for i in range(1, 10)] + [(1, 5), (1, 6)], columns=["user_id", "item_id"])
    got = ranking_metrics(lists, target, k=2)
    assert got == pytest.approx({"precision": 1.0, "recall": 1.0, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0})


def test_ranking_metrics_without_users_are_none() -> None:
    empty = pd.DataFrame(columns=["user_id", "item_id"], dtype="int64")
    lists = pd.DataFrame(columns=["user_id", "rank", "item_id"], dtype="int64")
    assert ranking_metrics(lists, empty, k=3) == dict.fromkeys(METRIC_NAMES)


def test_candidate_recall_is_the_share_of_targets_proposed_at_all() -> None:
    candidates = pd.DataFrame([(1, 10), (1, 11), (1, 12), (2, 20)], columns=["user_id", "item_id"])
    target = pd.DataFrame([(1, 11), (1, 13), (2, 21), (3, 30)], columns=["user_id", "item_id"])
    assert candidate_recall(candidates, target) == pytest.approx(np.mean([1 / 2, 0.0, 0.0]))
    assert candidate_recall(candidates, target.iloc[:0]) is None


def test_coverage_and_novelty() -> None:
    lists = pd.DataFrame([(1, 1, 10), (1, 2, 11), (2, 1, 10)], columns=["user_id", "rank", "item_id"])
    assert coverage(lists, 4) == pytest.approx(2 / 4)
    interactions = pd.Series({10: 3, 12: 1})
    total = 4 + 4
    expected = np.mean([-math.log2(4 / total), -math.log2(1 / total), -math.log2(4 / total)])
    assert novelty(lists, interactions, 4) == pytest.approx(expected)
    assert novelty(lists.iloc[:0], interactions, 4) is None
