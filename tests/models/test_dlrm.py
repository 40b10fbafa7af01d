"""The ranking model's parts: config checks, output shapes for both architectures, the weighted loss."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
import torch

from models.data import to_batch
from models.dlrm import RankingLoss, build_ranker, embedding_tables
from models.features import FeatureSpec, SpecError
from tests.models.conftest import SMALL_MODEL, SMALL_TABLES
from tests.models.synthetic import examples


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"arch": "transformer"}, "not one of dlrm, dlrm_dcn"),
        ({"dense_layers": (16, 4)}, r"last dense layer \(4\) must equal embedding_dim \(8\)"),
        ({"over_layers": (16, 2)}, "must end with one output"),
    ],
)
def test_model_config_explains_what_is_wrong(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        replace(SMALL_MODEL, **changes)


def test_item_and_recent_items_share_one_table() -> None:
    tables = {t.name: t.feature_names for t in embedding_tables(FeatureSpec(), 8)}
    assert tables["t_item"] == ["item_id", "recent_items"]
    assert tables["t_category"] == ["category_id", "top_categories"]


@pytest.mark.parametrize("arch", ["dlrm", "dlrm_dcn"])
def test_ranker_scores_one_logit_per_row(arch: str) -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    ranker = build_ranker(spec, replace(SMALL_MODEL, arch=arch, dcn_low_rank_dim=4))
    batch = to_batch(examples(date(2026, 2, 1), 16), spec)
    assert ranker(batch.dense_features, batch.sparse_features).shape == (16, 1)


def test_loss_weights_rows() -> None:
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    torch.manual_seed(0)
    loss_model = RankingLoss(build_ranker(spec, SMALL_MODEL))
    batch = to_batch(examples(date(2026, 2, 1), 16), spec)
    plain, _ = loss_model(batch)
    batch.weights[:8] = 3.0
    weighted, (_, logits, labels) = loss_model(batch)
    per_row = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    assert torch.isclose(weighted, (per_row * batch.weights).sum() / batch.weights.sum())
    assert torch.isclose(plain, per_row.mean())
