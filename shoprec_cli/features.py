"""`shoprec clean` and `shoprec features`: raw -> clean -> feature tables for a day or a range."""

from __future__ import annotations

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


def clean(day: DateOption = None, start: StartOption = None, end: EndOption = None) -> None:
    """Rebuild clean.items / clean.users and replace clean.events for the day(s)."""
    from jobs import clean as job

    first, last = date_range(day, start, end)
    cfg = settings()
    echo_progress(f"cleaning {first}..{last}")
    with reported(ValueError), engine.session(cfg, "shoprec-clean") as spark:
        stats = job.run(spark, cfg, first, last)
    typer.echo(stats.summary())


def features(day: DateOption = None, start: StartOption = None, end: EndOption = None) -> None:
    """Store the day(s)' per-day aggregates, then build the four feature tables as of the day(s)."""
    from jobs import features as job

    first, last = date_range(day, start, end)
    cfg = settings()
    echo_progress(f"building features as of {first}..{last} (windows summed from the per-day aggregates)")
    with reported(ValueError), engine.session(cfg, "shoprec-features") as spark:
        stats = job.run(spark, cfg, first, last)
    typer.echo(stats.summary())
