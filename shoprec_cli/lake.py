"""`shoprec lake …`: serve the lake to Spark clients, list, check, show the history of and restore tables."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from shoprec import catalog, engine, lake, lake_check, lake_history, registration, sail, write_guard
from shoprec_cli.common import UserFacingError, reported, settings

app = typer.Typer(
    help="The Delta lake: serve it, list, check, show the history of and restore its tables.",
    no_args_is_help=True,
)


@app.command("tables")
def tables() -> None:
    """List every catalog table with its row count, Delta version and location (read from the Delta logs)."""
    cfg = settings()
    with reported(OSError):
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


@app.command("check")
def check() -> None:
    """Check every table: its Delta log readable, every referenced data file present and holding its rows.

    Prints one line per table; exits 1 naming each damaged table and version. Data files no commit
    references (left by a write killed before its commit) are counted, not errors.
    """
    with reported(OSError):
        results = lake_check.check(settings())
    width = max(len(r.name) for r in results)
    for r in results:
        version = "-" if r.version is None else str(r.version)
        state = "damaged" if r.problems else ("not created" if r.version is None else "ok")
        extra = f"  ({r.unreferenced} unreferenced data files)" if r.unreferenced else ""
        typer.echo(f"{r.name:<{width}}  {version:>7}  {r.rows:>12,} rows  {r.files:>5} files  {state}{extra}")
    problems = [f"{r.name}: {p}" for r in results for p in r.problems]
    if problems:
        for line in problems:
            typer.echo(f"  {line}", err=True)
        raise UserFacingError(
            f"{len(problems)} problem(s) in {len({p.split(':')[0] for p in problems})} table(s): {problems[0]}"
        )


TableArgument = Annotated[str, typer.Argument(help="The table, schema.table (e.g. reco.latest).")]


@app.command("history")
def history(
    table: TableArgument,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest versions to show.")] = 20,
) -> None:
    """A table's versions, newest first: time (UTC), operation, rows added and removed, details."""
    cfg = settings()
    with reported(OSError):
        versions = lake_history.history(catalog.get(table), cfg, limit)
    typer.echo(
        f"{'version':>7}  {'time (UTC)':<19}  {'operation':<10}  {'added':>10}  {'removed':>10}  details"
    )
    for v in versions:
        added, removed = _count(v.rows_added), _count(v.rows_removed)
        typer.echo(
            f"{v.version:>7}  {v.timestamp:%Y-%m-%d %H:%M:%S}  {v.operation:<10}  {added:>10}  {removed:>10}  {v.details}"
        )


@app.command("restore")
def restore(
    table: TableArgument,
    version: Annotated[int | None, typer.Option(help="The version to make current again.")] = None,
    timestamp: Annotated[
        str | None,
        typer.Option(
            help="Restore the version current at this instant (2026-01-09T03:00, UTC unless a zone is given)."
        ),
    ] = None,
) -> None:
    """Make an earlier version of a table current again, in a new RESTORE commit (undo it the same way).

    Waits for, or names, another process writing the table (the write guard), like every write.
    """
    if (version is None) == (timestamp is None):
        raise typer.BadParameter("give either --version or --timestamp", param_hint="--version/--timestamp")
    cfg = settings()
    with reported(OSError, ValueError):
        chosen = catalog.get(table)
        if version is None:
            version = lake_history.version_at(chosen, cfg, lake_history.parse_timestamp(timestamp or ""))
        done = lake_history.restore(chosen, cfg, version, write_guard.command_line())
    typer.echo(
        f"{table}: version {version} restored as version {done.version} "
        f"({_count(done.rows_added)} rows added, {_count(done.rows_removed)} removed)"
    )


def _count(rows: int | None) -> str:
    return "?" if rows is None else f"{rows:,}"
