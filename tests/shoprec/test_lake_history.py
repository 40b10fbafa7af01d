"""`shoprec lake history` and `lake restore` on Delta tables written by delta-rs (no Spark needed)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from deltalake import DeltaTable, write_deltalake

from shoprec import catalog, lake_history, write_guard
from shoprec.config import Settings
from tests.faults import runs
from tests.shoprec.test_write_guard import hold_in_child

TABLE = catalog.RECO_LATEST


def write(settings: Settings, users: list[int], mode: str = "overwrite") -> None:
    frame = pd.DataFrame({"user_id": users, "rank": [1] * len(users)})
    write_deltalake(str(TABLE.location(settings.lake)), frame, mode=mode)  # type: ignore[arg-type]


@pytest.fixture
def versions(settings: Settings) -> Settings:
    """reco.latest with versions 0 (users 1, 2), 1 (+ user 3), 2 (replaced by users 7, 8, 9, 10)."""
    write(settings, [1, 2])
    write(settings, [3], mode="append")
    time.sleep(0.01)
    write(settings, [7, 8, 9, 10])
    return settings


def users(settings: Settings) -> list[int]:
    return sorted(DeltaTable(str(TABLE.location(settings.lake))).to_pandas()["user_id"])


def test_history_lists_versions_newest_first_with_rows_added_and_removed(versions: Settings) -> None:
    history = lake_history.history(TABLE, versions)
    assert [(v.version, v.operation, v.rows_added, v.rows_removed) for v in history] == [
        (2, "WRITE", 4, 3),
        (1, "WRITE", 1, 0),
        (0, "WRITE", 2, 0),
    ]
    assert history[0].details.startswith("mode=Overwrite")
    assert [v.version for v in lake_history.history(TABLE, versions, limit=1)] == [2]


def test_restore_makes_an_old_version_current_in_a_new_recorded_commit(versions: Settings) -> None:
    done = lake_history.restore(TABLE, versions, 1, "shoprec lake restore reco.latest --version 1")
    assert users(versions) == [1, 2, 3]
    assert (done.version, done.operation, done.rows_added, done.rows_removed) == (3, "RESTORE", 3, 4)
    assert done.details == "version=1 by shoprec lake restore reco.latest --version 1"
    lake_history.restore(TABLE, versions, 2, "undo")  # a restore is undone the same way
    assert users(versions) == [7, 8, 9, 10]
    with pytest.raises(ValueError, match=r"reco\.latest has versions 0\.\.4, not 9"):
        lake_history.restore(TABLE, versions, 9, "x")


def test_a_timestamp_picks_the_version_current_then(versions: Settings) -> None:
    commits = {v.version: v.timestamp for v in lake_history.history(TABLE, versions)}
    assert lake_history.version_at(TABLE, versions, commits[1]) == 1
    assert lake_history.version_at(TABLE, versions, commits[2] + timedelta(hours=1)) == 2
    with pytest.raises(ValueError, match=r"reco\.latest did not exist yet at 2020-01-01 00:00:00 UTC"):
        lake_history.version_at(TABLE, versions, datetime(2020, 1, 1, tzinfo=UTC))
    assert lake_history.parse_timestamp("2026-01-09") == datetime(2026, 1, 9, tzinfo=UTC)
    assert lake_history.parse_timestamp("2026-01-09T04:00+01:00") == datetime(2026, 1, 9, 3, tzinfo=UTC)


def test_restore_waits_for_the_table_s_writer_and_names_it(versions: Settings) -> None:
    child = hold_in_child(versions.locks, TABLE.name)
    try:
        done = runs.run(
            versions,
            ["lake", "restore", "reco.latest", "--version", "0"],
            {"SHOPREC_WRITE_WAIT": "0"},
        )
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 1
    assert f"error: shoprec lake: reco.latest is being written by pid {child.pid} since" in done.stderr


def test_the_cli_prints_history_and_restores_by_timestamp(versions: Settings) -> None:
    shown = runs.run(versions, ["lake", "history", "reco.latest"])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].split() == [
        "version",
        "time",
        "(UTC)",
        "operation",
        "added",
        "removed",
        "details",
    ]
    assert shown.stdout.splitlines()[1].split()[:6] == [
        "2",
        *shown.stdout.splitlines()[1].split()[1:3],
        "WRITE",
        "4",
        "3",
    ]
    at = lake_history.history(TABLE, versions)[1].timestamp.isoformat()
    restored = runs.run(versions, ["lake", "restore", "reco.latest", "--timestamp", at])
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "reco.latest: version 1 restored as version 3 (3 rows added, 4 removed)"
    assert users(versions) == [1, 2, 3]
    assert write_guard.holder(versions.locks, TABLE.name) is None
    assert not os.listdir(versions.locks) or all(
        not (versions.locks / f).read_text() for f in os.listdir(versions.locks)
    )
