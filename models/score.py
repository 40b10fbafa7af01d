"""Loading an exported ranker and scoring example-shaped rows with it in one process.

An exported model is a directory: ``model.pt`` (the ranker's weights), ``spec.json`` (feature spec
with the normalisation statistics) and ``model_config.json`` (architecture). Scoring converts rows
with exactly the spec the model was trained with, so train and serve cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from torch import nn

from models.data import Batch, to_batch
from models.dlrm import ModelConfig, build_ranker
from models.features import FeatureSpec, SpecError

WEIGHTS = "model.pt"
SPEC = "spec.json"
CONFIG = "model_config.json"


@dataclass
class Ranker:
    """A trained scoring model with the spec it expects."""

    model: nn.Module
    spec: FeatureSpec
    config: ModelConfig

    @classmethod
    def load(cls, directory: Path) -> Ranker:
        """Load an exported model directory; missing files or mismatched weights fail with the reason."""
        for name in (WEIGHTS, SPEC, CONFIG):
            if not (directory / name).is_file():
                raise SpecError(f"exported model {directory} lacks {name}")
        spec = FeatureSpec.load(directory / SPEC)
        config = ModelConfig.load(directory / CONFIG)
        model = build_ranker(spec, config, sparse_device=torch.device("cpu"))
        state = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[:2]
            raise SpecError(
                f"weights in {directory / WEIGHTS} do not fit its spec/config: {' '.join(first)}"
            ) from None
        model.eval()
        return cls(model, spec, config)

    def save(self, directory: Path) -> None:
        """Write the three files of an exported model."""
        directory.mkdir(parents=True, exist_ok=True)
        torch.save(self.model.state_dict(), directory / WEIGHTS)
        self.spec.save(directory / SPEC)
        (directory / CONFIG).write_text(self.config.to_json())

    def logits(self, batch: Batch) -> np.ndarray:
        """Raw scores [B] of a converted batch."""
        with torch.inference_mode():
            return self.model(batch.dense_features, batch.sparse_features).squeeze(-1).numpy()

    def predict(self, rows: pa.Table) -> np.ndarray:
        """Purchase/interaction probability [B] for example-shaped rows."""
        return 1.0 / (1.0 + np.exp(-self.logits(to_batch(rows, self.spec))))
