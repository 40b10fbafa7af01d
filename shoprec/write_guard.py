"""One writer per table at a time: an exclusive `flock` on `<locks>/<schema>.<table>.lock` (`Settings.locks`).

Sail 0.7 has no Delta conflict resolution: two commits racing for the same version fail with
`Failed to commit transaction: 0`, even when they touch different partitions. Every write to a
catalog table (the engine's write functions, `lake restore`) therefore holds the table's guard
around its commit. A second writer waits for it (runs of different days are serialised and both
succeed) and says on stderr whom it waits for; after `SHOPREC_WRITE_WAIT` seconds it gives up with
`WriteBusy`, naming the holder:

    features.user_daily is being written by pid 1234 since 03:02:11 UTC (shoprec features --date 2026-01-08)

The lock is held on an open file, so the kernel releases it when the holder exits or is killed: a
killed run never blocks the next one. The file stays (removing it would race with a waiter holding
the old inode); it holds the holder's pid, command line and start time while held and is empty after.
Guards are re-entrant within a process (a job may write a table it is already writing).
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shoprec.engine_errors import EngineError

POLL_SECONDS = 0.2


class WriteBusy(EngineError):
    """Another process kept writing the table for longer than this one was allowed to wait."""


@dataclass(frozen=True)
class Holder:
    """Who holds a table's guard: pid, command line, start time (UTC)."""

    pid: int
    command: str
    since: datetime

    def describe(self, table: str) -> str:
        """`<table> is being written by pid N since HH:MM:SS UTC (<command>)`."""
        return f"{table} is being written by pid {self.pid} since {self.since:%H:%M:%S} UTC ({self.command})"


def lock_path(locks: Path, table: str) -> Path:
    """The lock file guarding `table` (`schema.table`) in the lock folder `locks`."""
    return locks / f"{table}.lock"


def command_line() -> str:
    """This process's command line as an operator would type it (`shoprec features --date …`)."""
    words = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    return shlex.join(words)


def holder(locks: Path, table: str) -> Holder | None:
    """The current holder of `table`'s guard, or None when nobody holds it."""
    path = lock_path(locks, table)
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(path)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _read_holder(path: Path) -> Holder:
    """The holder recorded in a held lock file (unknown fields while the holder is still writing them)."""
    try:
        record = json.loads(path.read_text())
        return Holder(int(record["pid"]), str(record["command"]), datetime.fromisoformat(record["since"]))
    except (OSError, ValueError, KeyError):
        return Holder(0, "unknown command", datetime.now(UTC))


class _Held:
    """This process's hold on one table's guard (re-entrant across nested writes)."""

    def __init__(self) -> None:
        self.mutex = threading.RLock()
        self.depth = 0
        self.handle: int | None = None


_HELD: dict[Path, _Held] = {}
_HELD_MUTEX = threading.Lock()


@contextmanager
def held(
    locks: Path, table: str, wait_seconds: float, announce: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold `table`'s guard for the duration, waiting up to `wait_seconds` for another holder.

    Args:
        locks: The lake's lock folder (`Settings.locks`).
        table: The table's name, `schema.table`.
        wait_seconds: How long to wait for another process's write before raising `WriteBusy`.
        announce: Called once with a line saying whom this write waits for (default: stderr).
    """
    path = lock_path(locks, table)
    with _HELD_MUTEX:
        state = _HELD.setdefault(path, _Held())
    with state.mutex:
        if state.depth == 0:
            state.handle = _acquire(path, table, wait_seconds, announce or _to_stderr)
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
            if state.depth == 0 and state.handle is not None:
                os.ftruncate(state.handle, 0)
                os.close(state.handle)  # closing the last descriptor releases the flock
                state.handle = None


def _acquire(path: Path, table: str, wait_seconds: float, announce: Callable[[str], None]) -> int:
    """Take the flock on `path` (waiting for another holder), record who holds it, return the descriptor."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                other = _read_holder(path)
                os.close(handle)
                raise WriteBusy(
                    f"{other.describe(table)}; gave up after waiting {wait_seconds:g} s "
                    "(SHOPREC_WRITE_WAIT): rerun when it has finished"
                ) from None
            if not announced:
                announce(f"waiting: {_read_holder(path).describe(table)}")
                announced = True
            time.sleep(POLL_SECONDS)
    record = {"pid": os.getpid(), "command": command_line(), "since": datetime.now(UTC).isoformat()}
    os.ftruncate(handle, 0)
    os.pwrite(handle, json.dumps(record).encode(), 0)
    return handle


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
