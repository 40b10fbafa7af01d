"""Training for real on CPU: one process in-process, two gloo ranks under torchrun, resume, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from deltalake import write_deltalake

from models.auc import evaluate
from models.data import open_examples, rebatch, to_batch
from models.export import export, load_checkpoint
from models.launch import TrainingError, launch
from models.score import Ranker
from models.train import check_rows, train
from tests.models.conftest import TRAIN_DAYS, VALID_DAY, prepare_run
from tests.models.synthetic import examples


def test_single_process_learns_the_planted_preferences(tmp_path: Path, examples_table: Path) -> None:
    cfg = prepare_run(tmp_path / "run", examples_table)
    result = train(cfg)
    assert result.finished
    assert result.world_size == 1
    assert result.backend == "gloo"
    assert result.last_loss < result.first_loss
    ranker = Ranker.load(export(cfg.run_dir))
    earlier = load_checkpoint(cfg.run_dir, sorted((cfg.run_dir / "checkpoints").glob("step_*"))[-2])
    for name, weights in (
        earlier.models[0].state_dict().items()
    ):  # the fused optimizer kept updating every table
        if "embedding_bags" in name:
            assert not torch.allclose(weights, ranker.models[0].state_dict()[name]), name
    metrics = evaluate(ranker, open_examples(examples_table, [VALID_DAY]))
    assert metrics.auc > 0.75, metrics
    assert metrics.auc > metrics.popularity_auc + 0.2, metrics
    progress = [json.loads(line) for line in (cfg.run_dir / "progress.jsonl").read_text().splitlines()]
    assert progress[-1]["step"] == result.steps
    assert progress[-1]["samples_per_second"] > 0


def test_a_stopped_run_resumes_where_it_stopped_and_ends_like_an_uninterrupted_one(
    tmp_path: Path, examples_table: Path
) -> None:
    whole = prepare_run(tmp_path / "whole", examples_table, epochs=1)
    train(whole)
    stopped = prepare_run(tmp_path / "stopped", examples_table, epochs=1, max_steps=13)
    first = train(stopped)
    assert (first.steps, first.finished) == (13, False)
    resumed = prepare_run(tmp_path / "stopped", examples_table, epochs=1)
    second = train(resumed)
    assert second.resumed_from_step == 13
    assert second.finished
    assert second.steps == first.total_steps
    np.testing.assert_allclose(
        np.load(resumed.run_dir / "check_predictions.npy"),
        np.load(whole.run_dir / "check_predictions.npy"),
        atol=1e-5,
    )


@pytest.mark.slow
def test_two_gloo_ranks_via_torchrun_and_the_checkpoint_loads_into_one_process(
    tmp_path: Path, examples_table: Path
) -> None:
    cfg = prepare_run(tmp_path / "run", examples_table)
    launch(cfg, nproc=2)
    result = json.loads((cfg.run_dir / "result.json").read_text())
    assert result["world_size"] == 2
    assert result["finished"]
    assert result["last_loss"] < result["first_loss"]
    single = load_checkpoint(cfg.run_dir)  # the 2-rank DCP checkpoint, resharded into one process
    np.testing.assert_allclose(
        single.logits(check_rows(cfg, single.spec))[0],
        np.load(cfg.run_dir / "check_predictions.npy"),
        atol=1e-5,
    )
    metrics = evaluate(single, open_examples(examples_table, [VALID_DAY]))
    assert metrics.auc > 0.75, metrics


def test_a_rank_failing_on_bad_input_reports_the_reason(tmp_path: Path) -> None:
    location = tmp_path / "examples"
    for day in (*TRAIN_DAYS, VALID_DAY):
        table = examples(day, 600)
        if day == TRAIN_DAYS[-1]:
            labels = table.column("label").to_pylist()
            labels[400] = 2
            table = table.set_column(
                table.schema.get_field_index("label"), "label", pa.array(labels, pa.int32())
            )
        write_deltalake(str(location), table, mode="append", partition_by=["label_date"])
    cfg = prepare_run(tmp_path / "run", location)
    with pytest.raises(
        TrainingError, match=r"exit code 1\): training.examples: column label must be 0 or 1 in 1 row"
    ):
        launch(cfg, nproc=1)


def test_the_trained_model_does_not_depend_on_how_the_rows_are_split_into_files(tmp_path: Path) -> None:
    unique = {}  # one example per (label_date, user_id, item_id), as `shoprec examples` writes them
    for day in (*TRAIN_DAYS, VALID_DAY):
        table = examples(day, 1_000, seed=4)
        pairs = np.stack([table["user_id"].to_numpy(), table["item_id"].to_numpy()], axis=1)
        _, first = np.unique(pairs, axis=0, return_index=True)
        unique[day] = table.take(np.sort(first))
    per_day, split = tmp_path / "per_day", tmp_path / "split"
    for table in unique.values():
        write_deltalake(str(per_day), table, mode="append", partition_by=["label_date"])
    for table in reversed(unique.values()):  # other files, and another order inside them
        backwards = table.take(np.arange(table.num_rows)[::-1])
        for start in range(0, backwards.num_rows, 300):
            write_deltalake(
                str(split), backwards.slice(start, 300), mode="append", partition_by=["label_date"]
            )
    assert len(open_examples(split, TRAIN_DAYS).fragments()) > len(
        open_examples(per_day, TRAIN_DAYS).fragments()
    )
    logits = []
    for location in (per_day, split):
        cfg = prepare_run(tmp_path / f"run_{location.name}", location, epochs=2, seed=11)
        train(cfg)
        model = load_checkpoint(cfg.run_dir)
        rows = next(rebatch(open_examples(per_day, [VALID_DAY]).record_batches(model.spec.columns), 256))
        logits.append(model.logits(to_batch(rows, model.spec)))
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-5)
