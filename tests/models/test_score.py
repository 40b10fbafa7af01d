"""Batch scoring: the per-user/per-item fast path equals scoring the joined rows; ensembles average."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import torch

from models.dlrm import build_ranker
from models.features import FeatureSpec, SpecError
from models.score import PairScorer, Ranker, score_files
from tests.models.conftest import SMALL_MODEL, SMALL_TABLES
from tests.models.synthetic import examples

USER_COLUMNS = [c for c in examples(date(2026, 2, 1), 1).column_names if c.startswith("u_")] + [
    "recent_items",
    "top_category_1",
    "top_category_2",
    "top_category_3",
]
ITEM_COLUMNS = [c for c in examples(date(2026, 2, 1), 1).column_names if c.startswith("i_")] + [
    "category_id",
    "brand_id",
]


def first_per(table: pa.Table, key: str, columns: list[str]) -> pa.Table:
    keys = table.column(key).to_numpy()
    _, first = np.unique(keys, return_index=True)
    return table.take(pa.array(first)).select([key, *columns])


def joined_rows(pairs: pa.Table, users: pa.Table, items: pa.Table) -> pa.Table:
    """Every user and item column taken from the one-row-per-entity tables onto the pairs."""
    joined = pairs
    for table, key, columns in ((users, "user_id", USER_COLUMNS), (items, "item_id", ITEM_COLUMNS)):
        index = pc.index_in(pairs.column(key), table.column(key))
        for column in columns:
            joined = joined.append_column(column, table.column(column).take(index))
    return joined


@pytest.mark.parametrize(("arch", "members"), [("dlrm", 1), ("dlrm_dcn", 1), ("dlrm", 3)])
def test_pair_scorer_equals_scoring_the_joined_rows(arch: str, members: int) -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    config = replace(SMALL_MODEL, arch=arch, dcn_low_rank_dim=4)
    ranker = Ranker(tuple(build_ranker(spec, config).eval() for _ in range(members)), spec, config)
    rows = examples(date(2026, 2, 1), 500, seed=5)
    users = first_per(rows, "user_id", USER_COLUMNS)
    items = first_per(rows, "item_id", ITEM_COLUMNS)
    pairs = rows.drop_columns(USER_COLUMNS + ITEM_COLUMNS)
    expected = ranker.predict(joined_rows(pairs, users, items))
    got = PairScorer(ranker, users, items).scores(pairs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_ids_far_apart_are_found_by_search_and_score_as_the_joined_rows() -> None:
    """Ids spanning far more than their count are looked up by binary search, not a lookup array."""
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    ranker = Ranker((build_ranker(spec, SMALL_MODEL).eval(),), spec, SMALL_MODEL)
    rows = examples(date(2026, 2, 1), 300, seed=6)
    for key in ("user_id", "item_id"):
        rows = rows.set_column(rows.column_names.index(key), key, pc.multiply(rows.column(key), 1_000_003))
    users = first_per(rows, "user_id", USER_COLUMNS)
    items = first_per(rows, "item_id", ITEM_COLUMNS)
    pairs = rows.drop_columns(USER_COLUMNS + ITEM_COLUMNS)
    expected = ranker.predict(joined_rows(pairs, users, items))
    np.testing.assert_allclose(PairScorer(ranker, users, items).scores(pairs), expected, rtol=1e-5, atol=1e-6)


def test_an_ensemble_scores_the_mean_of_its_members_probabilities_and_saves_whole(tmp_path: Path) -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    members = [Ranker((build_ranker(spec, SMALL_MODEL).eval(),), spec, SMALL_MODEL) for _ in range(3)]
    ensemble = Ranker.ensemble(members)
    rows = examples(date(2026, 2, 1), 300, seed=3)
    expected = np.mean([member.predict(rows) for member in members], axis=0)
    assert not np.allclose(members[0].predict(rows), members[1].predict(rows))  # members differ
    np.testing.assert_allclose(ensemble.predict(rows), expected, rtol=1e-6)
    ensemble.save(tmp_path / "model")
    loaded = Ranker.load(tmp_path / "model")
    assert len(loaded.models) == 3
    np.testing.assert_allclose(loaded.predict(rows), expected, rtol=1e-6)
    members[0].save(tmp_path / "one")  # one member keeps the plain state dict format
    assert len(Ranker.load(tmp_path / "one").models) == 1


def test_members_of_different_architectures_are_refused() -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    wider = replace(SMALL_MODEL, over_layers=(32, 1))
    members = [Ranker((build_ranker(spec, config).eval(),), spec, config) for config in (SMALL_MODEL, wider)]
    with pytest.raises(SpecError, match="share their feature spec and architecture"):
        Ranker.ensemble(members)


def test_pair_without_a_user_row_is_named() -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    ranker = Ranker((build_ranker(spec, SMALL_MODEL).eval(),), spec, SMALL_MODEL)
    rows = examples(date(2026, 2, 1), 50)
    users = first_per(rows, "user_id", USER_COLUMNS).slice(1)
    items = first_per(rows, "item_id", ITEM_COLUMNS)
    missing = first_per(rows, "user_id", USER_COLUMNS).column("user_id")[0].as_py()
    with pytest.raises(SpecError, match=f"pair user_id {missing} has no row in the users table"):
        PairScorer(ranker, users, items).scores(rows.drop_columns(USER_COLUMNS + ITEM_COLUMNS))


def test_score_files_writes_each_score_with_the_carried_pair_and_item_columns(tmp_path: Path) -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    ranker = Ranker((build_ranker(spec, SMALL_MODEL).eval(),), spec, SMALL_MODEL)
    rows = examples(date(2026, 2, 1), 300, seed=4)
    users = first_per(rows, "user_id", USER_COLUMNS)
    items = first_per(rows, "item_id", ITEM_COLUMNS)
    pairs = rows.drop_columns(USER_COLUMNS + ITEM_COLUMNS)
    reasons = pa.array([f"why {i}" for i in range(len(pairs))])
    for name, table in (
        ("users", users),
        ("items", items),
        ("pairs", pairs.append_column("reason", reasons)),
    ):
        (tmp_path / name).mkdir()
        pq.write_table(table, tmp_path / name / "part.parquet")
    folders = [tmp_path / name for name in ("users", "items", "pairs")]
    stats = score_files(ranker, *folders, tmp_path / "scores", carry=("reason", "category_id"), batch_rows=64)
    scored = pq.read_table(tmp_path / "scores")
    assert stats.pairs == len(pairs) and scored.column_names == [
        "user_id",
        "item_id",
        "score",
        "reason",
        "category_id",
    ]
    joined = joined_rows(pairs, users, items)
    np.testing.assert_allclose(scored["score"].to_numpy(), ranker.predict(joined), rtol=1e-5, atol=1e-6)
    assert scored["reason"].to_pylist() == reasons.to_pylist()
    assert scored["category_id"].to_pylist() == joined["category_id"].to_pylist()
    with pytest.raises(SpecError, match=r"cannot carry \['colour'\]: neither the pairs nor the items"):
        score_files(ranker, *folders, tmp_path / "again", carry=("colour",))
