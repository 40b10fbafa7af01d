"""The Spark Connect session, the embedded Sail server's lifecycle, and every engine workaround.

Job code uses the plain PySpark DataFrame API and standard Spark SQL, so it also runs on Apache
Spark 4 Connect with delta-spark. What Sail (pysail 0.7) needs beyond that lives here and only here:

- its default catalog is in memory and per session, so every session registers every catalog table
  (`CREATE SCHEMA/TABLE IF NOT EXISTS … USING delta LOCATION …`) when it opens. With a Hive Metastore
  configured (`SHOPREC_METASTORE_URI`), every Sail server shoprec starts uses it as its catalog
  (`SAIL_CATALOG__LIST`, read from the environment when a server is created): tables are registered
  once, for every session and engine, and a session only registers what is missing or has changed
  (`register_tables`);
- a declared `TIMESTAMP` takes the session time zone (Arrow `Timestamp(µs, <zone>)`), while Delta
  tables read back as `Timestamp(µs, "UTC")`, and re-registering an existing Delta table requires
  the declared schema to equal the stored one exactly: from a session in any other zone (even
  `Etc/UTC`) it fails with "Delta table already exists … with a different schema for field …".
  `register_tables` switches the session to UTC while it registers and restores the zone after;
  `registration_sql` (for clients without shoprec; Sail's SQL cannot set the session time zone)
  registers an existing table holding timestamps without a column list, so its schema comes from
  its Delta log whatever the client's zone. Reads are zone-proof either way: values are instants
  stored in UTC, and the Hive Metastore maps `timestamp` to UTC too;
- dynamic partition overwrite is not honoured (it replaces the whole table), so partitions are
  replaced with an explicit `replaceWhere` predicate;
- NOT NULL column constraints are checked on rows a filter has already removed (a write of
  `df.where(...)` from a Parquet scan fails), so tables are created without NOT NULL; the catalog
  still declares nullability, the jobs' row checks and the validation suites enforce it;
- `input_file_name()` and `_metadata` are missing, so landing files are read one by one (see
  `read_text_files`), each tagged with its name;
- (Apache Spark 4.1 servers) the session sets `spark.sql.session.localRelationSizeLimit` to a plain number,
  because pyspark-client 4.2 cannot parse the server's default ("3221225472b") in `createDataFrame`; the other
  differences from Apache Spark + delta-spark are listed in infra/README.md;
- a replaceWhere write drops the input's sort (it re-sorts by the partition columns only), so rows
  whose order within the files matters go through `sort_for_write`.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from shoprec import catalog
from shoprec.catalog import Table, sql_string
from shoprec.config import Settings

if TYPE_CHECKING:
    from pysail.spark import SparkConnectServer
    from pyspark.sql import Column, DataFrame, Row, SparkSession

# Sail logs sessions and shutdown at INFO/WARN on stderr; keep the CLI readable unless RUST_LOG says otherwise.
os.environ.setdefault("RUST_LOG", "error")


class EngineError(RuntimeError):
    """The Spark engine could not be started or reached, or failed on a named table or step."""


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message (engine errors carry long server traces)."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


@contextmanager
def naming(target: str) -> Iterator[None]:
    """Re-raise an engine failure inside the block as an EngineError naming `target` (a table or step).

    Spark evaluates lazily, so a failure (a division by zero, a bad cast) surfaces at the action that
    writes a table; this is where the table is known: `features.item_daily: [DIVIDE_BY_ZERO] …`.
    """
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as exc:
        raise EngineError(f"{target}: {first_line(exc)}") from exc


_SAIL_ENVIRONMENT = threading.Lock()


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
    with _SAIL_ENVIRONMENT, _environment(sail_catalog_environment(metastore_uri)):
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


# pyspark-client 4.2 parses this setting as a plain integer when it creates a DataFrame from local rows, while an
# Apache Spark 4.1 server reports its default with a unit ("3221225472b"): set the same value, as a plain number.
_LOCAL_RELATION_SIZE_LIMIT = ("spark.sql.session.localRelationSizeLimit", str(3 << 30))


def connect(url: str, settings: Settings, app_name: str = "shoprec") -> SparkSession:
    """Open a Spark Connect session to `url` (UTC session time zone) with every catalog table registered."""
    from pyspark.sql import SparkSession

    try:
        spark = (
            SparkSession.builder.remote(url)
            .appName(app_name)
            .config("spark.sql.session.timeZone", "UTC")
            .config(*_LOCAL_RELATION_SIZE_LIMIT)
            .create()
        )
        register_tables(spark, settings)
    except Exception as exc:
        if isinstance(exc, EngineError):
            raise
        raise EngineError(f"could not open a Spark Connect session at {url}: {exc}") from exc
    return spark


@contextmanager
def session(settings: Settings, app_name: str = "shoprec") -> Iterator[SparkSession]:
    """A Spark session for one unit of work: the configured remote, or an embedded Sail started and stopped here."""
    server = None if settings.spark_remote else start_sail(metastore_uri=settings.metastore_uri)
    url = settings.spark_remote or sail_url(server)
    try:
        spark = connect(url, settings, app_name)
        try:
            yield spark
        finally:
            spark.stop()
    finally:
        if server is not None:
            server.stop()


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
        has_log = (location / "_delta_log").is_dir()
        if has_log and any(c.type == "TIMESTAMP" for c in table.columns):
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table.name} USING delta\n"
                f"LOCATION {sql_string(str(location))}\nCOMMENT {sql_string(table.description)}"
            )
        else:
            statements.append(table.ddl(settings.lake, not_null=False))
    return ";\n\n".join(statements) + ";\n"


def conform(df: DataFrame, table: Table) -> DataFrame:
    """Select the table's columns in declared order, cast to declared types; fails naming missing columns."""
    from pyspark.sql import functions as F

    missing = [c for c in table.column_names if c not in df.columns]
    if missing:
        raise ValueError(f"cannot write {table.name}: the DataFrame lacks columns {missing}")
    return df.select(*[F.col(c.name).cast(c.type).alias(c.name) for c in table.columns])


