"""`shoprec evaluate`: score a run_date's published recommendations and strong baselines on the next days.

The metrics replace the ops.eval_metrics (and ops.candidate_recall) rows of each (run_date,
horizon); the command prints one methods x metrics table per horizon and K and plots every
run_date evaluated to SHOPREC_HOME/reports/eval_metrics.png.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import engine
from shoprec.vocabulary import SKIPPED_EXIT_CODE
from shoprec_cli.common import echo_progress, parse_date, reported, settings

RunDateOption = Annotated[
    str,
    typer.Option(
        "--date", help="The run_date D to evaluate (YYYY-MM-DD); its targets are the events after D."
    ),
]
KOption = Annotated[
    list[int] | None,
    typer.Option(
        "--k", min=1, help="Cut-off K of the top-K metrics; repeat for several (default 10 and 20)."
    ),
]
HorizonOption = Annotated[
    list[int] | None,
    typer.Option(
        "--horizon",
        min=1,
        help="Days after D whose carts and purchases are the targets; repeat for several (default 1 and 7). "
        "A horizon whose days have not landed yet is skipped with a note.",
    ),
]
RepeatOption = Annotated[
    bool,
    typer.Option(
        "--repeat-purchases/--no-repeat-purchases",
        help="Whether the shop recommends items a user bought before (then the buy_again baseline runs and "
        "nothing is excluded); match `shoprec recommend --include-bought`.",
    ),
]
SkipMissingOption = Annotated[
    bool,
    typer.Option(
        "--skip-missing",
        help=f"When D has no published recommendations, say so and exit {SKIPPED_EXIT_CODE} (skipped) "
        "instead of failing.",
    ),
]


def evaluate(
    day: RunDateOption,
    k: KOption = None,
    horizon: HorizonOption = None,
    repeat_purchases: RepeatOption = False,
    skip_missing: SkipMissingOption = False,
) -> None:
    """Score run_date D's recommendations and the baselines on the carts and purchases that followed; record and plot."""
    from jobs import eval_inputs, eval_report
    from jobs import offline_eval as job

    run_date = parse_date(day, "--date")
    ks = tuple(sorted(set(k or job.KS)))
    horizons = tuple(sorted(set(horizon or job.HORIZONS)))
    cfg = settings()
    echo_progress(
        f"evaluating the recommendations of run_date {run_date} at K {list(ks)}, horizons {list(horizons)}"
    )
    with reported(ValueError), engine.session(cfg, "shoprec-evaluate") as spark:
        try:
            stats = job.run(spark, cfg, run_date, ks=ks, horizons=horizons, repeat_purchases=repeat_purchases)
        except eval_inputs.NothingPublishedError as exc:
            if not skip_missing:
                raise
            typer.echo(f"skipped: {exc}", err=True)
            raise typer.Exit(SKIPPED_EXIT_CODE) from None
        shown = min(h for h in horizons if h not in stats.skipped)
        history = eval_report.metrics_history(spark, cfg, max(ks), shown)
    path = eval_report.metrics_plot(history, eval_report.report_path(cfg), max(ks), shown, job.TARGET)
    typer.echo(stats.table())
    typer.echo(f"plot of every run_date at K = {max(ks)}, next {shown} day(s): {path}")
