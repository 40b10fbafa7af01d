"""`shoprec sql`: run one Spark SQL query against the lake and print the result."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from shoprec import engine
from shoprec_cli.common import echo_progress, reported, settings


def sql(
    query: Annotated[
        str, typer.Argument(help='Spark SQL, e.g. "SELECT event_type, count(*) FROM raw.events GROUP BY 1".')
    ],
    output: Annotated[
        Literal["table", "csv", "json"],
        typer.Option("--format", help="table (aligned text), csv, or json (one object per line)."),
    ] = "table",
    limit: Annotated[
        int,
        typer.Option(
            min=0, help="Print at most this many rows (0: no limit); a cut result says so on stderr."
        ),
    ] = 1000,
) -> None:
    """Run a query on the embedded engine (or SHOPREC_SPARK_REMOTE) with every table registered."""
    cfg = settings()
    with reported(), engine.session(cfg, "shoprec-sql") as spark:
        result = spark.sql(query)
        frame = (result.limit(limit + 1) if limit else result).toPandas()
    if limit and len(frame) > limit:
        frame = frame.head(limit)
        echo_progress(
            f"note: result cut at {limit:,} rows; use --limit 0 for all of them (or a larger --limit)"
        )
    if output == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output == "json":
        if len(frame):
            typer.echo(frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n"))
    else:
        typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
