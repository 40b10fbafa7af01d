"""`shoprec ingest`: landing days -> raw Delta tables."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from shoprec import spark as engine
from shoprec.cli.common import UserFacingError, echo_progress, parse_date, reported, settings


def ingest(
    day: Annotated[
        str | None, typer.Option("--date", help="The UTC landing day to ingest (YYYY-MM-DD).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day of a range (with --end).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day of a range, included.")] = None,
    event_format: Annotated[
        Literal["jsonl", "parquet", "behavior-log"] | None,
        typer.Option("--format", help="Event file format; detected from file suffixes when omitted."),
    ] = None,
    max_reject_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Fail (leaving raw.events unchanged) above this rejected share."),
    ] = 0.05,
) -> None:
    """Ingest landing days into raw.events (+ rejected rows, item and user exports); reruns replace a day."""
    from jobs import ingest as job

    if (day is None) == (start is None):
        raise typer.BadParameter("give either --date or --start (with --end)", param_hint="--date/--start")
    if day is not None and end is not None:
        raise typer.BadParameter("--end goes with --start, not with --date", param_hint="--end")
    first = parse_date(day or start, "--date" if day else "--start")  # type: ignore[arg-type]
    last = parse_date(end, "--end") if end else first
    if last < first:
        raise typer.BadParameter(f"--end {last} is before --start {first}", param_hint="--end")
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
