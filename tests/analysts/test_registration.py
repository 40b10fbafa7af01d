"""Registering the lake's tables works from a session in any time zone, in-memory and in the metastore.

In a shared catalog a table is registered once: later sessions leave it alone unless its
declaration changed, and a catalog serving another lake is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from shoprec import catalog, engine_errors, registration, sail
from shoprec.catalog import Column, Table
from shoprec.config import Settings
from shoprec.hive_metastore import LocalMetastore
from tests.analysts.conftest import ZONES
from tests.network import free_port

FIRST_EVENTS = "SELECT event_id, unix_micros(event_ts) AS micros FROM raw.events ORDER BY event_id LIMIT 5"


def _session(url: str, zone: str) -> SparkSession:
    return SparkSession.builder.remote(url).config("spark.sql.session.timeZone", zone).create()


@pytest.mark.parametrize("zone", ZONES)
def test_register_tables_from_a_session_in_any_zone(
    sail_url: str, feature_lake: tuple[SparkSession, Settings], zone: str
) -> None:
    utc_session, settings = feature_lake
    spark = _session(sail_url, zone)
    try:
        registration.register_tables(spark, settings)
        assert spark.conf.get("spark.sql.session.timeZone") == zone  # the session's own zone is back
        assert spark.sql(FIRST_EVENTS).collect() == utc_session.sql(FIRST_EVENTS).collect()
        assert {row.tableName for row in spark.sql("SHOW TABLES IN features").collect()} >= {
            "user_daily",
            "item_daily",
        }
    finally:
        spark.stop()


@pytest.mark.parametrize("zone", ZONES)
def test_the_printed_ddl_registers_from_a_session_in_any_zone(
    sail_url: str, feature_lake: tuple[SparkSession, Settings], zone: str
) -> None:
    utc_session, settings = feature_lake
    spark = _session(sail_url, zone)
    try:
        for statement in registration.registration_sql(settings).split(";\n"):
            if statement.strip():
                spark.sql(statement)
        assert spark.sql(FIRST_EVENTS).collect() == utc_session.sql(FIRST_EVENTS).collect()
        assert {
            f"{r.database}.{r.tableName}"
            for s in catalog.schemas()
            for r in spark.sql(f"SHOW TABLES IN {s}").collect()
        } >= set(catalog.TABLES)
    finally:
        spark.stop()


class Recorder:
    """A session that records the SQL it runs (to see what registration does)."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark
        self.conf = spark.conf
        self.statements: list[str] = []

    def sql(self, statement: str) -> Any:
        self.statements.append(statement)
        return self._spark.sql(statement)


def _scratch_table(comment: str = "A value.") -> Table:
    return Table(
        "scratch.moments",
        "Instants for the registration tests.",
        (
            Column("moment_id", "BIGINT", "Row id."),
            Column("at", "TIMESTAMP", "When (UTC)."),
            Column("value", "DOUBLE", comment),
        ),
    )


@pytest.fixture
def shared_catalog(metastore: LocalMetastore, tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """A Sail server whose catalog is the metastore, and settings for a fresh lake registered there."""
    settings = Settings(home=tmp_path / "home", metastore_uri=metastore.uri)
    server = sail.start_sail(metastore_uri=metastore.uri)
    yield sail.sail_url(server), settings
    cleanup = _session(sail.sail_url(server), "UTC")
    cleanup.sql("DROP TABLE IF EXISTS scratch.moments")
    cleanup.stop()
    server.stop()


def test_a_shared_catalog_registers_once_and_fixes_what_changed(shared_catalog: tuple[str, Settings]) -> None:
    url, settings = shared_catalog
    first = _session(url, "Asia/Shanghai")
    registration.register_tables(first, settings, [_scratch_table()])
    first.sql("INSERT INTO scratch.moments VALUES (1, TIMESTAMP'2026-01-01 08:00:00', 1.5)")  # Shanghai 08:00
    first.stop()

    later = _session(url, "America/Los_Angeles")
    recorder = Recorder(later)
    registration.register_tables(recorder, settings, [_scratch_table()])  # type: ignore[arg-type]
    assert not [s for s in recorder.statements if s.startswith(("CREATE TABLE", "DROP"))]
    row = later.sql("SELECT unix_micros(at) AS micros, value FROM scratch.moments").collect()[0]
    assert row.micros == 1767225600 * 1_000_000
    assert row.value == 1.5  # 2026-01-01T00:00:00Z

    recorder.statements.clear()
    registration.register_tables(recorder, settings, [_scratch_table("A value, renamed.")])  # type: ignore[arg-type]
    assert [s.split(" (")[0] for s in recorder.statements if s.startswith(("CREATE TABLE", "DROP"))] == [
        "DROP TABLE IF EXISTS scratch.moments",
        "CREATE TABLE IF NOT EXISTS scratch.moments",
    ]
    comments = {r.col_name: r.comment for r in later.sql("DESCRIBE TABLE scratch.moments").collect()}
    assert comments["value"] == "A value, renamed."
    assert later.sql("SELECT count(*) AS n FROM scratch.moments").collect()[0].n == 1  # the data stayed
    later.stop()


def test_a_shared_catalog_serving_another_lake_is_refused(
    shared_catalog: tuple[str, Settings], tmp_path: Path
) -> None:
    url, settings = shared_catalog
    spark = _session(url, "UTC")
    try:
        registration.register_tables(spark, settings, [_scratch_table()])
        other = Settings(home=tmp_path / "other", metastore_uri=settings.metastore_uri)
        with pytest.raises(
            engine_errors.EngineError, match=re.escape("one catalog (Hive Metastore) serves one lake")
        ):
            registration.register_tables(spark, other, [_scratch_table()])
    finally:
        spark.stop()


def test_a_metastore_that_does_not_answer_is_named() -> None:
    with pytest.raises(
        engine_errors.EngineError,
        match=re.escape("does not answer: start the local one with `shoprec metastore up`"),
    ):
        sail.start_sail(metastore_uri=f"thrift://127.0.0.1:{free_port()}")


def test_sessions_registering_at_once_do_not_fail_each_other(shared_catalog: tuple[str, Settings]) -> None:
    url, settings = shared_catalog
    schema = f"race_{uuid.uuid4().hex[:8]}"
    tables = [
        Table(
            f"{schema}.t{i}", f"Table {i}.", (Column("at", "TIMESTAMP", "When."), Column("n", "BIGINT", "N."))
        )
        for i in range(4)
    ]
    sessions = [_session(url, zone) for zone in ZONES]
    try:
        with ThreadPoolExecutor(len(sessions)) as pool:
            list(pool.map(lambda spark: registration.register_tables(spark, settings, tables), sessions))
        assert {r.tableName for r in sessions[0].sql(f"SHOW TABLES IN {schema}").collect()} == {
            "t0",
            "t1",
            "t2",
            "t3",
        }
    finally:
        for table in tables:
            sessions[0].sql(f"DROP TABLE IF EXISTS {table.name}")
        sessions[0].sql(f"DROP SCHEMA IF EXISTS {schema}")
        for spark in sessions:
            spark.stop()
