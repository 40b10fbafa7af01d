"""Distributed DLRM training: the function every rank runs, and its torchrun entry point.

    torchrun --nproc_per_node=N -m models.train --config RUN_DIR/train_config.json

On several nodes every node runs the same command with torchrun's usual environment (``PET_NNODES``,
``PET_NPROC_PER_NODE``, ``PET_NODE_RANK``, ``PET_MASTER_ADDR``/``PET_MASTER_PORT`` or ``PET_RDZV_BACKEND``/
``PET_RDZV_ENDPOINT``, as a Kubeflow training job sets them): torchrun takes ``PET_<ARG>`` as the default of
``--<arg>``. The run directory must be one shared path on every node: every rank reads its spec and
configs and writes its own checkpoint shards there; global rank 0 alone writes ``progress.jsonl``,
``result.json``, ``check_predictions.npy`` and the ``checkpoints/latest`` marker. The group must have
the world size the run was prepared for (``world_size`` in the config).

`train(cfg)` runs on each rank. The backend follows the hardware: NCCL and one GPU per rank when CUDA
is present, gloo on CPU otherwise; no code changes between the two. Embedding tables are sharded by
TorchRec's planner through `DistributedModelParallel` and updated by a fused row-wise Adagrad in the
backward pass; the dense layers use Adagrad. Batches flow through `TrainPipelineSparseDist`, which
overlaps the next batch's sparse all-to-all with the current step.

Checkpoints are torch.distributed.checkpoint (DCP) directories under ``RUN_DIR/checkpoints``; a run
started again with the same run directory resumes from the latest one at the step it reached. DCP
checkpoints reshard on load, so one written by N ranks loads into a single process (see
`models.export`). At the end every rank scores the same fixed rows and rank 0 saves the predictions,
which the exporter uses to prove the exported single-process model scores identically.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.elastic.multiprocessing.errors import record
from torchrec.distributed import DistributedModelParallel
from torchrec.distributed.planner import EmbeddingShardingPlanner
from torchrec.distributed.planner.storage_reservations import FixedPercentageStorageReservation
from torchrec.distributed.planner.types import KernelConfig, TopologyFactory, TrainerConfig
from torchrec.distributed.train_pipeline import TrainPipelineSparseDist
from torchrec.optim.apply_optimizer_in_backward import apply_optimizer_in_backward
from torchrec.optim.keyed import CombinedOptimizer, KeyedOptimizerWrapper
from torchrec.optim.optimizers import in_backward_optimizer_filter
from torchrec.optim.rowwise_adagrad import RowWiseAdagrad

from models import quiet_library_logs
from models.data import Batch, DataError, open_examples, rank_batches, rebatch, steps_per_epoch, to_batch
from models.dlrm import ModelConfig, RankingLoss, build_ranker
from models.features import FeatureSpec, SpecError
from shoprec import storage

log = logging.getLogger("shoprec.train")
CHECK_ROWS = 256  # rows scored at the end to verify exports


@dataclass(frozen=True)
class TrainConfig:
    """One training run; saved as ``train_config.json`` in its run directory.

    Attributes:
        run_dir: Holds spec.json, model_config.json, checkpoints/, progress.jsonl and result.json.
        examples: Location of the training.examples Delta table.
        examples_version: Delta version read by every rank (pinned when the run was prepared).
        train_dates: Label dates trained on.
        check_date: Label date whose first rows are scored at the end (the validation day).
        batch_size: Rows per rank and step.
        epochs: Passes over the training dates (rows reshuffled per epoch, see `Examples.shuffled`).
        sparse_lr: Row-wise Adagrad learning rate of the embedding tables.
        dense_lr: Adagrad learning rate of the MLPs.
        checkpoint_every: Steps between checkpoints (one is always written at the end).
        log_every: Steps between progress lines.
        max_steps: Stop (checkpointed, not finished) after this global step; None trains to the end.
        seed: Seeds parameter initialisation and the per-epoch row order.
        world_size: Ranks the run was prepared for (the step count depends on it); None = any.
    """

    run_dir: Path
    examples: storage.Location
    examples_version: int
    train_dates: tuple[date, ...]
    check_date: date
    batch_size: int = 2048
    epochs: int = 1
    sparse_lr: float = 0.05
    dense_lr: float = 0.02
    checkpoint_every: int = 500
    log_every: int = 50
    max_steps: int | None = None
    seed: int = 7
    world_size: int | None = None
    keep_checkpoints: int = field(default=2, repr=False)

    def save(self) -> Path:
        """Write ``run_dir/train_config.json`` and return its path."""
        path = self.run_dir / "train_config.json"
        raw = asdict(self)
        raw["run_dir"], raw["examples"] = str(self.run_dir), str(self.examples)
        raw["train_dates"] = [d.isoformat() for d in self.train_dates]
        raw["check_date"] = self.check_date.isoformat()
        path.write_text(json.dumps(raw, indent=2))
        return path

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """Read a config written by `save`."""
        raw = json.loads(path.read_text())
        raw["run_dir"], raw["examples"] = Path(raw["run_dir"]), storage.location(raw["examples"])
        raw["train_dates"] = tuple(date.fromisoformat(d) for d in raw["train_dates"])
        raw["check_date"] = date.fromisoformat(raw["check_date"])
        return cls(**raw)


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or stopped) run reports; rank 0 writes it to ``result.json``."""

    steps: int
    total_steps: int
    finished: bool
    samples: int
    seconds: float
    samples_per_second: float
    first_loss: float
    last_loss: float
    world_size: int
    backend: str
    resumed_from_step: int
    checkpoint: str