def spark_schema(table: Table) -> str:
    """The table's columns as a DDL schema string (for createDataFrame and empty frames)."""
    return ", ".join(f"{c.name} {c.type}" for c in table.columns)


def empty(spark: SparkSession, table: Table) -> DataFrame:
    """An empty DataFrame with the table's schema."""
    return spark.createDataFrame([], spark_schema(table))


def partition_predicate(table: Table, values: Mapping[str, date | str]) -> str:
    """A SQL predicate selecting one partition, with every value escaped as a literal."""
    if set(values) != set(table.partition_by):
        raise ValueError(f"{table.name} is partitioned by {list(table.partition_by)}, got {sorted(values)}")
    clauses = []
    for column, value in values.items():
        literal = (
            f"DATE {sql_string(value.isoformat())}" if isinstance(value, date) else sql_string(str(value))
        )
        clauses.append(f"{column} = {literal}")
    return " AND ".join(clauses)


def _replace_where(df: DataFrame, table: Table, settings: Settings, predicate: str) -> None:
    """Overwrite the rows of `table` matching `predicate` with `df`, in one Delta commit."""
    with naming(table.name):
        conform(df, table).write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(
            str(table.location(settings.lake))
        )


def replace_partition(
    df: DataFrame, table: Table, settings: Settings, values: Mapping[str, date | str]
) -> None:
    """Atomically replace one partition of `table` with `df` (a single Delta commit; readers see old or new)."""
    _replace_where(df, table, settings, partition_predicate(table, values))


def range_predicate(table: Table, start: date, end: date) -> str:
    """A SQL predicate selecting the partitions of a date-partitioned table from start to end (inclusive)."""
    if len(table.partition_by) != 1:
        raise ValueError(f"{table.name} is not partitioned by a single date column")
    column = table.partition_by[0]
    # not BETWEEN: delta-spark 4.3 cannot resolve it in a replaceWhere predicate ("Invalid call to nullable
    # on unresolved object"), while both engines take the two comparisons
    return (
        f"{column} >= DATE {sql_string(start.isoformat())} AND {column} <= DATE {sql_string(end.isoformat())}"
    )


def replace_range(df: DataFrame, table: Table, settings: Settings, start: date, end: date) -> None:
    """Atomically replace the partitions from start to end with `df` (one Delta commit for the whole range)."""
    _replace_where(df, table, settings, range_predicate(table, start, end))


def rows_predicate(table: Table, values: Mapping[str, date | str | int]) -> str:
    """A SQL predicate `column = literal AND …` over any declared columns of `table`, values escaped."""
    unknown = sorted(set(values) - set(table.column_names))
    if unknown:
        raise ValueError(f"{table.name} has no columns {unknown}; its columns: {table.column_names}")
    if not values:
        raise ValueError(f"no columns given to select rows of {table.name} by")
    clauses = []
    for column, value in values.items():
        if isinstance(value, date):
            literal = f"DATE {sql_string(value.isoformat())}"
        elif isinstance(value, int):
            literal = str(value)
        else:
            literal = sql_string(str(value))
        clauses.append(f"{column} = {literal}")
    return " AND ".join(clauses)


def replace_rows(
    df: DataFrame, table: Table, settings: Settings, values: Mapping[str, date | str | int]
) -> None:
    """Atomically replace the rows of `table` matching `values` with `df` (one Delta commit).

    For keys that are not partition columns, e.g. (run_date, k) of an unpartitioned table: Delta's
    `replaceWhere` with a data predicate rewrites only the files holding matching rows. Every row
    of `df` must match `values`: delta-spark rejects other rows, Sail 0.7 writes them unchecked.
    """
    _replace_where(df, table, settings, rows_predicate(table, values))


