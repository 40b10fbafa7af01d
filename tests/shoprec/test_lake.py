"""The lake read without Spark (delta-rs): versions, row counts, frames, and a missing table named."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import write_deltalake

from shoprec import catalog, lake
from shoprec.config import Settings

TABLE = catalog.CLEAN_ITEMS


def write_rows(settings: Settings, frame: pd.DataFrame) -> None:
    location = TABLE.location(settings.lake)
    location.mkdir(parents=True, exist_ok=True)
    write_deltalake(str(location), frame, mode="append")


def test_info_of_a_table_not_created_yet(settings: Settings) -> None:
    info = lake.info(TABLE, settings)
    assert info.version is None
    assert info.rows == 0
    assert info.location == TABLE.location(settings.lake)


def test_info_counts_rows_from_the_log(settings: Settings) -> None:
    write_rows(settings, pd.DataFrame({"item_id": [1, 2], "category_id": [5, 6]}))
    write_rows(settings, pd.DataFrame({"item_id": [3], "category_id": [5]}))
    info = lake.info(TABLE, settings)
    assert info.version == 1
    assert info.rows == 3


def test_to_pandas_applies_filters(settings: Settings) -> None:
    write_rows(settings, pd.DataFrame({"item_id": [1, 2, 3], "category_id": [5, 6, 5]}))
    frame = lake.to_pandas(TABLE, settings, filters=[("category_id", "=", 5)])
    assert sorted(frame["item_id"]) == [1, 3]


def test_a_missing_table_is_named_with_its_location(settings: Settings) -> None:
    with pytest.raises(FileNotFoundError, match=r"table clean\.items has no Delta log at .*run the job"):
        lake.delta_table(TABLE, settings)
