"""`shoprec validate`: run a table's Great Expectations suite on one partition; blocking failures exit 1."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import catalog
from shoprec import spark as engine
from shoprec.cli.common import UserFacingError, echo_progress, parse_date, reported, settings

TableOption = Annotated[
    str,
    typer.Option("--table", help="Table to validate, e.g. features.user_daily (see `shoprec lake tables`)."),
]
PartitionOption = Annotated[
    str | None,
    typer.Option("--date", help="Partition to validate (YYYY-MM-DD); leave out for unpartitioned tables."),
]


def validate(table: TableOption, day: PartitionOption = None) -> None:
    """Validate one partition of a table against expectations/<table>.yaml and record the results."""
    from shoprec import validation

    partition = parse_date(day, "--date") if day is not None else None
    cfg = settings()
    with reported(validation.ValidationError):
        catalog.get(table)  # an unknown table fails before a Spark session is started
        with engine.session(cfg, "shoprec-validate") as spark:
            echo_progress(f"validating {table}{f' {partition}' if partition else ''} …")
            report = validation.validate(spark, cfg, table, partition)
    for result in report.results:
        if not result.success:
            typer.echo(result.describe())
    typer.echo(report.summary())
    if report.blocking_failed:
        failed = "; ".join(r.target for r in report.blocking_failures)
        raise UserFacingError(
            f"validation failed for {report.target}: {len(report.blocking_failures)} blocking "
            f"expectation(s) failed: {failed}"
        )
