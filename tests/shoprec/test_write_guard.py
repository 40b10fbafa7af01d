"""The per-table write guard: one writer at a time, whom a waiter waits for, no stale lock after a kill."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shoprec import write_guard

HOLD = """
import sys, time
from pathlib import Path
from shoprec import write_guard
with write_guard.held(Path(sys.argv[1]), sys.argv[2], 0):
    print("held", flush=True)
    time.sleep(60)
"""


def hold_in_child(locks: Path, table: str = "features.user_daily") -> subprocess.Popen[str]:
    """A process holding `table`'s guard (until killed), its command line ending in `--date 2026-01-08`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(locks), table, "--date", "2026-01-08"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None and child.stdout.readline() == "held\n"
    return child


def test_a_busy_table_is_refused_naming_its_writer(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    try:
        holder = write_guard.holder(tmp_path, "features.user_daily")
        assert holder is not None and holder.pid == child.pid and "--date 2026-01-08" in holder.command
        with (
            pytest.raises(
                write_guard.WriteBusy,
                match=rf"^features\.user_daily is being written by pid {child.pid} since "
                r"\d\d:\d\d:\d\d UTC \(-c .* features\.user_daily --date 2026-01-08\); gave up after waiting 0\.3 s",
            ),
            write_guard.held(tmp_path, "features.user_daily", 0.3, announce=lambda line: None),
        ):
            pass
        with write_guard.held(tmp_path, "features.item_daily", 0):  # another table is free
            pass
    finally:
        child.kill()
        child.wait()


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert write_guard.holder(tmp_path, "features.user_daily") is None
    with write_guard.held(tmp_path, "features.user_daily", 0):
        now = write_guard.holder(tmp_path, "features.user_daily")
        assert now is not None and now.pid == os.getpid()
    assert write_guard.lock_path(tmp_path, "features.user_daily").read_text() == ""


def test_a_waiter_says_whom_it_waits_for_and_goes_on_when_the_holder_ends(tmp_path: Path) -> None:
    child = hold_in_child(tmp_path)
    threading.Timer(0.5, child.kill).start()
    lines: list[str] = []
    started = time.monotonic()
    with write_guard.held(tmp_path, "features.user_daily", 30, announce=lines.append):
        waited = time.monotonic() - started
    child.wait()
    assert 0.4 < waited < 10
    assert len(lines) == 1 and re.match(
        rf"waiting: features\.user_daily is being written by pid {child.pid}", lines[0]
    )


def test_the_guard_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with write_guard.held(tmp_path, "ops.eval_metrics", 0), write_guard.held(tmp_path, "ops.eval_metrics", 0):
        pass
    with write_guard.held(tmp_path, "ops.eval_metrics", 0):
        pass
