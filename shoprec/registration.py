"""Registering the catalog's tables in a session's catalog (in-memory Sail, or a Hive Metastore), zone-proof.

Sail's default catalog is in memory and per session, so every session registers every table
(`CREATE SCHEMA/TABLE IF NOT EXISTS … USING delta LOCATION …`); with a Hive Metastore, tables are
registered once and a session only registers what is missing or changed. Re-registering an existing
Delta table requires the declared schema to equal the stored one exactly, and a declared TIMESTAMP
takes the session time zone, so registration runs in UTC; `registration_sql` (for clients without
shoprec) registers tables holding timestamps without a column list.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from shoprec import catalog, storage
from shoprec.catalog import Table, sql_string
from shoprec.config import Settings
from shoprec.engine_errors import EngineError

if TYPE_CHECKING:
    from pyspark.sql import Row, SparkSession


def register_tables(spark: SparkSession, settings: Settings, tables: Sequence[Table] | None = None) -> None:
    """Register every schema and table in the session's catalog; a no-op for what is registered as declared.

    A missing table is created (an empty Delta table where its location holds no Delta log yet); a
    table registered with other columns, comments or description (the catalog changed) is dropped
    from the catalog and registered again (its data stays: every table is external); a table
    registered at another location means the catalog serves another lake, and fails. Runs in UTC
    whatever the session's time zone (see the module notes), then restores it.

    Raises:
        EngineError: A table is registered at another location than this lake's.
    """
    tables = list(tables or catalog.TABLES.values())
    with _utc(spark):
        for schema in catalog.schemas(tables):
            _create(spark, f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table in tables:
            registered = _registration(spark, table)
            if registered is not None:
                if _as_declared(registered, table, settings):
                    continue
                spark.sql(f"DROP TABLE IF EXISTS {table.name}")
            _create(spark, table.ddl(settings.lake, not_null=False))


def _create(spark: SparkSession, statement: str) -> None:
    """Run a CREATE … IF NOT EXISTS; another session creating the same object at once is no failure.

    Two sessions that both find a schema or table missing both create it; in a Hive Metastore
    the second fails ("already exists", or Derby's duplicate key).
    """
    from pyspark.errors import PySparkException

    try:
        spark.sql(statement)
    except PySparkException as exc:
        message = str(exc).lower()
        if "already exists" not in message and "duplicate key" not in message:
            raise


def _registration(spark: SparkSession, table: Table) -> list[Row] | None:
    """`DESCRIBE TABLE EXTENDED` of the table as registered, or None when the catalog lacks it.

    One call per table (a Hive Metastore answers it in milliseconds; `SHOW TABLES` and
    `catalog.tableExists` take a few hundred).
    """
    from pyspark.errors import AnalysisException

    try:
        with _quiet_query_errors():
            return spark.sql(f"DESCRIBE TABLE EXTENDED {table.name}").collect()
    except AnalysisException as exc:
        if "TABLE_OR_VIEW_NOT_FOUND" in str(exc).splitlines()[0]:
            return None
        raise


@contextmanager
def _quiet_query_errors() -> Iterator[None]:
    """Keep pyspark-client from logging an expected, handled engine error as a JSON line on stderr.

    The client logs every error that carries a query context when it builds the exception; Apache
    Spark servers send one (Sail does not), so a missing table found while registering would print
    a long stack trace before shoprec handles it.
    """
    from pyspark.logger import PySparkLogger

    # through PySparkLogger: a plain logging.Logger created under these names would break the client's calls
    names = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
    loggers = [PySparkLogger.getLogger(name) for name in names]
    previous = [logger.disabled for logger in loggers]
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        for logger, disabled in zip(loggers, previous, strict=True):
            logger.disabled = disabled


def _as_declared(registration: list[Row], table: Table, settings: Settings) -> bool:
    """Whether a registration (DESCRIBE rows) has the declared columns, comments and description.

    Raises:
        EngineError: The catalog holds the table at another location (it serves another lake).
    """
    columns: list[tuple[str, str, str | None]] = []
    details: dict[str, str] = {}
    in_columns = True
    for row in registration:
        if not row.col_name or row.col_name.startswith("#"):
            in_columns = False
        elif in_columns:
            columns.append((row.col_name, row.data_type.lower(), row.comment))
        else:
            details[row.col_name] = row.data_type
    location = _plain_path(details.get("Location", ""))
    expected = str(table.location(settings.lake))
    if location and location != expected:
        raise EngineError(
            f"{table.name}: the catalog holds it at {location}, this lake's copy is at {expected}; "
            "one catalog (Hive Metastore) serves one lake: point SHOPREC_METASTORE_URI at this lake's, "
            f"or drop the other registration (DROP TABLE {table.name}; its data stays)"
        )
    declared = [(c.name, c.type.lower(), c.comment) for c in table.columns]
    return columns == declared and details.get("Comment") == table.description


def _plain_path(location: str) -> str:
    """A catalog location as a plain path (`file:/x/`, `file:///x` -> `/x`)."""
    for prefix in ("file://", "file:"):
        if location.startswith(prefix):
            location = location[len(prefix) :]
            break
    return location.rstrip("/") or location


@contextmanager
def _utc(spark: SparkSession) -> Iterator[None]:
    """Run the block with the session time zone set to UTC, then restore the session's own."""
    key = "spark.sql.session.timeZone"
    zone = spark.conf.get(key)
    if zone == "UTC":
        yield
        return
    spark.conf.set(key, "UTC")
    try:
        yield
    finally:
        spark.conf.set(key, zone)


def registration_sql(settings: Settings) -> str:
    """The SQL that registers every table, for clients that connect to a served lake without shoprec.

    It works from a session in any time zone: a table whose Delta log exists and that holds
    timestamps is registered without a column list (its schema comes from the log; Sail's
    in-memory catalog then lists no columns in DESCRIBE for it); the others with their declared
    columns and comments.
    """
    statements = [f"CREATE SCHEMA IF NOT EXISTS {s}" for s in catalog.schemas()]
    for table in catalog.TABLES.values():
        location = table.location(settings.lake)
        has_log = storage.kind(location / "_delta_log") == "directory"
        if has_log and any(c.type == "TIMESTAMP" for c in table.columns):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table.name} USING delta\n"
                f"LOCATION {sql_string(str(location))}\nCOMMENT {sql_string(table.description)}"
            )
        else:
            statements.append(table.ddl(settings.lake, not_null=False))
    return ";\n\n".join(statements) + ";\n"