def sort_for_write(df: DataFrame, *order: Column | str) -> DataFrame:
    """`df.orderBy(*order)` in a form whose order survives `replace_partition` / `replace_range`.

    Sail 0.7 plans a replaceWhere write as a repartition and a sort by the partition columns, and
    removes an input sort it finds redundant, so rows land in the files in their unsorted order. A
    sort that feeds a LIMIT cannot be removed; the limit is the row count, so no row is cut (and
    each partition value's rows go to the writer as one ordered stream). Counting evaluates `df`
    once more: give it a materialised frame. On Apache Spark the limit cuts nothing either, but
    sorts in a single task (fine for a day of rows; a plain orderBy would do there).
    """
    return df.orderBy(*order).limit(df.count())


def overwrite(df: DataFrame, table: Table, settings: Settings) -> None:
    """Replace the whole content of an unpartitioned table in one Delta commit."""
    with naming(table.name):
        conform(df, table).write.format("delta").mode("overwrite").save(str(table.location(settings.lake)))


def read(spark: SparkSession, table: Table, settings: Settings) -> DataFrame:
    """Read a catalog table by location (works whatever the session registered)."""
    return spark.read.format("delta").load(str(table.location(settings.lake)))


def append(df: DataFrame, table: Table, settings: Settings) -> None:
    """Append `df` to `table` in one Delta commit."""
    with naming(table.name):
        conform(df, table).write.format("delta").mode("append").save(str(table.location(settings.lake)))


def read_text_files(spark: SparkSession, files: Sequence[Path], root: Path) -> DataFrame:
    """Read text files into (source_file, line_number, value), line numbers 1-based per file.

    Sail has no `input_file_name()`, so each file is read on its own and tagged with its path
    relative to `root`; line numbers follow the reader's row order within a file. Empty files
    contribute no lines (Sail reads them back without columns).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    non_empty = [
        path for path in files if path.stat().st_size > 0
    ]  # Sail reads an empty file with no columns
    if not non_empty:
        return spark.createDataFrame([], "source_file STRING, line_number BIGINT, value STRING")
    frames = [
        spark.read.text(str(path)).select(
            F.lit(str(path.relative_to(root))).alias("source_file"),
            F.monotonically_increasing_id().alias("_row"),
            "value",
        )
        for path in non_empty
    ]
    lines = frames[0]
    for frame in frames[1:]:
        lines = lines.unionByName(frame)
    order = Window.partitionBy("source_file").orderBy("_row")
    return lines.select(
        "source_file", F.row_number().over(order).cast("bigint").alias("line_number"), "value"
    )


@contextmanager
def active_session(spark: SparkSession) -> Iterator[None]:
    """Make `spark` the session `SparkSession.builder.getOrCreate()` returns, for the duration.

    pyspark-connect keeps the first session a process opened as its active one, and Great
    Expectations runs query expectations (`UnexpectedRowsExpectation`) on `getOrCreate()`'s session
    while creating their `{batch}` view on the DataFrame's own session. With several sessions in one
    process (tests, a long-lived client) the query would miss the view and see another lake.
    """
    from pyspark.sql.connect.session import SparkSession as ConnectSession

    holder = ConnectSession._active_session
    previous = getattr(holder, "session", None)
    holder.session = spark
    try:
        yield
    finally:
        holder.session = previous


@contextmanager
def scratch(spark: SparkSession, settings: Settings) -> Iterator[Scratch]:
    """Temporary Parquet storage under the lake for materialising intermediate results; removed on exit."""
    root = settings.lake / "_scratch" / uuid.uuid4().hex
    try:
        yield Scratch(spark, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Scratch:
    """Parquet scratch space of one unit of work (see `scratch`)."""

    def __init__(self, spark: SparkSession, root: Path) -> None:
        self._spark = spark
        self._root = root

    def materialize(self, df: DataFrame, name: str) -> DataFrame:
        """Compute `df` once into Parquet and return a DataFrame reading it back."""
        path = str(self._root / name)
        with naming(f"step {name!r}"):
            df.write.mode("overwrite").parquet(path)
        # With the schema given, an empty result (no Parquet files written) still reads back with its columns.
        return self._spark.read.schema(df.schema).parquet(path)

    def folder(self, name: str) -> Path:
        """A folder of this scratch space for Parquet files written outside Spark (e.g. model scores)."""
        path = self._root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def path(self, name: str) -> Path:
        """Where `materialize(df, name)` wrote its Parquet files (for readers outside Spark)."""
        return self._root / name
