"""`shoprec ingest`: landing days -> raw Delta tables."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from shoprec import engine
from shoprec_cli.common import (
    DateOption,
    EndOption,
    StartOption,
    UserFacingError,
    date_range,
    echo_progress,
    reported,
    settings,
)


def ingest(
    day: DateOption = None,
    start: StartOption = None,
    end: EndOption = None,
    event_format: Annotated[
        Literal["jsonl", "parquet", "behavior-log"] | None,
        typer.Option("--format", help="Event file format; detected from file suffixes when omitted."),
    ] = None,
    max_reject_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Fail (leaving raw.events unchanged) above this rejected share; duplicates and "
            "cancellations do not count.",
        ),
    ] = 0.05,
) -> None:
    """Ingest landing days into raw.events (+ rejected rows, item and user exports); reruns replace a day.

    A day holding only `shoprec land`'s empty-day markers is recorded as a day without events.
    """
    from jobs import ingest as job

    first, last = date_range(day, start, end)
    cfg = settings()
    totals = {"read": 0, "accepted": 0, "rejected": 0}
    with reported(job.IngestError, ValueError), engine.session(cfg, "shoprec-ingest") as spark:
        for stats in job.run(
            spark, cfg, first, last, event_format=event_format, max_reject_rate=max_reject_rate
        ):
            echo_progress(stats.summary())
            for sample in stats.samples[:3]:
                echo_progress(f"  rejected {sample}")
            for key in totals:
                totals[key] += getattr(stats, key)
    if totals["read"] != totals["accepted"] + totals["rejected"]:
        raise UserFacingError("counts do not reconcile across the range")
    typer.echo(
        f"ingested {first}..{last}: read {totals['read']:,} = accepted {totals['accepted']:,} + "
        f"rejected {totals['rejected']:,}"
    )
