"""`shoprec lake …`: serve the lake to Spark clients, list tables, print registration SQL."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from shoprec import catalog, engine, lake, registration, sail
from shoprec_cli.common import reported, settings

app = typer.Typer(help="The Delta lake: serve it, list its tables.", no_args_is_help=True)


@app.command("tables")
def tables() -> None:
    """List every catalog table with its row count, Delta version and location (read from the Delta logs)."""
    cfg = settings()
    rows = [lake.info(t, cfg) for t in catalog.TABLES.values()]
    width = max(len(r.name) for r in rows)
    typer.echo(f"{'table':<{width}}  {'rows':>12}  {'version':>7}  location")
    for r in rows:
        version = "-" if r.version is None else str(r.version)
        typer.echo(f"{r.name:<{width}}  {r.rows:>12,}  {version:>7}  {r.location}")


@app.command("ddl")
def ddl() -> None:
    """Print the SQL that registers every table, for Spark clients without shoprec and without a shared catalog.

    The statements work from a session in any time zone; with SHOPREC_METASTORE_URI set, clients need none.
    """
    typer.echo(registration.registration_sql(settings()))


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to bind (default SHOPREC_LAKE_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default SHOPREC_LAKE_PORT, 50051; 0 = any free).")
    ] = None,
) -> None:
    """Run a Spark Connect server (Sail) over the lake in the foreground until Ctrl-C.

    With SHOPREC_METASTORE_URI set, the server's catalog is that Hive Metastore: every table is
    registered there (once; later starts only fix what changed) and any Spark client finds it by
    name, with no DDL and in any session time zone. Without it, each session has its own in-memory
    catalog and plain clients register the tables themselves (`shoprec lake ddl`).
    """
    cfg = settings()
    with reported(OSError):
        server = sail.start_sail(
            host or cfg.lake_host, cfg.lake_port if port is None else port, cfg.metastore_uri
        )
        url = sail.sail_url(server)
        check = engine.connect(url, cfg, "shoprec-lake-serve")  # registers every table (creates missing ones)
        check.stop()
    typer.echo(f"serving the shoprec lake at {url}")
    typer.echo(f'  shoprec:  SHOPREC_SPARK_REMOTE={url} shoprec sql "SHOW TABLES IN raw"')
    typer.echo(f"  PySpark:  SparkSession.builder.remote('{url}').getOrCreate()")
    if cfg.metastore_uri:
        typer.echo(
            f"  catalog:  Hive Metastore {cfg.metastore_uri}: every session sees every table by name, "
            "no DDL, any time zone"
        )
    else:
        typer.echo(
            "  catalog:  in memory, per session: plain clients run `shoprec lake ddl` once per session "
            "(shared catalog: `shoprec metastore up`, then SHOPREC_METASTORE_URI)"
        )
    typer.echo("press Ctrl-C to stop")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    typer.echo("stopped")
