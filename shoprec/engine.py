"""The Spark Connect session and the Delta writes and reads every job uses, with the engine workarounds.

Job code uses the plain PySpark DataFrame API and standard Spark SQL, so it also runs on Apache
Spark 4 Connect with delta-spark. What Sail (pysail 0.7) needs beyond that lives here, in `shoprec.sail` (the server) and in
`shoprec.registration` (the catalog), and nowhere else:

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
- there is no Delta conflict resolution (two commits racing for one version fail with `Failed to
  commit transaction: 0`, even on different partitions), so every write holds the table's write
  guard (`writing`, `shoprec.write_guard`): concurrent runs are serialised per table;
- a replaceWhere write drops the input's sort (it re-sorts by the partition columns only), so rows
  whose order within the files matters go through `sort_for_write`.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from shoprec import faults, storage, write_guard
from shoprec.catalog import Table, sql_string
from shoprec.config import Settings
from shoprec.engine_errors import EngineError, naming
from shoprec.registration import register_tables
from shoprec.sail import sail_url, start_sail

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# Sail logs sessions and shutdown at INFO/WARN on stderr; keep the CLI readable unless RUST_LOG says otherwise.
os.environ.setdefault("RUST_LOG", "error")


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


@contextmanager
def writing(table: Table, settings: Settings) -> Iterator[None]:
    """The one write path of every catalog table: its write guard held, failures named, fault points.

    The block must make exactly one Delta commit. `shoprec.faults` (a test hook, off by default)
    may kill the process before, during or after it.
    """
    with write_guard.held(settings.locks, table.name, settings.write_wait), naming(table.name):
        faults.starting(table.name)
        yield
        faults.committed(table.name)


def _replace_where(df: DataFrame, table: Table, settings: Settings, predicate: str) -> None:
    """Overwrite the rows of `table` matching `predicate` with `df`, in one Delta commit."""
    with writing(table, settings):
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
    with writing(table, settings):
        conform(df, table).write.format("delta").mode("overwrite").save(str(table.location(settings.lake)))


def read(spark: SparkSession, table: Table, settings: Settings) -> DataFrame:
    """Read a catalog table by location (works whatever the session registered)."""
    return spark.read.format("delta").load(str(table.location(settings.lake)))


def append(df: DataFrame, table: Table, settings: Settings) -> None:
    """Append `df` to `table` in one Delta commit."""
    with writing(table, settings):
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
    """Temporary Parquet storage under the lake for materialising intermediate results; removed on exit.

    Each scratch space `<lake>/_scratch/<id>` (in the lake, so a remote engine reaches it too) has a
    lock file `<locks>/scratch/<id>.lock` (`Settings.locks`, a local folder) its process holds: an
    flock, released by the kernel when the process ends. A run killed before its cleanup leaves a
    space whose lock is free, and the next scratch space removes both.
    """
    base, locks = settings.lake / "_scratch", settings.locks / "scratch"
    locks.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    lock = _locked_file(locks, f"{name}.lock")
    _remove_abandoned(base, locks)
    try:
        yield Scratch(spark, base / name)
    finally:
        storage.remove_tree(base / name)
        (locks / f"{name}.lock").unlink(missing_ok=True)
        os.close(lock)


def _locked_file(folder: Path, name: str) -> int:
    """Create `folder/name` already locked (made and locked under a temporary name, then renamed)."""
    temporary = folder / f".{name}.{uuid.uuid4().hex}"
    handle = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    fcntl.flock(handle, fcntl.LOCK_EX)
    temporary.rename(folder / name)
    return handle


def _remove_abandoned(base: storage.Location, locks: Path) -> None:
    """Remove the scratch spaces of processes that ended without cleaning up (their lock is free)."""
    for lock in locks.glob("*.lock"):
        try:
            handle = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # its owner just finished
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue  # in use
        storage.remove_tree(base / lock.stem)
        lock.unlink(missing_ok=True)
        os.close(handle)


class Scratch:
    """Parquet scratch space of one unit of work (see `scratch`)."""

    def __init__(self, spark: SparkSession, root: storage.Location) -> None:
        self._spark = spark
        self._root = root

    def materialize(self, df: DataFrame, name: str) -> DataFrame:
        """Compute `df` once into Parquet and return a DataFrame reading it back."""
        path = str(self._root / name)
        with naming(f"step {name!r}"):
            df.write.mode("overwrite").parquet(path)
        # With the schema given, an empty result (no Parquet files written) still reads back with its columns.
        return self._spark.read.schema(df.schema).parquet(path)

    def child(self, name: str) -> Scratch:
        """A scratch space inside this one, removed with it (e.g. one per user bucket)."""
        return Scratch(self._spark, self._root / name)

    def folder(self, name: str) -> storage.Location:
        """A folder of this scratch space for Parquet files written outside Spark (e.g. model scores)."""
        path = self._root / name
        storage.make_folder(path)
        return path

    def path(self, name: str) -> storage.Location:
        """Where `materialize(df, name)` wrote its Parquet files (for readers outside Spark)."""
        return self._root / name
