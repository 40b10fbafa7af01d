"""Checking the lake's integrity without Spark: every table's log readable, its files present and whole.

For each catalog table with a Delta log: every commit file parses, the current version loads, every
data file it references exists and holds the rows its log entry says (the Parquet footer's row
count), and data files no commit ever referenced (left by a write killed before its commit) are
counted. Problems name the table and the version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from shoprec import catalog, storage
from shoprec.catalog import Table
from shoprec.config import Settings


@dataclass
class TableCheck:
    """What checking one table found; `problems` empty means healthy."""

    name: str
    version: int | None = None
    rows: int = 0
    files: int = 0
    unreferenced: int = 0
    problems: list[str] = field(default_factory=list)


def _commit_files(log: storage.Location) -> list[tuple[int, str]]:
    """The log's commit files (`00000000000000000003.json`) by version."""
    names = (name for name in storage.files(log) if "/" not in name and name.endswith(".json"))
    return sorted((int(name.split(".")[0]), name) for name in names if name.split(".")[0].isdigit())


def _logged_paths(log: storage.Location, result: TableCheck) -> set[str]:
    """Every data file any readable commit added or removed; unreadable commit files become problems."""
    paths: set[str] = set()
    for version, name in _commit_files(log):
        try:
            for number, line in enumerate(storage.read_text(log / name).splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    action = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"line {number}: {exc}") from None
                for kind in ("add", "remove"):
                    if kind in action:
                        paths.add(unquote(action[kind]["path"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            result.problems.append(f"version {version}: commit file {name} is unreadable: {exc}")
    return paths


def check_table(table: Table, settings: Settings) -> TableCheck:
    """Check one table (see the module notes); a table without a Delta log is reported as not created."""
    location = table.location(settings.lake)
    result = TableCheck(table.name)
    log = location / "_delta_log"
    try:
        if storage.kind(log) != "directory":
            return result
    except OSError as exc:  # the store failed the request (no such bucket, refused credentials)
        raise storage.unreachable(f"table {table.name}", location, exc) from exc
    logged = _logged_paths(log, result)
    try:
        dt = DeltaTable(str(location))
        result.version = dt.version()
        files = dt.get_add_actions(flatten=True)
    except Exception as exc:  # delta-rs raises several types for a damaged log
        latest = _commit_files(log)[-1][0] if _commit_files(log) else "?"
        result.problems.append(f"version {latest}: the Delta log does not load: {str(exc).splitlines()[0]}")
        return result
    stored_files = storage.files(location)  # one listing, local folder or object store alike
    actions = pa.table(files).to_pydict()
    for path, rows in zip(actions["path"], actions["num_records"], strict=True):
        result.files += 1
        result.rows += rows or 0
        if unquote(path) not in stored_files:
            result.problems.append(f"version {result.version}: data file {path} is missing")
            continue
        try:
            with storage.open_input(location / unquote(path)) as file:
                stored = pq.ParquetFile(file).metadata.num_rows
        except Exception as exc:  # pyarrow raises ArrowInvalid/OSError for a damaged file
            result.problems.append(f"version {result.version}: data file {path} is unreadable: {exc}")
            continue
        if rows is not None and stored != rows:
            result.problems.append(
                f"version {result.version}: data file {path} holds {stored} rows, its log entry says {rows}"
            )
    on_disk = {
        name for name in stored_files if name.endswith(".parquet") and not name.startswith("_delta_log/")
    }
    result.unreferenced = len(on_disk - logged - {unquote(p) for p in actions["path"]})
    return result


def check(settings: Settings) -> list[TableCheck]:
    """Check every catalog table (a lake whose bucket is missing fails: every table would seem not created)."""
    lake = settings.lake
    if isinstance(lake, storage.ObjectPath) and storage.kind(lake.bucket) == "missing":
        raise storage.Unreachable(f"the lake {lake}: its bucket {lake.bucket} does not exist")
    return [check_table(t, settings) for t in catalog.TABLES.values()]
