"""`shoprec train` and `shoprec models …`: train a ranker under torchrun, list and inspect the registry."""

from __future__ import annotations

from typing import Annotated

import typer

from models.ensemble import DEFAULT_HELP as MEMBERS_DEFAULT
from shoprec_cli.common import echo_progress, parse_date, reported, settings

MembersOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Rankers trained alike with seeds seed, seed+1, ... and registered as one ensemble averaging "
        f"their probabilities (`shoprec train`: --stage all only). {MEMBERS_DEFAULT}",
    ),
]

app = typer.Typer(help="The model registry (MLflow under SHOPREC_HOME).", no_args_is_help=True)


def train(
    day: Annotated[
        str, typer.Option("--date", help="Validation label day D; trains on the --days before it.")
    ],
    days: Annotated[int, typer.Option(help="Label days to train on.")] = 7,
    nproc: Annotated[
        int,
        typer.Option(
            help="Ranks to launch with torchrun (one per GPU, or CPU processes); "
            "with --stage prepare, the ranks of the cluster job in all (nnodes x nproc_per_node)."
        ),
    ] = 1,
    epochs: Annotated[
        int, typer.Option(help="Passes over the training days (the most, with --choose-epochs).")
    ] = 1,
    choose_epochs: Annotated[
        bool,
        typer.Option(
            "--choose-epochs/--fixed-epochs",
            help="Hold out the last training day, train on the others and keep the epoch count "
            "(1..--epochs) that scores best on it, then train on all the days for that many (--stage all only).",
        ),
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Rows per rank and step.")] = 2048,
    arch: Annotated[str, typer.Option(help="dlrm or dlrm_dcn.")] = "dlrm",
    embedding_dim: Annotated[int, typer.Option(help="Embedding size of every table.")] = 64,
    max_steps: Annotated[
        int | None, typer.Option(help="Stop after this step with a checkpoint; running again resumes.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for initialisation and data order.")] = 7,
    members: MembersOption = None,
    stage: Annotated[
        str,
        typer.Option(
            help="all: prepare, train here under torchrun, register. On a cluster: prepare (write the run "
            "directory, print its train_config.json), run `torchrun -m models.train --config THAT` on the "
            "nodes, then register (same options)."
        ),
    ] = "all",
) -> None:
    """Train the DLRM ranker for a day, evaluate it, register it in MLflow and promote it if it wins."""
    from models import workflow
    from models.data import DataError
    from models.export import ExportError
    from models.features import SpecError
    from models.launch import TrainingError
    from models.registry import RegistryError

    with reported(ValueError, DataError, SpecError, ExportError, RegistryError, TrainingError):
        options = workflow.TrainOptions(
            day=parse_date(day, "--date"),
            days=days,
            nproc=nproc,
            epochs=epochs,
            batch_size=batch_size,
            arch=arch,  # type: ignore[arg-type]  # checked by ModelConfig
            embedding_dim=embedding_dim,
            max_steps=max_steps,
            seed=seed,
            choose_epochs=choose_epochs,
            members=members,
        )
        stages = {"all": workflow.run, "prepare": workflow.prepare, "register": workflow.register}
        if stage not in stages:
            raise ValueError(f"--stage must be one of {', '.join(stages)}, got {stage!r}")
        outcome = stages[stage](settings(), options, progress=echo_progress)
    if isinstance(outcome, workflow.TrainOutcome):
        typer.echo(outcome.summary())
    else:  # prepared: the one line (its config) that the ranks of the cluster job need
        echo_progress(f"prepared for {nproc} rank(s); on every node: torchrun -m models.train --config PATH")
        typer.echo(outcome.run_dir / "train_config.json")


@app.command("list")
def list_models() -> None:
    """Every registered ranker version, newest first; * marks the champion."""
    from models.registry import Registry

    records = Registry.for_settings(settings()).versions()
    if not records:
        typer.echo("no models registered yet; run `shoprec train --date D`")
        return
    typer.echo(
        f"{'':1} {'version':>7}  {'created (UTC)':16}  {'validated on':12}  {'trained on':22}  {'arch':8}  {'AUC':>6}  {'pop AUC':>7}  decision"
    )
    for r in records:
        auc = f"{r.auc:.4f}" if r.auc is not None else "-"
        pop = f"{r.popularity_auc:.4f}" if r.popularity_auc is not None else "-"
        typer.echo(
            f"{'*' if r.champion else ' '} {r.version:>7}  {r.created_at:%Y-%m-%d %H:%M}  {r.validation_date:12}  "
            f"{r.train_dates:22}  {r.arch + (f' x{r.members}' if r.members > 1 else ''):8}  {auc:>6}  {pop:>7}  {r.decision}"
        )


@app.command("show")
def show(
    version: Annotated[int | None, typer.Argument(help="Version number; the champion when omitted.")] = None,
) -> None:
    """Details of one version: metrics, inputs, where its exported model lives."""
    from models.registry import Registry, RegistryError

    registry = Registry.for_settings(settings())
    with reported(RegistryError):
        record = registry.get(version)
    run = registry.client.get_run(record.run_id)
    typer.echo(f"version {record.version}{' (champion)' if record.champion else ''}: {record.decision}")
    typer.echo(f"model files: {record.path}")
    for name, value in sorted(run.data.metrics.items()):
        typer.echo(f"  metric {name} = {value:.6g}")
    for name, value in sorted(run.data.tags.items()):
        if name.startswith("input."):
            typer.echo(f"  input {name.removeprefix('input.')} @ Delta version {value}")
