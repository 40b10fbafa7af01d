"""A test hook that SIGKILLs this process at a chosen point of a table write; off unless SHOPREC_FAULT_AT is set.

The engine's write path (`engine._writing`) is its only caller. `SHOPREC_FAULT_AT=<table>:<moment>[:<n>[:<ms>]]`:

- `<table>`: `schema.table`, or `*` for any table;
- `<moment>`: `before` (the guard is held, nothing written yet), `during` (`<ms>` milliseconds into the
  write, from a timer thread, while the engine writes data files or commits; right after the commit
  if the write is done sooner) or `after` (committed);
- `<n>`: the n-th write of that table in this process (default 1).

The fault-injection suite (`tests/faults/`) uses it to kill every writing step at chosen points.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

_WRITES: Counter[str] = Counter()
_ARMED: list[threading.Timer] = []


def _spec() -> tuple[str, str, int, int] | None:
    raw = os.environ.get("SHOPREC_FAULT_AT", "")
    if not raw:
        return None
    table, moment, *rest = raw.split(":")
    n = int(rest[0]) if rest else 1
    ms = int(rest[1]) if len(rest) > 1 else 0
    return table, moment, n, ms


def starting(table: str) -> None:
    """A write of `table` begins: kill now (`before`) or arm a timer (`during`) if this write is the one."""
    spec = _spec()
    _WRITES[table] += 1
    if spec is None or spec[0] not in (table, "*"):
        return
    _, moment, n, ms = spec
    count = _WRITES[table] if spec[0] == table else sum(_WRITES.values())
    if count != n:
        return
    if moment == "before":
        _kill()
    elif moment == "during":
        timer = threading.Timer(ms / 1000, _kill)
        timer.daemon = True
        timer.start()
        _ARMED.append(timer)


def committed(table: str) -> None:
    """A write of `table` has committed: kill now if `after` this write was asked for, or `during` it."""
    if _ARMED:
        _kill()
    spec = _spec()
    if spec is None or spec[0] not in (table, "*") or spec[1] != "after":
        return
    count = _WRITES[table] if spec[0] == table else sum(_WRITES.values())
    if count == spec[2]:
        _kill()


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)
