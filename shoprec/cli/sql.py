"""`shoprec sql`: run one Spark SQL query against the lake and print the result."""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import typer

from shoprec import spark as engine
from shoprec.cli.common import reported, settings


def sql(
    query: Annotated[
        str, typer.Argument(help='Spark SQL, e.g. "SELECT event_type, count(*) FROM raw.events GROUP BY 1".')
    ],
    output: Annotated[
        Literal["table", "csv", "json"],
        typer.Option("--format", help="table (aligned text), csv, or json (one object per line)."),
    ] = "table",
    limit: Annotated[int, typer.Option(min=1, help="Print at most this many rows.")] = 1000,
) -> None:
    """Run a query on the embedded engine (or SHOPREC_SPARK_REMOTE) with every table registered."""
    cfg = settings()
    with reported(), engine.session(cfg, "shoprec-sql") as spark:
        frame = spark.sql(query).limit(limit).toPandas()
    if output == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif output == "json":
        if len(frame):
            typer.echo(frame.to_json(orient="records", lines=True, date_format="iso").rstrip("\n"))
    else:
        typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
