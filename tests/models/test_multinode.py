"""Training on a cluster: prepare once, the ranks on N nodes (torchrun's PET_* environment), register.

The nodes here are two torchrun agents on this machine joined by a c10d rendezvous on 127.0.0.1, as
two pods of a Kubeflow training job are; each gets only the environment such a job sets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models import workflow
from models.train import LaunchError, free_port, train
from models.workflow import TrainOptions
from shoprec import catalog
from shoprec.config import Settings
from tests.models.conftest import DAYS, ROWS_PER_DAY, VALID_DAY
from tests.models.synthetic import write_examples

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
OPTIONS = TrainOptions(day=VALID_DAY, days=4, nproc=2, batch_size=64, embedding_dim=16, epochs=1, members=1)


def home_with_examples(root: Path) -> Settings:
    settings = Settings(home=root / "home")
    write_examples(catalog.TRAINING_EXAMPLES.location(settings.lake), list(DAYS), ROWS_PER_DAY)
    return settings


def run_nodes(config: Path, nnodes: int, timeout: float = 600) -> list[int]:
    """Start one torchrun agent per node with only the PET_* environment a cluster job gives it."""
    endpoint = f"127.0.0.1:{free_port()}"
    agents = []
    for node_rank in range(nnodes):
        env = {
            **os.environ,
            "PET_NNODES": str(nnodes),
            "PET_NPROC_PER_NODE": "1",
            "PET_NODE_RANK": str(node_rank),
            "PET_RDZV_BACKEND": "c10d",
            "PET_RDZV_ENDPOINT": endpoint,
            "PET_RDZV_ID": "shoprec-test",
            "PET_LOCAL_ADDR": "127.0.0.1",  # the address this node's workers are reached at
            "OMP_NUM_THREADS": "1",
        }
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "-m",
            "models.train",
            "--config",
            str(config),
        ]
        agents.append(subprocess.Popen(command, env=env))
    try:
        return [agent.wait(timeout=timeout) for agent in agents]
    finally:
        for agent in agents:
            if agent.poll() is None:
                agent.kill()


@pytest.mark.slow
def test_two_nodes_of_one_rank_train_the_model_one_node_of_two_ranks_trains(tmp_path: Path) -> None:
    single = home_with_examples(tmp_path / "single")
    local = workflow.run(single, OPTIONS, progress=lambda _: None)  # `shoprec train --nproc 2`

    cluster = home_with_examples(tmp_path / "cluster")
    cfg = workflow.prepare(cluster, OPTIONS, progress=lambda _: None)  # `shoprec train --stage prepare`
    assert cfg.world_size == 2 and cfg.run_dir.name == local.run_dir.name  # same inputs, same run
    assert run_nodes(cfg.run_dir / "train_config.json", nnodes=2) == [0, 0]
    remote = workflow.register(cluster, OPTIONS, progress=lambda _: None)  # `shoprec train --stage register`

    assert remote.result["world_size"] == 2 and remote.result["finished"]
    for key in ("steps", "samples", "first_loss", "last_loss"):
        assert remote.result[key] == pytest.approx(local.result[key], rel=1e-5), key
    np.testing.assert_allclose(
        np.load(cfg.run_dir / "check_predictions.npy"),
        np.load(local.run_dir / "check_predictions.npy"),
        atol=1e-5,
    )
    trained = torch.load(cfg.run_dir / "export" / "model.pt", weights_only=True)
    expected = torch.load(local.run_dir / "export" / "model.pt", weights_only=True)
    assert trained.keys() == expected.keys()
    for name, weights in expected.items():
        torch.testing.assert_close(trained[name], weights, atol=1e-5, rtol=1e-5, msg=name)
    assert remote.metrics.auc == pytest.approx(local.metrics.auc, abs=1e-6)
    assert remote.record.champion and remote.decision == "promoted: first model"

    # the job started again after success (a retried pod) changes nothing; register reports the model
    assert run_nodes(cfg.run_dir / "train_config.json", nnodes=2) == [0, 0]
    again = workflow.register(cluster, OPTIONS, progress=lambda _: None)
    assert again.reused and again.record.version == remote.record.version


def test_the_cli_prepares_a_run_for_the_cluster_and_register_waits_for_its_ranks(tmp_path: Path) -> None:
    settings = home_with_examples(tmp_path)
    env = {**os.environ, "SHOPREC_HOME": str(settings.home)}
    stage = [SHOPREC, "train", "--date", VALID_DAY.isoformat(), "--days", "4", "--nproc", "2"]
    stage += ["--batch-size", "64", "--embedding-dim", "16", "--stage"]
    prepared = subprocess.run([*stage, "prepare"], env=env, capture_output=True, text=True, check=True)
    config = Path(prepared.stdout.strip())  # stdout holds the one line the cluster job needs
    assert config.name == "train_config.json" and config.parent.parent == settings.home.resolve() / "training"
    assert json.loads(config.read_text())["world_size"] == 2
    early = subprocess.run([*stage, "register"], env=env, capture_output=True, text=True, check=False)
    assert early.returncode == 1
    assert early.stderr.strip().splitlines()[-1] == (
        f"error: run {config.parent.name} is not trained: run its ranks first "
        f"(torchrun -m models.train --config {config})"
    )


def test_ranks_of_another_world_size_refuse_the_run(tmp_path: Path) -> None:
    settings = home_with_examples(tmp_path)
    cfg = workflow.prepare(settings, OPTIONS, progress=lambda _: None)
    with pytest.raises(LaunchError, match="prepared for 2 rank\\(s\\) but was launched with 1"):
        train(cfg)  # one process: a group of 1
    assert not (cfg.run_dir / "checkpoints").exists()
