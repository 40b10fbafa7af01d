"""A write that runs out of space fails naming the table and the cause, and leaves the previous version.

On a real small filesystem (a tmpfs mounted in a private user and mount namespace, `unshare -rm`) where
the kernel allows it; everywhere, with the file size limit (RLIMIT_FSIZE, EFBIG) as a stand-in that
fails the same write at the same place. See `tests/faults/disk_full.py`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from shoprec.config import Settings
from tests.faults import runs

CAUSES = {"tmpfs": "No space left on device (os error 28)", "fsize": "File too large (os error 27)"}


def can_mount_tmpfs(where: Path) -> bool:
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=1m tmpfs "$0"', str(where)],
        capture_output=True,
    )
    return shutil.which("unshare") is not None and probe.returncode == 0


@pytest.mark.parametrize("mode", ["tmpfs", "fsize"])
def test_a_write_out_of_space_fails_clearly_and_keeps_the_previous_version(
    feature_lake: tuple[SparkSession, Settings], tmp_path: Path, mode: str
) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    helper = [
        sys.executable,
        "-m",
        "tests.faults.disk_full",
        mode,
        str(mount / "lake"),
        str(feature_lake[1].lake),
    ]
    if mode == "tmpfs":
        assert can_mount_tmpfs(mount), "no user namespaces here to mount a small tmpfs in (`unshare -rm`)"
        helper = [
            "unshare",
            "-rm",
            "sh",
            "-c",
            'mount -t tmpfs -o size=16m tmpfs "$0" && exec "$@"',
            str(mount),
            *helper,
        ]
    done = subprocess.run(
        helper, capture_output=True, text=True, timeout=300, env=runs.environment(feature_lake[1])
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["error"].startswith("features.user_daily: Failed to write file: ")
    assert report["error"].endswith(CAUSES[mode])
    before_version, before_rows = report["before"]
    assert report["after_failure"] == [before_version, before_rows]
    assert report["problems"] == []
    assert report["after_retry"] == [before_version + 1, before_rows]
