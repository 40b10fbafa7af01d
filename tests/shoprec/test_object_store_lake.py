"""The lake commands on a lake in a bucket of a local S3 server: check, history and restore."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable, write_deltalake

from shoprec import catalog, lake_check, write_guard
from shoprec.config import Settings
from tests.faults import runs
from tests.s3_server import S3Server
from tests.shoprec.test_lake_history import TABLE as HISTORY_TABLE
from tests.shoprec.test_lake_history import users, write

TABLE = catalog.OPS_EVAL_METRICS


@pytest.fixture
def s3_settings(s3_server: S3Server, tmp_path: Path) -> Settings:
    """A fresh home whose lake is a fresh bucket's `lake/` prefix."""
    lake = s3_server.bucket(f"lake-{uuid.uuid4().hex[:12]}") / "lake"
    return Settings(home=tmp_path / "home", lake_dir=str(lake))


def test_lake_check_names_a_missing_and_a_damaged_object(s3_settings: Settings) -> None:
    location = str(TABLE.location(s3_settings.lake))
    write_deltalake(location, pd.DataFrame({"k": [1, 2]}))
    write_deltalake(location, pd.DataFrame({"k": [3]}), mode="append")
    healthy = lake_check.check_table(TABLE, s3_settings)
    assert (healthy.version, healthy.rows, healthy.files, healthy.problems) == (1, 3, 2, [])
    first, second = sorted(DeltaTable(location).file_uris())
    bucket, _ = pafs.FileSystem.from_uri(first)
    bucket.delete_file(first.removeprefix("s3://"))
    with bucket.open_output_stream(second.removeprefix("s3://")) as out:
        out.write(b"PAR1 not parquet")
    problems = lake_check.check_table(TABLE, s3_settings).problems
    assert sorted(p.split(" is ")[1].split(":")[0] for p in problems) == ["missing", "unreadable"]
    broken = runs.run(s3_settings, ["lake", "check"])
    assert broken.returncode == 1
    assert broken.stderr.splitlines()[-1].startswith(
        f"error: 2 problem(s) in 1 table(s): {TABLE.name}: version 1: data file part-"
    )


def test_restore_commits_an_old_version_again_in_the_bucket(s3_settings: Settings) -> None:
    write(s3_settings, [1, 2])
    write(s3_settings, [3], mode="append")
    write(s3_settings, [7, 8, 9, 10])
    restored = runs.run(s3_settings, ["lake", "restore", HISTORY_TABLE.name, "--version", "1"])
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout.strip() == "reco.latest: version 1 restored as version 3 (3 rows added, 4 removed)"
    assert users(s3_settings) == [1, 2, 3]
    shown = runs.run(s3_settings, ["lake", "history", HISTORY_TABLE.name, "--limit", "1"])
    assert shown.stdout.splitlines()[1].split()[0:1] == ["3"]
    assert "RESTORE" in shown.stdout.splitlines()[1]
    assert write_guard.holder(s3_settings.locks, HISTORY_TABLE.name) is None
    assert s3_settings.locks == s3_settings.home / "locks"


def test_a_missing_bucket_and_refused_credentials_are_one_error_line(
    s3_settings: Settings, tmp_path: Path
) -> None:
    missing = Settings(home=tmp_path / "other", lake_dir="s3://no-such-bucket/lake")
    tables = runs.run(missing, ["lake", "tables"])
    assert (tables.returncode, tables.stderr.splitlines()[-1]) == (
        1,
        "error: table raw.events: cannot read s3://no-such-bucket/lake/raw/events: "
        "NoSuchBucket: The specified bucket does not exist.",
    )
    checked = runs.run(missing, ["lake", "check"])
    assert (checked.returncode, checked.stderr.splitlines()[-1]) == (
        1,
        "error: the lake s3://no-such-bucket/lake: its bucket s3://no-such-bucket does not exist",
    )
    refused = runs.run(
        s3_settings, ["lake", "history", "reco.latest"], {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    )
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[-1].startswith(
        f"error: table reco.latest: cannot read {HISTORY_TABLE.location(s3_settings.lake)}: SignatureDoesNotMatch: "
    )
