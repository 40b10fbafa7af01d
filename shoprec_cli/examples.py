"""`shoprec examples`: build training.examples (the day before's candidates, labelled by what users did)."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import engine
from shoprec_cli.common import (
    DateOption,
    EndOption,
    StartOption,
    date_range,
    echo_progress,
    reported,
    settings,
)

NegativesOption = Annotated[
    int,
    typer.Option(
        "--negatives",
        min=0,
        help="Candidates without an interaction kept per positive (0 writes positives only).",
    ),
]

BucketsOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="User buckets built one after another per label day (default: sized from SHOPREC_MEMORY_GB).",
    ),
]


def examples(
    day: DateOption = None,
    start: StartOption = None,
    end: EndOption = None,
    negatives: NegativesOption = 10,
    buckets: BucketsOption = None,
) -> None:
    """Build training.examples for the label day(s), with features as of the day before each."""
    from jobs import examples as job

    first, last = date_range(day, start, end)
    cfg = settings()
    echo_progress(
        f"building training examples for label days {first}..{last} ({negatives} negatives per positive)"
    )
    with reported(ValueError), engine.session(cfg, "shoprec-examples") as spark:
        stats = job.run(spark, cfg, first, last, negatives_per_positive=negatives, buckets=buckets)
    typer.echo(stats.summary())
