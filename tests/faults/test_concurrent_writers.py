"""Two `shoprec features` runs started together: serialised per table by the write guard, never failing spuriously.

Sail has no Delta conflict resolution: without the guard, two commits racing for one version fail
(`Failed to commit transaction: 0`) even for different days. With it, both runs succeed and the
tables equal those of the same days built one after the other.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec import catalog, write_guard
from shoprec.config import Settings
from tests.conftest import copy_lake
from tests.faults import runs
from tests.lake_state import lake_rows, same_rows

FEATURES = [t for t in catalog.TABLES.values() if t.schema == "features"]


@pytest.fixture(scope="module")
def reference(feature_lake: tuple[SparkSession, Settings], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The feature tables with 2026-01-08..10 built by one run."""
    settings = copy_lake(feature_lake[1], tmp_path_factory.mktemp("reference") / "home")
    done = runs.run(settings, ["features", "--start", "2026-01-08", "--end", "2026-01-10"])
    assert done.returncode == 0, done.stderr
    return lake_rows(settings, FEATURES)


def together(settings: Settings, *commands: list[str]) -> list[tuple[int, str]]:
    """Start the commands at once and wait for all: (exit code, stderr) each."""
    started = [runs.start(settings, command) for command in commands]
    return [(p.wait(timeout=300), p.communicate()[1]) for p in started]


@pytest.mark.slow
@pytest.mark.parametrize(
    "first, second",
    [
        (["--date", "2026-01-09"], ["--date", "2026-01-10"]),
        (["--date", "2026-01-09"], ["--date", "2026-01-09"]),
        (["--start", "2026-01-08", "--end", "2026-01-09"], ["--start", "2026-01-09", "--end", "2026-01-10"]),
    ],
    ids=["different-days", "same-day", "overlapping-ranges"],
)
def test_concurrent_feature_runs_both_succeed_serialised(
    feature_lake: tuple[SparkSession, Settings],
    reference: dict,
    tmp_path: Path,
    first: list[str],
    second: list[str],
) -> None:
    settings = copy_lake(feature_lake[1], tmp_path / "home")
    results = together(settings, ["features", *first], ["features", *second])
    assert [code for code, _ in results] == [0, 0], [err[-2000:] for _, err in results]
    built = lake_rows(settings, FEATURES)
    for table in FEATURES:
        column = table.partition_by[0]
        days = set(built[table.name][column])
        assert days >= {date(2026, 1, 9)}
        expected = reference[table.name]
        expected = expected[expected[column].isin(days)].reset_index(drop=True)
        assert same_rows(built[table.name], expected), table.name
    assert all(write_guard.holder(settings.locks, t.name) is None for t in FEATURES)
    assert not any((settings.lake / "_scratch").glob("*"))
    assert not any((settings.locks / "scratch").glob("*"))
