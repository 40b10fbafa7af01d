"""Every writing step killed with SIGKILL at several points: no table is ever partial, a rerun completes it.

For each step: a complete run on one copy of the lake gives the tables "after"; on another copy the
step is killed at 5-6 seeded points in a row (each starting from whatever the kill before left), and
after every kill each table equals its state before the run or after the complete run, row for row,
every table passes `lake check`, and no guard, scratch space or process is left; a final rerun then
gives exactly the complete run's tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from models.registry import Registry
from shoprec.config import Settings
from tests.conftest import copy_lake
from tests.faults import killing, runs
from tests.lake_state import same_rows


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]
    prepare: tuple[tuple[str, ...], ...] = ()
    by_lines: bool = False  # no Delta commits: kill after stderr lines


STEPS = [
    Step("ingest", ("ingest", "--date", "2026-01-11")),
    Step("clean", ("clean", "--date", "2026-01-11"), prepare=(("ingest", "--date", "2026-01-11"),)),
    Step("features", ("features", "--date", "2026-01-10")),
    Step("examples", ("examples", "--date", "2026-01-10")),
    Step(
        "train",
        (
            "train",
            "--date",
            "2026-01-09",
            "--days",
            "1",
            "--nproc",
            "1",
            "--batch-size",
            "256",
            "--embedding-dim",
            "8",
        ),
        by_lines=True,
    ),
    Step("recommend", ("recommend", "--date", "2026-01-09", "--k", "5")),
    Step("evaluate", ("evaluate", "--date", "2026-01-08", "--k", "5", "--horizon", "1")),
    Step(
        "validate",
        ("validate", "--table", "features.user_daily", "--table", "clean.events", "--date", "2026-01-08"),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_a_step_killed_anywhere_leaves_each_table_before_or_after(
    fault_lake: Settings, tmp_path: Path, step: Step
) -> None:
    killed = copy_lake(fault_lake, tmp_path / "killed")
    for command in step.prepare:
        assert runs.run(killed, command).returncode == 0
    complete = copy_lake(killed, tmp_path / "complete")
    before, first = killing.rows(killed), killing.commits(complete)
    done = runs.run(complete, step.args)
    assert done.returncode == 0, done.stderr[-3000:]
    after = killing.rows(complete)
    seed = sum(map(ord, step.name))
    if step.by_lines:
        points = killing.line_points(len(done.stderr.splitlines()), seed)
    else:
        points = killing.commit_points(killing.commits(complete) - first, seed)
    started = time.monotonic()
    for point in points:
        assert killing.kill_at(killed, step.args, point) == -9, f"{step.name} was not killed at {point}"
        assert killing.partial_tables(killed, before, after) == [], f"killed at {point}"
        assert killing.leftovers(killed, scratch=False) == [], f"killed at {point}"
    rerun = runs.run(killed, step.args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    final = killing.rows(killed)
    assert [name for name in final if not same_rows(final[name], after[name])] == []
    assert killing.leftovers(killed) == []
    if step.name == "train":
        champion = Registry.for_settings(killed).champion()
        assert champion is not None and champion.path.is_dir()
    print(
        f"{step.name}: {len(points)} kills ({', '.join(map(str, points))}) in {time.monotonic() - started:.0f} s"
    )
