"""`shoprec backtest`: train on the days before a cutoff, recommend on it, evaluate the days after."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec_cli.common import echo_progress, parse_date, reported, settings
from shoprec_cli.evaluate import HorizonOption, KOption, RepeatOption
from shoprec_cli.models import MembersOption


def backtest(
    day: Annotated[str, typer.Option("--date", help="The cutoff day D (YYYY-MM-DD): recommend as of D.")],
    train_days: Annotated[int, typer.Option(min=1, help="Label days before D the ranker trains on.")] = 14,
    k: KOption = None,
    horizon: HorizonOption = None,
    repeat_purchases: RepeatOption = False,
    epochs: Annotated[
        int, typer.Option(min=1, help="Passes over the training days (the most, with --choose-epochs).")
    ] = 4,
    choose_epochs: Annotated[
        bool,
        typer.Option(
            "--choose-epochs/--fixed-epochs",
            help="Choose the epoch count (1..--epochs) on the last training day held out, before D.",
        ),
    ] = True,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per rank and step.")] = 512,
    embedding_dim: Annotated[int, typer.Option(min=1, help="Embedding size of every table.")] = 16,
    nproc: Annotated[int, typer.Option(min=1, help="Training ranks (torchrun).")] = 1,
    seed: Annotated[int, typer.Option(help="Seed for the ranker's initialisation and data order.")] = 7,
    members: MembersOption = None,
) -> None:
    """Build what is missing, train on the days before D, recommend at D, evaluate the days after; print the table."""
    from jobs import backtest as job
    from jobs import offline_eval
    from models.data import DataError
    from models.features import SpecError
    from models.launch import TrainingError
    from models.registry import RegistryError

    config = job.BacktestConfig(
        day=parse_date(day, "--date"),
        train_days=train_days,
        horizons=tuple(sorted(set(horizon or offline_eval.HORIZONS))),
        ks=tuple(sorted(set(k or offline_eval.KS))),
        repeat_purchases=repeat_purchases,
        epochs=epochs,
        choose_epochs=choose_epochs,
        batch_size=batch_size,
        embedding_dim=embedding_dim,
        nproc=nproc,
        seed=seed,
        members=members,
    )
    with reported(ValueError, DataError, SpecError, RegistryError, TrainingError):
        stats = job.run(settings(), config, progress=echo_progress)
    typer.echo(stats.table())
