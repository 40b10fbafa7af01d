"""Backtest: what the platform would have recommended on a past day D, and how that compares.

For a cutoff day D on any lake (real or demo), in order: build the feature partitions and training
examples the run needs that are not there yet, train a ranker on the `train_days` label days
before D (validated on D, registered without touching the champion), recommend for D with that
ranker, and evaluate D's lists and the baselines on the horizons after D (`jobs.offline_eval`).
Only what is missing is built, so a second backtest of the same lake reuses the first one's work;
the lake must hold clean.events up to D + the longest horizon (the message of a missing day says
which command builds it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from jobs import examples, features, offline_eval, recommend
from jobs.candidates import CandidateConfig
from shoprec import catalog, engine, inputs
from shoprec.config import Settings


@dataclass(frozen=True)
class BacktestConfig:
    """What one backtest runs.

    Attributes:
        day: The cutoff D: features as of D, recommendations made on D.
        train_days: Label days before D the ranker trains on.
        horizons: Days after D whose carts and purchases judge the lists.
        ks: Cut-offs of the metrics.
        repeat_purchases: Whether the shop recommends items users bought before (both sides).
        epochs, choose_epochs, batch_size, embedding_dim, nproc, seed, members: The ranker's training run
            (`models.workflow.TrainOptions`).
    """

    day: date
    train_days: int = 14
    horizons: tuple[int, ...] = offline_eval.HORIZONS
    ks: tuple[int, ...] = offline_eval.KS
    repeat_purchases: bool = False
    epochs: int = 4
    choose_epochs: bool = True
    batch_size: int = 512
    embedding_dim: int = 16
    nproc: int = 1
    seed: int = 7
    members: int | None = None

    @property
    def label_days(self) -> list[date]:
        """The training label days and D itself (the validation day)."""
        return [self.day - timedelta(days=n) for n in range(self.train_days, -1, -1)]


def _build_missing(
    spark: object,
    settings: Settings,
    table: catalog.Table,
    days: list[date],
    build: Callable[[date, date], object],
) -> list[date]:
    """Run `build(first, last)` over the span of the days `table` lacks; returns those days."""
    missing = inputs.missing_days(spark, settings, table, days)  # type: ignore[arg-type]
    if missing:
        build(min(missing), max(missing))
    return missing


def run(
    settings: Settings, config: BacktestConfig, progress: Callable[[str], None]
) -> offline_eval.EvalStats:
    """Build what is missing, train, recommend and evaluate for the cutoff day (see the module docstring).

    Raises:
        MissingInputError: clean.events lacks a day the run needs (names the command that builds it).
        NothingPublishedError, ValueError, TrainingError: as the steps themselves.
    """
    from models import workflow
    from models.launch import TrainingError

    day = config.day
    with engine.session(settings, "shoprec-backtest") as spark:
        feature_days = [d - timedelta(days=1) for d in config.label_days] + [day]
        inputs.require_days(
            spark, settings, catalog.CLEAN_EVENTS, config.label_days, "(the backtest's label days)"
        )
        built = _build_missing(
            spark,
            settings,
            catalog.USER_DAILY,
            feature_days,
            lambda a, b: features.run(spark, settings, a, b),
        )
        progress(f"features: built {len(built)} missing day(s)" if built else "features: all there")
        built = _build_missing(
            spark,
            settings,
            catalog.TRAINING_EXAMPLES,
            config.label_days,
            lambda a, b: examples.run(spark, settings, a, b),
        )
        progress(f"examples: built {len(built)} missing label day(s)" if built else "examples: all there")
    options = workflow.TrainOptions(
        day=day,
        days=config.train_days,
        nproc=config.nproc,
        epochs=config.epochs,
        choose_epochs=config.choose_epochs,
        batch_size=config.batch_size,
        embedding_dim=config.embedding_dim,
        seed=config.seed,
        members=config.members,
        promote=False,
    )
    outcome = workflow.run(settings, options, progress=progress)
    if outcome.record is None:
        raise TrainingError(f"the backtest's training run did not finish: {outcome.decision}")
    progress(outcome.summary())
    with engine.session(settings, "shoprec-backtest") as spark:
        recommend_config = recommend.RecommendConfig(
            candidates=CandidateConfig(exclude_bought=not config.repeat_purchases)
        )
        stats = recommend.run(
            spark, settings, day, recommend_config, model_version=outcome.record.version, progress=progress
        )
        progress(stats.summary())
        return offline_eval.run(
            spark,
            settings,
            day,
            ks=config.ks,
            horizons=config.horizons,
            repeat_purchases=config.repeat_purchases,
        )
