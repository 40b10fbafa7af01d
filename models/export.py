"""Turning a run's final distributed checkpoint into a single-process model, verified.

DCP reshards on load: the sharded embedding tables of N ranks are read into the full tables of one
plain (unsharded) ranker. The export is accepted only if it reproduces, on the same fixed rows, the
predictions the distributed model made at the end of training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.distributed.checkpoint as dcp

from models.dlrm import ModelConfig, RankingLoss, build_ranker
from models.features import FeatureSpec
from models.score import Ranker
from models.train import TrainConfig, check_rows, latest_checkpoint

TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """A run cannot be exported (no checkpoint, or the export scores differently)."""


def load_checkpoint(run_dir: Path, checkpoint: Path | None = None) -> Ranker:
    """Load a run's checkpoint (the latest by default) into a single-process ranker."""
    checkpoint = checkpoint or latest_checkpoint(run_dir / "checkpoints")
    if checkpoint is None:
        raise ExportError(f"run {run_dir} has no complete checkpoint")
    spec = FeatureSpec.load(run_dir / "spec.json")
    config = ModelConfig.load(run_dir / "model_config.json")
    wrapper = RankingLoss(build_ranker(spec, config, sparse_device=torch.device("cpu")))
    state = {"model": wrapper.state_dict()}
    dcp.load(state, checkpoint_id=str(checkpoint), no_dist=True)
    wrapper.load_state_dict(state["model"])
    wrapper.model.eval()
    return Ranker((wrapper.model,), spec, config)


def export(run_dir: Path) -> Path:
    """Write ``run_dir/export`` from the final checkpoint after checking its predictions; return the path."""
    ranker = load_checkpoint(run_dir)
    cfg = TrainConfig.load(run_dir / "train_config.json")
    expected = np.load(run_dir / "check_predictions.npy")
    got = ranker.logits(check_rows(cfg, ranker.spec))[0]
    gap = float(np.max(np.abs(got - expected))) if len(got) else 0.0
    if got.shape != expected.shape or gap > TOLERANCE:
        raise ExportError(
            f"exported model of {run_dir} disagrees with the distributed model by {gap:.2e} (> {TOLERANCE})"
        )
    target = run_dir / "export"
    ranker.save(target)
    return target
