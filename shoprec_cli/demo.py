"""`shoprec demo-data`: generate realistic landing files for a demo shop."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from shoprec_cli.common import echo_progress, parse_date, reported, settings
from shoprec_demo import generator
from shoprec_demo.scales import SCALES


def demo_data(
    scale: Annotated[str, typer.Option(help=f"Size of the shop: {', '.join(SCALES)}.")] = "tiny",
    start: Annotated[str, typer.Option(help="First UTC day to generate (YYYY-MM-DD).")] = "2026-01-01",
    days: Annotated[int, typer.Option(min=1, help="Number of days to generate.")] = 14,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 0,
    event_format: Annotated[
        Literal["jsonl", "behavior-log"],
        typer.Option(
            "--format", help="jsonl (shoprec export) or behavior-log (user,item,category,type,ts CSV)."
        ),
    ] = "jsonl",
    corrupt_rate: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=0.5,
            help="Share of extra bad lines mixed in, as real exports have (jsonl: 0.001 by default).",
        ),
    ] = None,
) -> None:
    """Generate landing files (events, item and user exports) plus the planted true preferences."""
    cfg = settings()
    first = parse_date(start, "--start")
    with reported(ValueError, OSError):
        stats = generator.generate(
            cfg.landing,
            cfg.demo_truth,
            scale=scale,
            start=first,
            days=days,
            seed=seed,
            event_format=event_format,
            corrupt_rate=(0.001 if event_format == "jsonl" else 0.0)
            if corrupt_rate is None
            else corrupt_rate,
            progress=echo_progress,
        )
    typer.echo(
        f"generated {stats.events:,} events ({stats.corrupt_lines:,} corrupt lines) for {stats.users:,} users and "
        f"{stats.items:,} items over {stats.days} days in {stats.seconds:.1f} s into {cfg.landing}"
    )
