"""A lake's tables as comparable values: rows read with delta-rs, volatile columns dropped, sorted.

Used to show that a table equals another lake's (a clean run's) row for row. Columns that differ
between two runs of the same inputs by design are dropped: run ids, wall-clock stamps, durations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from shoprec import catalog
from shoprec.catalog import Table
from shoprec.config import Settings

VOLATILE = frozenset(
    {"ingested_at", "generated_at", "evaluated_at", "validated_at", "started_at", "seconds", "run_id"}
)


def _plain(value: object) -> object:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | dict):
        return json.dumps(value, default=str, sort_keys=True)
    return value


def table_rows(settings: Settings, table: Table, drop: Iterable[str] = ()) -> pd.DataFrame | None:
    """The table's rows without volatile columns, in a canonical order; None if it has no Delta log."""
    try:
        frame = DeltaTable(str(table.location(settings.lake))).to_pandas()
    except TableNotFoundError:
        return None
    frame = frame.drop(columns=[c for c in frame.columns if c in VOLATILE or c in set(drop)])
    for column in frame.columns:
        if frame[column].dtype.kind == "f":
            frame[column] = frame[column].round(9)
        elif frame[column].dtype == object:
            frame[column] = frame[column].map(_plain)
    return frame.sort_values(list(frame.columns), na_position="first").reset_index(drop=True)


def lake_rows(settings: Settings, tables: Iterable[Table] | None = None) -> dict[str, pd.DataFrame | None]:
    """`table_rows` of every given table (default: the whole catalog), by name."""
    return {t.name: table_rows(settings, t) for t in (tables or catalog.TABLES.values())}


def same_rows(left: pd.DataFrame | None, right: pd.DataFrame | None) -> bool:
    """Whether two `table_rows` results hold the same rows (None only equals None)."""
    if left is None or right is None:
        return left is None and right is None
    if list(left.columns) != list(right.columns) or len(left) != len(right):
        return False
    try:
        pd.testing.assert_frame_equal(left, right, check_dtype=False)
    except AssertionError:
        return False
    return True
