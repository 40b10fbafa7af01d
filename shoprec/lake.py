"""Reading the lake without Spark (delta-rs): table versions, row counts, pandas frames.

Downstream readers (pandas, DuckDB, Polars) and `shoprec lake tables` use this; jobs use Spark.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from shoprec import storage
from shoprec.catalog import Table
from shoprec.config import Settings
from shoprec.storage import Location


@dataclass(frozen=True)
class TableInfo:
    """A table's current Delta version, row count and location (version None: not created yet)."""

    name: str
    version: int | None
    rows: int
    location: Location


def delta_table(table: Table, settings: Settings) -> DeltaTable:
    """Open a catalog table with delta-rs; a missing table fails naming it and its location."""
    location = table.location(settings.lake)
    try:
        return DeltaTable(str(location))
    except TableNotFoundError:
        raise FileNotFoundError(
            f"table {table.name} has no Delta log at {location}; run the job that writes it"
        ) from None
    except OSError as exc:  # the store failed the request (no such bucket, refused credentials)
        raise storage.unreachable(f"table {table.name}", location, exc) from exc


def info(table: Table, settings: Settings) -> TableInfo:
    """Version and row count from the Delta log (no data files are read)."""
    location = table.location(settings.lake)
    try:
        dt = DeltaTable(str(location))
    except TableNotFoundError:
        return TableInfo(table.name, None, 0, location)
    except OSError as exc:
        raise storage.unreachable(f"table {table.name}", location, exc) from exc
    actions = dt.get_add_actions(flatten=True)
    rows = sum(v for v in actions.column("num_records").to_pylist() if v) if actions.num_rows else 0
    return TableInfo(table.name, dt.version(), rows, location)


def to_pandas(
    table: Table, settings: Settings, filters: list[tuple[str, str, object]] | None = None
) -> pd.DataFrame:
    """Read a table (optionally only matching partitions) into pandas via delta-rs."""
    return delta_table(table, settings).to_pandas(filters=filters)
