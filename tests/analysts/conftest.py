"""The analysts' stack, started as a data engineer would, and an analyst's plain client to run against it.

A local Hive Metastore, jobs that register the tables there once, and `shoprec lake serve` over
the lake; analysts' clients are separate processes without shoprec.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from shoprec import engine, sail
from shoprec.config import Settings
from shoprec.hive_metastore import LocalMetastore
from tests.conftest import FEATURES_AS_OF, build_features
from tests.docs.test_analyst_queries import documented_queries
from tests.network import free_port

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
PLAIN_CLIENT = Path(__file__).with_name("plain_client.py")
ZONES = ("UTC", "Asia/Shanghai", "America/Los_Angeles")
FIRST_FEATURE_DAY = FEATURES_AS_OF - timedelta(days=6)
LATER_FEATURE_DAY = FEATURES_AS_OF + timedelta(days=1)


@pytest.fixture(scope="session")
def metastore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMetastore]:
    """The local Hive Metastore, started by the project's own code (jars from infra/catalog/install.sh)."""
    home = tmp_path_factory.mktemp("metastore") / "home"
    service = LocalMetastore(Settings(home=home, metastore_port=free_port()))
    service.start(progress=lambda line: None)
    yield service
    service.stop()


@dataclass(frozen=True)
class ServedLake:
    """A lake whose tables live in the metastore, served by `shoprec lake serve` at `url`."""

    url: str
    settings: Settings
    env: dict[str, str]


@pytest.fixture(scope="session")
def served_lake(metastore: LocalMetastore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedLake]:
    """A tiny shop built by the jobs on a Sail server whose catalog is the metastore, then served.

    Features are built for FIRST_FEATURE_DAY..FEATURES_AS_OF in one commit and LATER_FEATURE_DAY in
    another, so `features.user_daily` has an earlier version to read.
    """
    from jobs import features

    settings = Settings(home=tmp_path_factory.mktemp("served_lake") / "home", metastore_uri=metastore.uri)
    server = sail.start_sail(metastore_uri=settings.metastore_uri)
    try:
        spark = engine.connect(sail.sail_url(server), settings, "shoprec-tests-analysts")
        build_features(spark, settings, days=10, as_of=(FIRST_FEATURE_DAY, FEATURES_AS_OF))
        features.run(spark, settings, LATER_FEATURE_DAY)
        spark.stop()
    finally:
        server.stop()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_") and k != "SPARK_REMOTE"}
    env = {**clean, "SHOPREC_HOME": str(settings.home), "SHOPREC_METASTORE_URI": metastore.uri}
    serve = subprocess.Popen(
        [SHOPREC, "lake", "serve", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = serve.stdout.readline()
        match = re.match(r"serving the shoprec lake at (sc://127\.0\.0\.1:\d+)", first)
        assert match, first + serve.stderr.read()
        yield ServedLake(match.group(1), settings, env)
    finally:
        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=60) == 0


def analyst_queries(as_of: date = FEATURES_AS_OF) -> dict[str, str]:
    """Every query of docs/analyst_queries.sql with its `:as_of` filled in."""
    return {
        name: sql.replace(":as_of", f"DATE'{as_of.isoformat()}'")
        for name, sql in documented_queries().items()
    }


def run_plain_client(url: str, zone: str | None, *, as_of_version: int = 1) -> dict[str, Any]:
    """Run tests/analysts/plain_client.py in a process living in `zone` (TZ), its session in `zone` too.

    With `zone=None` the process keeps this machine's zone and the session the server's default,
    what a client that sets nothing gets.
    """
    plan = {
        "url": url,
        "session_time_zone": zone,
        "queries": analyst_queries(),
        "as_of_version": as_of_version,
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_") and k != "SPARK_REMOTE"}
    if zone is not None:
        env["TZ"] = zone
    done = subprocess.run(
        [sys.executable, str(PLAIN_CLIENT)],
        input=json.dumps(plan),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)
