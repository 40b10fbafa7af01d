"""Running `models.train` under torchrun on this machine's ranks, and what a failed run says."""

from __future__ import annotations

import os
import subprocess
import sys

from models.train import TrainConfig, free_port, latest_checkpoint


class TrainingError(RuntimeError):
    """Training could not complete; the message carries the rank's own reason when there is one."""


def launch(cfg: TrainConfig, nproc: int) -> None:
    """Run `models.train` under torchrun on `nproc` local ranks (rendezvous on 127.0.0.1)."""
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        "--nnodes=1",
        "--master_addr=127.0.0.1",
        f"--master_port={free_port()}",
        "-m",
        "models.train",
        "--config",
        str(cfg.save()),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
    completed = subprocess.run(command, env=env, check=False)
    if completed.returncode != 0:
        error = cfg.run_dir / "error.txt"
        reason = error.read_text().strip() if error.is_file() else "see the rank logs above"
        resume = (
            "; the same command resumes from its last checkpoint"
            if latest_checkpoint(cfg.run_dir / "checkpoints")
            else ""
        )
        raise TrainingError(
            f"training failed on {nproc} rank(s) (exit code {completed.returncode}): {reason}{resume}"
        )
