"""The `shoprec` command line: one module per noun, each command a thin call into a job or library.

Every failure exits non-zero with a one-line reason (`error: …`) on stderr, so Airflow task logs
show why a step failed.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated

import typer

from shoprec_cli import (
    airflow,
    backtest,
    demo,
    evaluate,
    examples,
    features,
    ingest,
    lake,
    land,
    metastore,
    models,
    recommend,
    sql,
    validate,
)
from shoprec_cli.common import UserFacingError, set_running

app = typer.Typer(
    name="shoprec",
    help="Batch e-commerce recommendations: ingest, features, training, recommendations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("demo-data")(demo.demo_data)
app.command("land")(land.land)
app.command("ingest")(ingest.ingest)
app.command("clean")(features.clean)
app.command("features")(features.features)
app.command("examples")(examples.examples)
app.command("train")(models.train)
app.command("recommend")(recommend.recommend)
app.command("evaluate")(evaluate.evaluate)
app.command("backtest")(backtest.backtest)
app.command("validate")(validate.validate)
app.command("sql")(sql.sql)
app.add_typer(lake.app, name="lake")
app.add_typer(metastore.app, name="metastore")
app.add_typer(models.app, name="models")
app.add_typer(airflow.app, name="airflow")


@app.callback()
def root(
    context: typer.Context,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="SHOPREC_DEBUG", help="On failure, print the full traceback too."),
    ] = False,
) -> None:
    """Batch e-commerce recommendations: ingest, features, training, recommendations."""
    if debug:
        os.environ["SHOPREC_DEBUG"] = "1"
    set_running(context.invoked_subcommand or "")


def main() -> None:
    """Run the CLI; known failures become `error: <reason>` on stderr and exit code 1.

    With `--debug` or SHOPREC_DEBUG=1 the full traceback (with its causes) is printed first.
    """
    try:
        app()  # usage errors are reported by Typer itself (exit code 2)
    except UserFacingError as exc:
        if os.environ.get("SHOPREC_DEBUG", "") not in ("", "0"):
            traceback.print_exception(exc)
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
