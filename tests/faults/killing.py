"""Killing a `shoprec` command with SIGKILL at chosen points, and what must hold afterwards.

Kill points are deterministic: the engine's write path kills the process itself before, during (a
seeded delay in milliseconds) or after its n-th commit (`SHOPREC_FAULT_AT`, see `shoprec.faults`);
steps that commit no Delta table (train, land) are killed after their n-th progress line on stderr.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
from deltalake import DeltaTable

from shoprec import catalog, lake_check, storage, write_guard
from shoprec.config import Settings
from tests.faults import runs
from tests.lake_state import lake_rows, same_rows

RUN_LOGS = ("ops.ingest_runs", "ops.validation_results")
"""Append-only run logs: every completed run adds its rows, so they are compared as sets of rows."""


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: a SHOPREC_FAULT_AT value, or after the n-th stderr line."""

    fault_at: str | None = None
    after_lines: int | None = None

    def __str__(self) -> str:
        return self.fault_at or f"stderr line {self.after_lines}"


def commit_points(commits: int, seed: int, count: int = 5) -> list[KillPoint]:
    """`count` distinct seeded kill points over a run of `commits` commits.

    Before the first and after the last commit always; the others before, during (0-400 ms in) or
    after a random commit.
    """
    rng = random.Random(seed)
    points = [KillPoint("*:before:1"), KillPoint(f"*:after:{commits}")]
    while len(points) < count:
        moment, n = rng.choice(["before", "during", "after"]), rng.randint(1, commits)
        point = KillPoint(f"*:{moment}:{n}" + (f":{rng.randint(0, 400)}" if moment == "during" else ""))
        if point not in points:
            points.append(point)
    return points


def line_points(lines: int, seed: int, count: int = 5) -> list[KillPoint]:
    """`count` seeded kill points after stderr lines 1..lines-1 (the last line means the run is done)."""
    rng = random.Random(seed)
    return [KillPoint(after_lines=n) for n in sorted(rng.sample(range(1, max(lines, count + 1)), count))]


def kill_at(settings: Settings, args: Sequence[str], point: KillPoint) -> int:
    """Run `shoprec ARGS…` until it is killed at `point`; its exit code (-9 when killed)."""
    extra = {"SHOPREC_FAULT_AT": point.fault_at} if point.fault_at else {}
    process = runs.start(settings, args, extra)
    assert process.stderr is not None
    if point.after_lines is not None:
        for seen, _ in enumerate(process.stderr, 1):
            if seen == point.after_lines:
                for child in psutil.Process(process.pid).children(recursive=True):
                    child.kill()  # a killed worker machine takes its children with it
                process.send_signal(signal.SIGKILL)
                break
    process.communicate(timeout=300)
    return process.returncode


def commits(settings: Settings) -> int:
    """Commits over every table (version + 1 each), to count a step's commits."""
    total = 0
    for table in catalog.TABLES.values():
        location = table.location(settings.lake)
        if storage.kind(location / "_delta_log") == "directory":
            total += DeltaTable(str(location)).version() + 1
    return total


def rows(settings: Settings) -> dict[str, pd.DataFrame | None]:
    """Every table's rows; run logs without duplicates (see RUN_LOGS)."""
    found = lake_rows(settings)
    for name in RUN_LOGS:
        if found[name] is not None:
            found[name] = found[name].drop_duplicates().reset_index(drop=True)
    return found


def partial_tables(
    now: dict[str, pd.DataFrame | None],
    before: dict[str, pd.DataFrame | None],
    after: dict[str, pd.DataFrame | None],
) -> list[str]:
    """Tables (of `rows` results) whose rows equal neither their state before the run nor after a complete one."""
    return [
        name for name in now if not (same_rows(now[name], before[name]) or same_rows(now[name], after[name]))
    ]


def leftovers(settings: Settings, scratch: bool = True) -> list[str]:
    """What a run must not leave: a held guard, a damaged table, a shoprec process, scratch space.

    With `scratch` False, scratch space is allowed: a killed run's is removed by the next run.
    """
    found = [
        f"guard of {t} held" for t in catalog.TABLES if write_guard.holder(settings.locks, t) is not None
    ]
    if scratch:
        space = settings.lake / "_scratch"  # a local one's empty folders count too; a bucket has only objects
        found += [
            f"scratch {name}"
            for name in (
                [p.name for p in space.glob("*")] if isinstance(space, Path) else storage.files(space)
            )
        ]
        found += [f"scratch lock {p.name}" for p in (settings.locks / "scratch").glob("*")]
    found += [f"{c.name}: {p}" for c in lake_check.check(settings) for p in c.problems]
    home = str(settings.home)
    for process in psutil.process_iter(["environ"]):
        try:
            if (process.info["environ"] or {}).get("SHOPREC_HOME") == home:
                found.append(f"process {process.pid} {' '.join(process.cmdline())}")
        except psutil.Error:
            continue
    return found
