"""`shoprec lake check`: a damaged commit file, a missing or damaged data file, named with table and version."""

from __future__ import annotations

import pandas as pd
from deltalake import DeltaTable, write_deltalake

from shoprec import catalog, lake_check
from shoprec.config import Settings
from tests.faults import runs

TABLE = catalog.OPS_EVAL_METRICS


def two_versions(settings: Settings) -> str:
    location = str(TABLE.location(settings.lake))
    write_deltalake(location, pd.DataFrame({"k": [1, 2]}))
    write_deltalake(location, pd.DataFrame({"k": [3]}), mode="append")
    return location


def test_a_healthy_lake_passes(settings: Settings) -> None:
    two_versions(settings)
    found = lake_check.check_table(TABLE, settings)
    assert (found.version, found.rows, found.files, found.problems) == (1, 3, 2, [])
    assert lake_check.check_table(catalog.RECO_LATEST, settings).version is None  # not created: no problem
    (TABLE.location(settings.lake) / "part-00009-orphan.parquet").write_bytes(
        b""
    )  # a killed write's leftover
    assert lake_check.check_table(TABLE, settings).unreferenced == 1


def test_a_damaged_commit_file_is_named_with_its_version(settings: Settings) -> None:
    two_versions(settings)
    commit = TABLE.location(settings.lake) / "_delta_log" / "00000000000000000001.json"
    commit.write_text(commit.read_text()[:40])
    problems = lake_check.check_table(TABLE, settings).problems
    assert problems[0].startswith("version 1: commit file 00000000000000000001.json is unreadable: line 1:")


def test_missing_and_damaged_data_files_are_named(settings: Settings) -> None:
    location = two_versions(settings)
    paths = DeltaTable(location).file_uris()
    first, second = sorted(paths)
    (TABLE.location(settings.lake) / first.rsplit("/", 1)[1]).unlink()
    (TABLE.location(settings.lake) / second.rsplit("/", 1)[1]).write_bytes(b"PAR1 not parquet")
    problems = lake_check.check_table(TABLE, settings).problems
    assert sorted(p.split(" is ")[1].split(":")[0] for p in problems) == ["missing", "unreadable"]
    assert all(p.startswith("version 1: data file part-") for p in problems)


def test_the_cli_exits_1_naming_the_table_and_version(settings: Settings) -> None:
    two_versions(settings)
    healthy = runs.run(settings, ["lake", "check"])
    assert healthy.returncode == 0, healthy.stderr
    assert any(
        line.split()[:2] == [TABLE.name, "1"] and line.endswith("ok") for line in healthy.stdout.splitlines()
    )
    next(TABLE.location(settings.lake).glob("*.parquet")).unlink()
    broken = runs.run(settings, ["lake", "check"])
    assert broken.returncode == 1
    assert broken.stderr.splitlines()[-1].startswith(
        f"error: 1 problem(s) in 1 table(s): {TABLE.name}: version 1: data file part-"
    )
