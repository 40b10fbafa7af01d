"""The embedded Sail server: started in a thread of this process, with a Hive Metastore as its catalog if set.

Sail reads its configuration from the environment when a server object is created, so the catalog
settings (`SAIL_CATALOG__LIST`) are set around that moment only, under a lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shoprec.engine_errors import EngineError

if TYPE_CHECKING:
    from pysail.spark import SparkConnectServer


_SAIL_ENVIRONMENT = threading.Lock()


# shoprec's defaults for the embedded server; the same variables set explicitly still win.
# - Sail drops a session idle for 15 minutes ("session … is not running"); a job's long local phase
#   (the evaluation's baselines over a large history in pandas) can outlast that, and an embedded
#   server's sessions end with the process anyway.
# - Batches of 32,768 rows instead of Sail's 8,192: `shoprec recommend` at medium took 102-108 s
#   instead of 107-112 s (two runs each, alternating, same peak memory within 0.5 GB).
SERVER_DEFAULTS = {
    "SAIL_SPARK__SESSION_TIMEOUT_SECS": str(7 * 24 * 3600),
    "SAIL_EXECUTION__BATCH_SIZE": "32768",
}


def start_sail(
    host: str = "127.0.0.1", port: int = 0, metastore_uri: str | None = None
) -> SparkConnectServer:
    """Start a Sail Spark Connect server in a background thread of this process.

    Args:
        host: Interface to bind; 127.0.0.1 unless the caller decides otherwise.
        port: TCP port; 0 picks a free one.
        metastore_uri: A Hive Metastore (`thrift://host:port`, several separated by commas) to use
            as the server's catalog; None keeps Sail's in-memory catalog (one per session).

    Returns:
        The running server; `server.listening_address` holds the bound (host, port).
    """
    from pysail.spark import SparkConnectServer

    if metastore_uri:
        from shoprec.hive_metastore import answers

        if not answers(metastore_uri):
            raise EngineError(
                f"the Hive Metastore at {metastore_uri} (SHOPREC_METASTORE_URI) does not answer: "
                "start the local one with `shoprec metastore up`, or unset SHOPREC_METASTORE_URI"
            )
    # Sail reads its configuration from the environment when the server object is created.
    defaults = {key: os.environ.get(key, value) for key, value in SERVER_DEFAULTS.items()}
    with _SAIL_ENVIRONMENT, _environment({**defaults, **sail_catalog_environment(metastore_uri)}):
        server = SparkConnectServer(host, port)
    try:
        server.start(background=True)
    except Exception as exc:  # pysail raises plain exceptions for bind errors
        raise EngineError(f"could not start the embedded Sail server on {host}:{port}: {exc}") from exc
    return server


def sail_catalog_environment(metastore_uri: str | None) -> dict[str, str]:
    """The Sail settings that make a Hive Metastore its only catalog (none for the in-memory default)."""
    if not metastore_uri:
        return {}
    uris = ", ".join(f'"{uri.strip()}"' for uri in metastore_uri.split(","))
    return {"SAIL_CATALOG__LIST": f'[{{name="sail", type="hive_metastore", uris=[{uris}]}}]'}


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (callers hold `_SAIL_ENVIRONMENT`)."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def sail_url(server: SparkConnectServer) -> str:
    """The `sc://host:port` URL clients use to reach a started server."""
    host, port = server.listening_address
    return f"sc://{host}:{port}"
