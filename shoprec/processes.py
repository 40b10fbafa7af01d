"""Background services shoprec starts (Airflow components, the Hive Metastore), found and stopped again.

Each is recorded in a PID file holding its PID and start time, so a recycled PID is never taken for
ours and `stop` only ever signals what `launch` started. A service leads its own process group
(its workers included), which is what gets signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil


def launch(
    command: Sequence[str], *, pid_file: Path, log_file: Path, cwd: Path, env: Mapping[str, str] | None = None
) -> psutil.Process:
    """Start `command` in a new session, output appended to `log_file`, and record it in `pid_file`."""
    with open(log_file, "ab") as log:
        started = subprocess.Popen(
            list(command),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    process = psutil.Process(started.pid)
    pid_file.write_text(json.dumps({"pid": process.pid, "create_time": process.create_time()}))
    return process


def recorded(pid_file: Path) -> psutil.Process | None:
    """The process `pid_file` records, if it still runs and is the one started (same PID and start time)."""
    try:
        record = json.loads(pid_file.read_text())
        process = psutil.Process(record["pid"])
        if abs(process.create_time() - record["create_time"]) > 1:
            return None
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except (OSError, ValueError, KeyError, psutil.Error):
        return None


def stop(pid_files: Sequence[Path], *, grace_seconds: float = 30) -> list[Path]:
    """SIGTERM the recorded processes' groups, SIGKILL what outlives the grace period; remove the PID files.

    Returns:
        The PID files whose process was running.
    """
    running = {path: process for path in pid_files if (process := recorded(path)) is not None}
    for process in running.values():
        _signal_group(process, signal.SIGTERM)
    _, alive = psutil.wait_procs(list(running.values()), timeout=grace_seconds)
    for process in alive:
        _signal_group(process, signal.SIGKILL)
    for path in pid_files:
        path.unlink(missing_ok=True)
    return list(running)


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and its children."""
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    return total


def _signal_group(process: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
