"""Shared fixtures: one real embedded Sail server per test session, a fresh lake per test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec import engine, landing, sail
from shoprec.config import Settings
from tests.s3_server import S3Server
from tests.s3_server import running as s3_server_running


@pytest.fixture(scope="session")
def sail_url() -> Iterator[str]:
    """A real Sail Spark Connect server on 127.0.0.1 shared by the whole test session."""
    server = sail.start_sail()
    yield sail.sail_url(server)
    server.stop()


FEATURES_START = date(2026, 1, 1)
FEATURES_AS_OF = date(2026, 1, 8)


def build_features(spark: SparkSession, settings: Settings, days: int, as_of: tuple[date, date]) -> None:
    """Generate a tiny shop (seed 7) from FEATURES_START, ingest, clean, and build features for the as_of range."""
    from jobs import clean, features, ingest
    from shoprec_demo.generator import generate

    generate(settings.landing, settings.demo_truth, scale="tiny", start=FEATURES_START, days=days, seed=7)
    end = FEATURES_START + timedelta(days=days - 1)
    list(ingest.run(spark, settings, FEATURES_START, end))
    clean.run(spark, settings, FEATURES_START, end)
    features.run(spark, settings, *as_of)


@pytest.fixture(scope="session")
def feature_lake(
    sail_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SparkSession, Settings]]:
    """Ten days of a tiny shop with features built for the 7th and 8th day (shared; do not modify)."""
    settings = Settings(home=tmp_path_factory.mktemp("feature_lake") / "home")
    session = engine.connect(sail_url, settings, "shoprec-tests-features")
    build_features(session, settings, days=10, as_of=(FEATURES_AS_OF - timedelta(days=1), FEATURES_AS_OF))
    yield session, settings
    session.stop()


def copy_lake(source: Settings, home: Path) -> Settings:
    """Settings over a private copy of a lake (its Delta logs hold relative paths, so copies work)."""
    shutil.copytree(source.home, home)
    return Settings(home=home)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh SHOPREC_HOME under the test's temporary folder."""
    return Settings(home=tmp_path / "home")


@pytest.fixture
def spark(sail_url: str, settings: Settings) -> Iterator[SparkSession]:
    """A Spark Connect session on the shared server with every table registered in this test's lake."""
    session = engine.connect(sail_url, settings, "shoprec-tests")
    yield session
    session.stop()


def event(
    event_id: str = "e1",
    user_id: object = 1,
    item_id: object = 10,
    event_type: str = "view",
    event_ts: str = "2026-01-01T10:00:00.000Z",
    session_id: str = "s1",
    price: object = 9.99,
) -> dict[str, object]:
    """One well-formed landing event; override fields to break it."""
    return {
        "event_id": event_id,
        "user_id": user_id,
        "item_id": item_id,
        "event_type": event_type,
        "event_ts": event_ts,
        "session_id": session_id,
        "price": price,
    }


def write_landing(
    settings: Settings,
    day: date,
    rows: list[dict[str, object] | str],
    kind: landing.Kind = "events",
    name: str = "part-00000.jsonl",
) -> Path:
    """Write landing lines (dicts as JSON, strings verbatim) for one day and kind."""
    folder = landing.day_dir(settings.landing, kind, day)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List the artifacts tests left in test-artifacts/ (screenshots, measurements)."""
    from tests.artifacts import REPORTED

    if REPORTED:
        terminalreporter.section("test artifacts")
        for path in REPORTED:
            suffix = f": {path.read_text().strip()}" if path.suffix == ".json" else ""
            terminalreporter.write_line(f"{path}{suffix}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A local S3 server for the whole session, its AWS_* variables set in this process while it runs.

    The engines read them from the process environment (Sail when it first reaches a bucket, delta-rs
    and pyarrow on every call), as they would on a machine configured for a cloud lake.
    """
    with (
        s3_server_running(tmp_path_factory.mktemp("s3") / "buckets") as server,
        pytest.MonkeyPatch.context() as env,
    ):
        for key, value in server.environment.items():
            env.setenv(key, value)
        yield server
