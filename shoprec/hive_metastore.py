"""The local Hive Metastore: the lake's shared table catalog on one machine, one command away.

Sail 0.7 keeps its default catalog in memory, per session. Pointed at a Hive Metastore
(`SHOPREC_METASTORE_URI`), every Sail server shoprec starts, every session on it, and Apache Spark
(`spark.hadoop.hive.metastore.uris`) see the tables shoprec registered once, by name.

This module runs a standalone Apache Hive Metastore 4.0.0 (jars from Maven Central, fetched by
`infra/catalog/install.sh` into `metastore_jars`) as a background JVM under `<home>/metastore/`:

- `conf/metastore-site.xml` and `conf/log4j2.properties`, regenerated on every start;
- `derby/`: the catalog database, an embedded Apache Derby (inside the JVM: no network listener,
  no user, no password to default);
- `logs/metastore.log`, and `run/metastore.pid` with the PID and its start time, so `stop` only
  ever signals the process `start` launched.

Thrift listens on `metastore_host` (127.0.0.1) only and has no authentication, like the Sail server
beside it: anyone who can reach it can change the catalog (never the data: every table is external).
`infra/catalog/` deploys the same metastore on Kubernetes.
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import psutil

from shoprec import processes
from shoprec.config import Settings

INSTALL_SCRIPT = Path(__file__).resolve().parents[1] / "infra" / "catalog" / "install.sh"
MAIN_CLASS = "org.apache.hadoop.hive.metastore.HiveMetaStore"
JVM_HEAP = "-Xmx384m"


class MetastoreError(RuntimeError):
    """The local Hive Metastore could not be installed, started, reached or stopped."""


@dataclass(frozen=True)
class MetastoreStatus:
    """Whether the recorded metastore process runs, its memory, and whether it answers Thrift calls."""

    uri: str
    pid: int | None
    running: bool
    answering: bool
    rss_bytes: int

    def describe(self) -> str:
        """One status line."""
        if not self.running:
            return f"hive-metastore stopped ({self.uri})"
        state = "answering" if self.answering else "not answering yet"
        return (
            f"hive-metastore running  pid {self.pid}  {self.rss_bytes / 2**20:,.0f} MiB  {self.uri} ({state})"
        )


class LocalMetastore:
    """The local Hive Metastore of one shoprec home."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.metastore_home
        self.conf_dir = self.home / "conf"
        self.derby_dir = self.home / "derby"
        self.log_file = self.home / "logs" / "metastore.log"
        self.pid_file = self.home / "run" / "metastore.pid"
        self.lib = settings.metastore_lib / "lib"

    @property
    def host(self) -> str:
        """Interface the Thrift server binds to."""
        return self.settings.metastore_host

    @property
    def port(self) -> int:
        """Thrift port."""
        return self.settings.metastore_port

    @property
    def uri(self) -> str:
        """The Thrift URI clients use (`SHOPREC_METASTORE_URI`, Sail's `uris`, Spark's `hive.metastore.uris`)."""
        return f"thrift://{self.host}:{self.port}"

    def installed(self) -> bool:
        """Whether the jars are in place (install.sh finished)."""
        return self.lib.is_dir() and any(self.settings.metastore_lib.glob(".installed-*"))

    def install(self, *, progress: Callable[[str], None] = print) -> None:
        """Fetch the jars from Maven Central unless they are cached (infra/catalog/install.sh)."""
        if self.installed():
            return
        progress(f"installing the Hive Metastore jars into {self.settings.metastore_lib} …")
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT), str(self.settings.metastore_lib)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not self.installed():
            tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
            raise MetastoreError(
                f"{INSTALL_SCRIPT} failed with exit code {done.returncode}: {' | '.join(tail)}"
            )

    def start(self, *, wait_seconds: float = 180, progress: Callable[[str], None] = print) -> bool:
        """Install if needed, configure and launch the metastore unless it runs; wait until it answers.

        Returns:
            True when this call launched it, False when it was already running.
        """
        if processes.recorded(self.pid_file) is not None:
            self._wait_answering(wait_seconds)
            return False
        if _answers(self.host, self.port):
            raise MetastoreError(
                f"something else already answers on {self.host}:{self.port}; "
                "set SHOPREC_METASTORE_PORT to a free port (or point SHOPREC_METASTORE_URI at that metastore)"
            )
        java = _java()
        self.install(progress=progress)
        self.configure()
        progress(f"starting the Hive Metastore on {self.uri} (home {self.home}) …")
        processes.launch(
            [
                java,
                JVM_HEAP,
                f"-Dlog4j2.configurationFile={self.conf_dir / 'log4j2.properties'}",
                f"-Dderby.system.home={self.derby_dir}",
                "-cp",
                f"{self.conf_dir}{os.pathsep}{self.lib / '*'}",
                MAIN_CLASS,
            ],
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=self.home,
        )
        self._wait_answering(wait_seconds)
        return True

    def stop(self, *, grace_seconds: float = 30) -> bool:
        """Stop the metastore `start` launched (only the recorded PID); returns whether one was running."""
        return bool(processes.stop([self.pid_file], grace_seconds=grace_seconds))

    def status(self) -> MetastoreStatus:
        """The recorded process's state and memory, and whether the Thrift port answers."""
        process = processes.recorded(self.pid_file)
        if process is None:
            return MetastoreStatus(self.uri, None, False, False, 0)
        try:
            rss = process.memory_info().rss
        except psutil.Error:
            rss = 0
        return MetastoreStatus(self.uri, process.pid, True, _answers(self.host, self.port), rss)

    def configure(self) -> None:
        """Write metastore-site.xml and log4j2.properties (every start; settings may have changed)."""
        for folder in (self.conf_dir, self.derby_dir, self.log_file.parent, self.pid_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        properties = {
            "metastore.thrift.bind.host": self.host,
            "metastore.thrift.port": str(self.port),
            "javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={self.derby_dir / 'metastore_db'};create=true",
            "javax.jdo.option.ConnectionDriverName": "org.apache.derby.jdbc.EmbeddedDriver",
            # The schema is created on first use (the SQL scripts of `schematool` are not in the jars).
            "datanucleus.schema.autoCreateAll": "true",
            "metastore.schema.verification": "false",
            # Managed tables would go here; shoprec registers external tables at their lake locations only.
            "metastore.warehouse.dir": (self.home / "warehouse").as_uri(),
            # The default transformer rewrites table metadata for Hive clients' capabilities (and loads
            # HDFS classes to do so); Sail and Spark read the metadata as written.
            "metastore.metadata.transformer.class": " ",
        }
        site = "\n".join(
            f"  <property><name>{escape(key)}</name><value>{escape(value)}</value></property>"
            for key, value in properties.items()
        )
        _write(
            self.conf_dir / "metastore-site.xml",
            '<?xml version="1.0"?>\n<!-- Generated by shoprec on every start of the local metastore. -->\n'
            f"<configuration>\n{site}\n</configuration>\n",
        )
        _write(self.conf_dir / "log4j2.properties", _LOG4J2)

    def _wait_answering(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if _answers(self.host, self.port):
                return
            if processes.recorded(self.pid_file) is None:
                raise MetastoreError(f"the Hive Metastore exited while starting; see {self.log_file}")
            time.sleep(1)
        raise MetastoreError(
            f"the Hive Metastore did not answer on {self.uri} within {wait_seconds:.0f} s; see {self.log_file}"
        )


_LOG4J2 = """\
# Generated by shoprec: warnings of every component, and the metastore's start and stop.
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{ISO8601} %-5p [%t] %c{2}: %m%n
rootLogger.level = warn
rootLogger.appenderRef.console.ref = console
logger.metastore.name = org.apache.hadoop.hive.metastore.HiveMetaStore
logger.metastore.level = info
logger.audit.name = org.apache.hadoop.hive.metastore.HiveMetaStore.audit
logger.audit.level = warn
"""


def answers(uri: str, timeout: float = 5.0) -> bool:
    """Whether a Hive Metastore answers at `uri` (`thrift://host:port`; of several, any one)."""
    for endpoint in uri.split(","):
        host, _, port = endpoint.strip().removeprefix("thrift://").rpartition(":")
        if host and port.isdigit() and _answers(host, int(port), timeout):
            return True
    return False


def _answers(host: str, port: int, timeout: float = 5.0) -> bool:
    """Whether a Hive Metastore answers a Thrift `get_all_databases` call (binary protocol, buffered)."""
    name = b"get_all_databases"
    call = struct.pack("!Ii", 0x80010001, len(name)) + name + struct.pack("!i", 1) + b"\x00"
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.sendall(call)
            head = connection.recv(8)
            # Say goodbye cleanly (end of input, then drain) so the server does not log a reset connection.
            connection.shutdown(socket.SHUT_WR)
            while connection.recv(65536):
                pass
    except OSError:
        return False
    if len(head) < 4:
        return False
    (version,) = struct.unpack("!I", head[:4])
    return version & 0xFFFF00FF == 0x80010002  # a REPLY of binary protocol version 1


def _java() -> str:
    """The `java` to run (JAVA_HOME's, else PATH's); Java 17 or newer."""
    java_home = os.environ.get("JAVA_HOME")
    candidate = Path(java_home) / "bin" / "java" if java_home else None
    java = str(candidate) if candidate and candidate.exists() else shutil.which("java")
    if java is None:
        raise MetastoreError(
            "no java found (JAVA_HOME or PATH): the Hive Metastore needs Java 17 "
            "(infra/catalog/install.sh installs it on Debian)"
        )
    return java


def _write(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)
