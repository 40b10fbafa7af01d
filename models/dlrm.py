"""The ranking model: TorchRec DLRM (or DLRM-DCN) over the feature spec, and its training loss.

`build_ranker` returns the scoring model alone (dense [B, F] + KJT -> logits [B, 1]); the loss lives
in `RankingLoss`, the wrapper that training pipelines call with a `Batch`.

Notation: B = batch rows, F = dense features, D = embedding dimension.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import nn
from torchrec import EmbeddingBagCollection, EmbeddingBagConfig
from torchrec.models.dlrm import DLRM, DLRM_DCN

from models.data import Batch
from models.features import FeatureSpec, SpecError

Arch = Literal["dlrm", "dlrm_dcn"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture knobs.

    Attributes:
        arch: ``dlrm`` (pairwise dot interactions) or ``dlrm_dcn`` (low-rank cross network).
        embedding_dim: D, shared by every table (DLRM's interaction needs one size).
        dense_layers: Bottom MLP sizes; the last must equal D.
        over_layers: Top MLP sizes; the last must be 1 (one logit).
        dcn_layers: Cross layers (``dlrm_dcn`` only).
        dcn_low_rank_dim: Rank of each cross layer (``dlrm_dcn`` only).
    """

    arch: Arch = "dlrm"
    embedding_dim: int = 64
    dense_layers: tuple[int, ...] = (128, 64)
    over_layers: tuple[int, ...] = (256, 128, 1)
    dcn_layers: int = 2
    dcn_low_rank_dim: int = 32

    def __post_init__(self) -> None:
        if self.arch not in ("dlrm", "dlrm_dcn"):
            raise SpecError(f"model arch {self.arch!r} is not one of dlrm, dlrm_dcn")
        if self.embedding_dim < 1:
            raise SpecError(f"embedding_dim must be positive, got {self.embedding_dim}")
        if not self.dense_layers or self.dense_layers[-1] != self.embedding_dim:
            raise SpecError(
                f"the last dense layer ({self.dense_layers[-1] if self.dense_layers else None}) "
                f"must equal embedding_dim ({self.embedding_dim})"
            )
        if not self.over_layers or self.over_layers[-1] != 1:
            raise SpecError(f"the over arch must end with one output, got layers {list(self.over_layers)}")

    def to_json(self) -> str:
        """Serialise for model files and the registry."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        """Parse what `to_json` wrote."""
        raw = json.loads(text)
        return cls(
            **{**raw, "dense_layers": tuple(raw["dense_layers"]), "over_layers": tuple(raw["over_layers"])}
        )

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        """Read a config saved as JSON."""
        return cls.from_json(path.read_text())


def embedding_tables(spec: FeatureSpec, dim: int) -> list[EmbeddingBagConfig]:
    """One EmbeddingBagConfig per table, listing the sparse features that look it up."""
    features: dict[str, list[str]] = {}
    for feature in spec.sparse:
        features.setdefault(feature.table, []).append(feature.name)
    return [
        EmbeddingBagConfig(
            name=table, embedding_dim=dim, num_embeddings=spec.table_rows[table], feature_names=names
        )
        for table, names in features.items()
    ]


def build_ranker(
    spec: FeatureSpec, config: ModelConfig, *, sparse_device: torch.device | None = None
) -> nn.Module:
    """Scoring model: dense [B, F] and a KJT with the spec's keys -> logits [B, 1].

    Args:
        spec: Feature spec (dense count and embedding tables).
        config: Architecture.
        sparse_device: Where embedding tables are allocated; ``meta`` defers it to the sharder.
    """
    ebc = EmbeddingBagCollection(tables=embedding_tables(spec, config.embedding_dim), device=sparse_device)
    common = {
        "embedding_bag_collection": ebc,
        "dense_in_features": len(spec.dense),
        "dense_arch_layer_sizes": list(config.dense_layers),
        "over_arch_layer_sizes": list(config.over_layers),
    }
    if config.arch == "dlrm_dcn":
        return DLRM_DCN(**common, dcn_num_layers=config.dcn_layers, dcn_low_rank_dim=config.dcn_low_rank_dim)
    return DLRM(**common)


class RankingLoss(nn.Module):
    """Training wrapper: weighted binary cross-entropy of the ranker's logits.

    `forward(batch)` returns ``(loss, (loss, logits [B], labels [B]))``, the shape TorchRec's
    train pipelines expect.
    """

    def __init__(self, ranker: nn.Module) -> None:
        super().__init__()
        self.model = ranker

    def forward(self, batch: Batch) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Weighted mean BCE over the batch."""
        logits = self.model(batch.dense_features, batch.sparse_features).squeeze(-1)
        losses = nn.functional.binary_cross_entropy_with_logits(logits, batch.labels, reduction="none")
        loss = (losses * batch.weights).sum() / batch.weights.sum()
        return loss, (loss.detach(), logits.detach(), batch.labels.detach())
