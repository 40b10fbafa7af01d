"""Fixtures for model tests: a synthetic examples table (real Delta) and small training configs."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from models.data import measure_dense, open_examples
from models.dlrm import ModelConfig
from models.features import FeatureSpec
from models.train import TrainConfig
from tests.models.synthetic import write_examples

DAYS = tuple(date(2026, 1, 1) + timedelta(days=k) for k in range(5))
TRAIN_DAYS, VALID_DAY = DAYS[:4], DAYS[4]
ROWS_PER_DAY = 2_000
SMALL_TABLES = {"t_user": 512, "t_item": 512, "t_category": 16, "t_brand": 32}
SMALL_MODEL = ModelConfig(embedding_dim=8, dense_layers=(16, 8), over_layers=(16, 1))


@pytest.fixture(scope="session")
def examples_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five label days of planted-structure examples in a Delta table (shared; do not modify)."""
    location = tmp_path_factory.mktemp("examples") / "training" / "examples"
    write_examples(location, list(DAYS), ROWS_PER_DAY)
    return location


def small_spec(location: Path) -> FeatureSpec:
    """The default feature spec with small tables and statistics measured on the training days."""
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    return spec.with_stats(measure_dense(open_examples(location, TRAIN_DAYS), spec))


def prepare_run(
    run_dir: Path, examples: Path, model: ModelConfig = SMALL_MODEL, **overrides: object
) -> TrainConfig:
    """Write a run directory (spec, model config, train config) the way `shoprec train` does."""
    run_dir.mkdir(parents=True, exist_ok=True)
    small_spec(examples).save(run_dir / "spec.json")
    (run_dir / "model_config.json").write_text(model.to_json())
    settings = {
        "run_dir": run_dir,
        "examples": examples,
        "examples_version": open_examples(examples, TRAIN_DAYS).version,
        "train_dates": TRAIN_DAYS,
        "check_date": VALID_DAY,
        "batch_size": 128,
        "epochs": 2,
        "log_every": 10,
        "checkpoint_every": 20,
        **overrides,
    }
    cfg = TrainConfig(**settings)  # type: ignore[arg-type]
    cfg.save()
    return cfg
