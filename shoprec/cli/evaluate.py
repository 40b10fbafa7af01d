"""`shoprec evaluate`: score a run_date's published recommendations and the baselines on the next day.

The metrics replace the ops.eval_metrics rows of (run_date, K); the command prints them as a
methods x metrics table and plots every run_date evaluated at K to SHOPREC_HOME/reports/eval_metrics.png.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import spark as engine
from shoprec.cli.common import SKIPPED_EXIT_CODE, echo_progress, parse_date, reported, settings

RunDateOption = Annotated[
    str,
    typer.Option(
        "--date", help="The run_date D to evaluate (YYYY-MM-DD); its targets are the events of D + 1."
    ),
]
KOption = Annotated[int, typer.Option("--k", min=1, help="Cut-off K of Recall/NDCG/MAP/HitRate@K.")]
SkipMissingOption = Annotated[
    bool,
    typer.Option(
        "--skip-missing",
        help=f"When D has no published recommendations, say so and exit {SKIPPED_EXIT_CODE} (skipped) "
        "instead of failing.",
    ),
]


def evaluate(day: RunDateOption, k: KOption = 20, skip_missing: SkipMissingOption = False) -> None:
    """Score run_date D's recommendations and baselines on D + 1's carts and purchases; record and plot."""
    from jobs import offline_eval as job

    run_date = parse_date(day, "--date")
    cfg = settings()
    echo_progress(f"evaluating the recommendations of run_date {run_date} at k={k}")
    with reported(ValueError), engine.session(cfg, "shoprec-evaluate") as spark:
        try:
            stats = job.run(spark, cfg, run_date, k=k)
        except job.NothingPublishedError as exc:
            if not skip_missing:
                raise
            typer.echo(f"skipped: {exc}", err=True)
            raise typer.Exit(SKIPPED_EXIT_CODE) from None
        history = job.metrics_history(spark, cfg, k)
    path = job.metrics_plot(history, job.report_path(cfg), k)
    typer.echo(stats.table())
    typer.echo(f"plot of every run_date at k={k}: {path}")
