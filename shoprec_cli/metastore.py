"""`shoprec metastore up|down|status|install`: the local Hive Metastore that holds the lake's shared catalog."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from shoprec_cli.common import UserFacingError, echo_progress, settings

if TYPE_CHECKING:
    from shoprec.hive_metastore import LocalMetastore

app = typer.Typer(
    help="The local Hive Metastore (Thrift on 127.0.0.1): the lake's table catalog, shared by every "
    "Spark session and engine.",
    no_args_is_help=True,
)


def _metastore() -> LocalMetastore:
    from shoprec.hive_metastore import LocalMetastore

    return LocalMetastore(settings())


@app.command("up")
def up() -> None:
    """Start the local Hive Metastore (installing its jars on first use) and wait until it answers."""
    from shoprec.hive_metastore import MetastoreError

    metastore = _metastore()
    try:
        started = metastore.start(progress=echo_progress)
    except MetastoreError as exc:
        raise UserFacingError(str(exc)) from exc
    typer.echo(f"Hive Metastore {'started' if started else 'already running'} at {metastore.uri}")
    if metastore.settings.metastore_uri != metastore.uri:
        typer.echo(
            f"  use it: export SHOPREC_METASTORE_URI={metastore.uri}  (or metastore_uri in shoprec.toml), "
            "then `shoprec lake serve`"
        )


@app.command("down")
def down() -> None:
    """Stop the metastore `shoprec metastore up` started (no other process is touched)."""
    stopped = _metastore().stop()
    typer.echo("stopped: hive-metastore" if stopped else "nothing was running")


@app.command("status")
def status() -> None:
    """Whether the local metastore runs, its memory, and whether it answers Thrift calls."""
    typer.echo(_metastore().status().describe())


@app.command("install")
def install() -> None:
    """Fetch the metastore's jars from Maven Central into SHOPREC_METASTORE_JARS (cached; `make install` does it)."""
    from shoprec.hive_metastore import MetastoreError

    metastore = _metastore()
    try:
        metastore.install(progress=echo_progress)
    except MetastoreError as exc:
        raise UserFacingError(str(exc)) from exc
    typer.echo(f"Hive Metastore jars in {metastore.lib}")