def train(cfg: TrainConfig) -> TrainResult:
    """Train on this rank (call on every rank of the job; also works as a single process)."""
    rank, world_size, device, backend = _init_process_group()
    try:
        return _train(cfg, rank, world_size, device, backend)
    finally:
        dist.destroy_process_group()


class LaunchError(RuntimeError):
    """The ranks were launched in a way that cannot train this run (a different world size)."""


def _train(cfg: TrainConfig, rank: int, world_size: int, device: torch.device, backend: str) -> TrainResult:
    if cfg.world_size is not None and world_size != cfg.world_size:
        raise LaunchError(
            f"run {cfg.run_dir.name} was prepared for {cfg.world_size} rank(s) but was launched with "
            f"{world_size} (nnodes x nproc_per_node): launch {cfg.world_size}, or prepare it with --nproc {world_size}"
        )
    spec = FeatureSpec.load(cfg.run_dir / "spec.json")
    model_config = ModelConfig.load(cfg.run_dir / "model_config.json")
    examples = open_examples(cfg.examples, cfg.train_dates, cfg.examples_version)
    per_epoch = steps_per_epoch(examples, cfg.batch_size, world_size)
    if per_epoch == 0:
        raise DataError(
            f"training.examples has {examples.rows} rows for {len(cfg.train_dates)} label date(s): "
            f"fewer than one global batch ({cfg.batch_size} x {world_size} ranks); lower --batch-size"
        )
    total_steps = per_epoch * cfg.epochs

    torch.manual_seed(cfg.seed)
    loss_model = RankingLoss(build_ranker(spec, model_config, sparse_device=torch.device("meta")))
    apply_optimizer_in_backward(
        RowWiseAdagrad, loss_model.model.sparse_arch.parameters(), {"lr": cfg.sparse_lr}
    )
    planner = EmbeddingShardingPlanner(
        topology=TopologyFactory.create_topology(
            TrainerConfig(world_size=world_size), kernel_config=KernelConfig(compute_device=device.type)
        ),
        batch_size=cfg.batch_size,
        storage_reservation=FixedPercentageStorageReservation(0.15),
    )
    plan = planner.collective_plan(loss_model, pg=dist.GroupMember.WORLD)
    model = DistributedModelParallel(loss_model, device=device, plan=plan)
    dense = KeyedOptimizerWrapper(
        dict(in_backward_optimizer_filter(model.named_parameters())),
        lambda params: torch.optim.Adagrad(params, lr=cfg.dense_lr),
    )
    optimizer = CombinedOptimizer([model.fused_optimizer, dense])
    if rank == 0:
        log.info("sharding plan:\n%s", model.plan)

    checkpoints = cfg.run_dir / "checkpoints"
    start_step = _restore(checkpoints, model, optimizer)
    if rank == 0 and start_step:
        log.info("resuming from the checkpoint at step %d of %d", start_step, total_steps)
    stop_at = min(total_steps, cfg.max_steps) if cfg.max_steps is not None else total_steps
    pipeline = TrainPipelineSparseDist(model, optimizer, device)
    step, losses = start_step, []
    started = time.perf_counter()
    window_start, window_step = started, step
    while step < stop_at:
        epoch, done_in_epoch = divmod(step, per_epoch)
        batches = rank_batches(
            examples,
            spec,
            cfg.batch_size,
            rank,
            world_size,
            seed=cfg.seed,
            epoch=epoch,
            skip=done_in_epoch,
        )
        remaining = min(per_epoch - done_in_epoch, stop_at - step)
        stream = (b for _, b in zip(range(remaining), batches, strict=False))
        while True:
            try:
                loss, _, _ = pipeline.progress(stream)
            except StopIteration:
                break
            step += 1
            losses.append(float(loss))
            if step % cfg.log_every == 0 or step == stop_at:
                now = time.perf_counter()
                rate = (step - window_step) * cfg.batch_size * world_size / max(now - window_start, 1e-9)
                window_start, window_step = now, step
                _progress(cfg, rank, step, total_steps, epoch, float(np.mean(losses[-cfg.log_every :])), rate)
            if step % cfg.checkpoint_every == 0 and step < stop_at:
                _save(checkpoints, step, model, optimizer, rank, cfg.keep_checkpoints)
    seconds = time.perf_counter() - started
    pipeline.detach()
    checkpoint = _save(checkpoints, step, model, optimizer, rank, cfg.keep_checkpoints)
    predictions = _check_predictions(cfg, spec, model, device)
    trained = step - start_step
    window = max(1, min(cfg.log_every, len(losses) // 4))  # losses averaged at each end of the run
    result = TrainResult(
        steps=step,
        total_steps=total_steps,
        finished=step == total_steps,
        samples=trained * cfg.batch_size * world_size,
        seconds=seconds,
        samples_per_second=trained * cfg.batch_size * world_size / max(seconds, 1e-9),
        first_loss=float(np.mean(losses[:window])) if losses else float("nan"),
        last_loss=float(np.mean(losses[-window:])) if losses else float("nan"),
        world_size=world_size,
        backend=backend,
        resumed_from_step=start_step,
        checkpoint=str(checkpoint),
    )
    if rank == 0:
        np.save(cfg.run_dir / "check_predictions.npy", predictions)
        (cfg.run_dir / "result.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def _init_process_group() -> tuple[int, int, torch.device, str]:
    """Join torchrun's group (or make a 1-process one); NCCL + GPU when CUDA is there, else gloo + CPU."""
    if torch.cuda.is_available():
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(device)
    else:
        device, backend = torch.device("cpu"), "gloo"
    if "RANK" in os.environ:
        dist.init_process_group(backend)
    else:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    return dist.get_rank(), dist.get_world_size(), device, backend


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _state(model: DistributedModelParallel, optimizer: CombinedOptimizer) -> dict[str, object]:
    return {"model": model.state_dict(), "optimizer": optimizer.state_dict()}


def latest_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete checkpoint directory (named in ``latest``), or None."""
    marker = checkpoints / "latest"
    if not marker.is_file():
        return None
    path = checkpoints / marker.read_text().strip()
    return path if path.is_dir() else None


def _restore(checkpoints: Path, model: DistributedModelParallel, optimizer: CombinedOptimizer) -> int:
    path = latest_checkpoint(checkpoints)
    if path is None:
        return 0
    state = _state(model, optimizer)
    dcp.load(state, checkpoint_id=str(path))
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return int(path.name.removeprefix("step_"))


def _save(
    checkpoints: Path,
    step: int,
    model: DistributedModelParallel,
    optimizer: CombinedOptimizer,
    rank: int,
    keep: int,
) -> Path:
    """Write a DCP checkpoint, then (rank 0) point ``latest`` at it and prune old ones."""
    path = checkpoints / f"step_{step:08d}"
    dcp.save(_state(model, optimizer), checkpoint_id=str(path))
    dist.barrier()
    if rank == 0:
        marker = checkpoints / "latest"
        tmp = marker.with_suffix(".tmp")
        tmp.write_text(path.name)
        tmp.replace(marker)  # atomic: a crash never leaves `latest` naming a half-written checkpoint
        for old in sorted(checkpoints.glob("step_*"))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    dist.barrier()
    return path


def check_rows(cfg: TrainConfig, spec: FeatureSpec) -> Batch:
    """The fixed rows scored at the end of training: the first CHECK_ROWS of check_date in file order."""
    examples = open_examples(cfg.examples, (cfg.check_date,), cfg.examples_version)
    table = next(rebatch(examples.record_batches(spec.columns), CHECK_ROWS))
    return to_batch(table, spec)


def _check_predictions(
    cfg: TrainConfig, spec: FeatureSpec, model: DistributedModelParallel, device: torch.device
) -> np.ndarray:
    batch = check_rows(cfg, spec).to(device)
    model.eval()
    with torch.no_grad():
        _, (_, logits, _) = model(batch)
    return logits.cpu().numpy()


def _progress(
    cfg: TrainConfig, rank: int, step: int, total: int, epoch: int, loss: float, rate: float
) -> None:
    if rank != 0:
        return
    log.info("step %d/%d epoch %d loss %.4f %s samples/s", step, total, epoch + 1, loss, f"{rate:,.0f}")
    with (cfg.run_dir / "progress.jsonl").open("a") as out:
        out.write(
            json.dumps({"step": step, "epoch": epoch + 1, "loss": loss, "samples_per_second": rate}) + "\n"
        )


@record
def main(argv: list[str] | None = None) -> None:
    """Entry point for torchrun: ``-m models.train --config RUN_DIR/train_config.json``."""
    parser = argparse.ArgumentParser(prog="models.train", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True, help="train_config.json of the run")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr, force=True
    )
    log.setLevel(logging.INFO)
    quiet_library_logs()
    threads = os.environ.get("OMP_NUM_THREADS")
    if threads:
        torch.set_num_threads(int(threads))
    cfg = TrainConfig.load(args.config)
    result = cfg.run_dir / "result.json"
    if result.is_file() and json.loads(result.read_text())["finished"]:  # a job run again after success
        log.info("run %s has already finished training; nothing to do", cfg.run_dir.name)
        return
    try:
        train(cfg)
    except (DataError, SpecError, LaunchError) as exc:  # the launcher shows this as the one-line reason
        (cfg.run_dir / "error.txt").write_text(str(exc))
        raise


if __name__ == "__main__":
    main()
