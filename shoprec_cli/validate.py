"""`shoprec validate`: run tables' Great Expectations suites on one day; blocking failures exit 1."""

from __future__ import annotations

from typing import Annotated

import typer

from shoprec import catalog, engine
from shoprec_cli.common import UserFacingError, echo_progress, parse_date, reported, settings

TablesOption = Annotated[
    list[str],
    typer.Option(
        "--table",
        help="Table to validate, e.g. features.user_daily (see `shoprec lake tables`); repeat for several.",
    ),
]
PartitionOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        help="Partition to validate (YYYY-MM-DD) of the partitioned tables; unpartitioned ones are "
        "validated whole.",
    ),
]


def validate(tables: TablesOption, day: PartitionOption = None) -> None:
    """Validate each table's partition against expectations/<table>.yaml and record the results."""
    from shoprec_quality import validation
    from shoprec_quality.expectation_kwargs import SuiteError

    partition = parse_date(day, "--date") if day is not None else None
    cfg = settings()
    failed: list[str] = []
    with reported(SuiteError):
        declared = [catalog.get(name) for name in dict.fromkeys(tables)]  # unknown names fail first
        with engine.session(cfg, "shoprec-validate") as spark:
            for table in declared:
                table_day = partition if table.partition_by else None
                echo_progress(f"validating {table.name}{f' {table_day}' if table_day else ''} …")
                report = validation.validate(spark, cfg, table.name, table_day)
                for result in report.results:
                    if not result.success:
                        typer.echo(result.describe())
                typer.echo(report.summary())
                if report.blocking_failed:
                    names = "; ".join(r.target for r in report.blocking_failures)
                    failed.append(
                        f"{report.target}: {len(report.blocking_failures)} blocking expectation(s) failed: {names}"
                    )
    if failed:
        raise UserFacingError(f"validation failed for {' | '.join(failed)}")
