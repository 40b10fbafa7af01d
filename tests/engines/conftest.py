"""The engines the tiny pipeline runs on, each building its own lake from the same seed.

Embedded Sail in local mode (the reference), Apache Spark 4 Connect with delta-spark (infra/spark),
Sail in local-cluster mode, and embedded Sail with the lake on an S3 server (infra/objectstore).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shoprec import engine
from shoprec.config import Settings
from tests.conftest import copy_lake
from tests.engines import pipeline
from tests.network import answers, free_port
from tests.s3_server import S3Server

ROOT = Path(__file__).resolve().parents[2]
SERVE = ROOT / "infra" / "spark" / "serve.sh"
SPARK_VENV = Path(os.environ.get("SHOPREC_SPARK_VENV", ROOT / ".venv-spark"))
SERVER_START_SECONDS = 240
# Sail's local-cluster mode sized for 2 cores: two workers (the default is 4) and two partitions per stage
# (a fixed parallelism, since the driver's core count need not be the workers'). Task slots are not cores:
# Sail runs every task of a pipelined "task region" at once and refuses a region larger than the workers'
# slots in all ("task region requires 7 worker task slots, but the configured maximum is 4" with 2 slots
# each), so the workers keep Sail's default of 8 slots.
SAIL_CLUSTER_ENVIRONMENT = {
    "SAIL_MODE": "local-cluster",
    "SAIL_CLUSTER__WORKER_INITIAL_COUNT": "2",
    "SAIL_CLUSTER__WORKER_MAX_COUNT": "2",
    "SAIL_CLUSTER__WORKER_TASK_SLOTS": "8",
    "SAIL_EXECUTION__DEFAULT_PARALLELISM": "2",
}


@dataclass(frozen=True)
class BuiltLake:
    """A lake the whole tiny pipeline ran on, and what its steps reported."""

    settings: Settings
    outcome: pipeline.Outcome


@pytest.fixture(scope="session")
def sail_built(
    feature_lake: tuple[object, Settings], sail_url: str, tmp_path_factory: pytest.TempPathFactory
) -> BuiltLake:
    """The reference: the shared tiny feature lake (embedded Sail, local mode), finished on the same server."""
    settings = copy_lake(feature_lake[1], tmp_path_factory.mktemp("engine-sail") / "home")
    spark = engine.connect(sail_url, settings, "shoprec-engines-sail")
    try:
        return BuiltLake(settings, pipeline.finish(spark, settings))
    finally:
        spark.stop()


@pytest.fixture(scope="module")  # stopped once its module is done, not held to the end
def apache_spark_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An Apache Spark 4 Connect server with delta-spark (`infra/spark/serve.sh`) on 127.0.0.1, stopped after."""
    if not (SPARK_VENV / "bin" / "spark-submit").exists():
        pytest.fail(f"the Apache Spark engine is not installed in {SPARK_VENV}: run `make spark-engine`")
    scratch = tmp_path_factory.mktemp("apache-spark")
    port = free_port()
    env = {
        **os.environ,
        "SPARK_CONNECT_WAREHOUSE": str(scratch / "warehouse"),
        "SPARK_LOCAL_DIRS": str(scratch / "local"),
        "SPARK_CONNECT_CONF": "spark.log.level=WARN",
    }
    log_path = scratch / "server.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["bash", str(SERVE), str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Spark Connect server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(1)
        yield f"sc://127.0.0.1:{port}"
    finally:
        _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's process group (bash exec's the JVM; SIGTERM runs Spark's shutdown hooks)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(scope="module")
def apache_spark_built(apache_spark_url: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    """The tiny pipeline from the landing files on, on Apache Spark + delta-spark."""
    settings = Settings(home=tmp_path_factory.mktemp("engine-apache-spark") / "home")
    return _build(apache_spark_url, settings, "shoprec-engines-apache-spark")


@pytest.fixture(scope="module")
def object_store_built(
    sail_url: str, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> BuiltLake:
    """The tiny pipeline from the landing files on, on embedded Sail, with the lake in a bucket of a local S3 server."""
    lake = s3_server.bucket("engines") / "lake"
    settings = Settings(home=tmp_path_factory.mktemp("engine-object-store") / "home", lake_dir=str(lake))
    return _build(sail_url, settings, "shoprec-engines-object-store")


@pytest.fixture(scope="module")  # stopped once its module is done, not held to the end
def sail_cluster_url() -> Iterator[str]:
    """An embedded Sail server in local-cluster mode (driver and workers exchanging tasks over RPC)."""
    previous = {key: os.environ.get(key) for key in SAIL_CLUSTER_ENVIRONMENT}
    os.environ.update(SAIL_CLUSTER_ENVIRONMENT)  # Sail reads its settings when the server object is created
    try:
        server = engine.start_sail()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield engine.sail_url(server)
    server.stop()


@pytest.fixture(scope="module")
def sail_cluster_built(sail_cluster_url: str, tmp_path_factory: pytest.TempPathFactory) -> BuiltLake:
    """The tiny pipeline from the landing files on, on Sail in local-cluster mode."""
    settings = Settings(home=tmp_path_factory.mktemp("engine-sail-cluster") / "home")
    return _build(sail_cluster_url, settings, "shoprec-engines-sail-cluster")


def _build(url: str, settings: Settings, app_name: str) -> BuiltLake:
    spark = engine.connect(url, settings, app_name)
    try:
        pipeline.build_inputs(spark, settings)
        return BuiltLake(settings, pipeline.finish(spark, settings))
    finally:
        spark.stop()
