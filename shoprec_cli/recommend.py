"""`shoprec recommend`: candidates -> DLRM ranking -> validated, atomic publication of the top K."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import engine
from shoprec_cli.common import DateOption, echo_progress, parse_date, reported, settings


def recommend(
    day: DateOption = None,
    k: Annotated[int, typer.Option("--k", min=1, help="Items per user.")] = 20,
    category_cap: Annotated[
        int, typer.Option(min=1, help="Items of one category before any item beyond the cap.")
    ] = 3,
    model_version: Annotated[
        int | None, typer.Option(help="Registry version to score with (default: the champion).")
    ] = None,
    include_bought: Annotated[
        bool, typer.Option(help="Also recommend items the user bought in the last 30 days.")
    ] = False,
    audience_size: Annotated[
        int, typer.Option(min=1, help="Users kept per item in reco.item_audiences.")
    ] = 100,
    buckets: Annotated[
        int | None,
        typer.Option(
            min=1, help="User buckets scored one after another (default: sized from SHOPREC_MEMORY_GB)."
        ),
    ] = None,
) -> None:
    """Publish reco.user_recommendations (and reco.latest, reco.item_audiences) for run_date --date."""
    from dataclasses import replace

    from jobs import recommend as job
    from models.features import SpecError
    from models.registry import RegistryError
    from shoprec_quality.expectation_kwargs import SuiteError

    if day is None:
        raise typer.BadParameter("give --date", param_hint="--date")
    run_date = parse_date(day, "--date")
    base = job.RecommendConfig()
    config = replace(
        base,
        k=k,
        category_cap=category_cap,
        audience_size=audience_size,
        buckets=buckets,
        candidates=replace(base.candidates, exclude_bought=not include_bought),
    )
    cfg = settings()
    with (
        reported(ValueError, job.PublishError, RegistryError, SpecError, SuiteError),
        engine.session(cfg, "shoprec-recommend") as spark,
    ):
        stats = job.run(spark, cfg, run_date, config, model_version=model_version, progress=echo_progress)
    typer.echo(stats.summary())
