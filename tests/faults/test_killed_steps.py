"""Every writing step killed with SIGKILL at several points: no table is ever partial, a rerun completes it.

For each step: a complete run on one copy of the lake gives the tables "after"; on another copy, at
the same time, the step is killed at 5 seeded points in a row (each starting from whatever the kill
before left), and after every kill each table equals its state before the run or after the complete run, row for row,
every table passes `lake check`, and no guard, scratch space or process is left; a final rerun then
gives exactly the complete run's tables. `features` is killed the same way on a lake in an S3 bucket.
"""

from __future__ import annotations

import shlex
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from models.registry import Registry
from shoprec.config import Settings
from shoprec.storage import ObjectPath
from tests.conftest import copy_lake
from tests.faults import killing, runs
from tests.lake_state import same_rows
from tests.s3_server import S3Server


@dataclass(frozen=True)
class Step:
    name: str
    args: tuple[str, ...]
    commits: int = 0  # Delta commits of a complete run (kill points before, during and after them)
    prepare: tuple[tuple[str, ...], ...] = ()
    by_lines: bool = False  # no Delta commits: kill after stderr lines


STEPS = [
    Step("ingest", ("ingest", "--date", "2026-01-11"), 4),
    Step("clean", ("clean", "--date", "2026-01-11"), 3, prepare=(("ingest", "--date", "2026-01-11"),)),
    Step("features", ("features", "--date", "2026-01-10"), 9),  # 5 per-day aggregates, 4 feature tables
    Step("examples", ("examples", "--date", "2026-01-10"), 1),
    Step(
        "train",
        # one ranker: a resumed ensemble skips its finished members, so it prints fewer lines than the
        # reference run and kill points counted in the reference's lines could never be reached
        tuple(
            shlex.split(
                "train --date 2026-01-09 --days 1 --nproc 1 --batch-size 256 --embedding-dim 8 --members 1"
            )
        ),
        by_lines=True,
    ),
    Step("recommend", ("recommend", "--date", "2026-01-09", "--k", "5"), 5),
    Step("evaluate", ("evaluate", "--date", "2026-01-08", "--k", "5", "--horizon", "1"), 2),
    Step("validate", ("validate", "--table", "features.user_daily", "--date", "2026-01-08"), 1),
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
    killed_anywhere(killed, complete, step)


@pytest.mark.slow
@pytest.mark.objectstore
def test_features_killed_anywhere_on_object_storage_leave_each_table_before_or_after(
    fault_lake: Settings, s3_server: S3Server, tmp_path: Path
) -> None:
    """The same on a lake in an S3 bucket, killed during 4 of its 9 commits (uploading data files or the log entry)."""
    bucket = s3_server.bucket("faults")
    killed = on_object_storage(fault_lake, tmp_path / "killed", bucket / "killed")
    complete = on_object_storage(fault_lake, tmp_path / "complete", bucket / "complete")
    points = [killing.KillPoint(f"*:during:{n}:{ms}") for n, ms in ((1, 40), (5, 400), (7, 150), (9, 800))]
    killed_anywhere(killed, complete, next(s for s in STEPS if s.name == "features"), points)


def on_object_storage(source: Settings, home: Path, lake: ObjectPath) -> Settings:
    """Settings over a copy of `source`: its home under `home`, its lake copied to `lake` in a bucket."""
    shutil.copytree(
        source.home, home, ignore=lambda folder, _: ["lake"] if Path(folder) == source.home else []
    )
    pafs.copy_files(str(source.lake), str(lake))
    return Settings(home=home, lake_dir=str(lake))


def killed_anywhere(
    killed: Settings, complete: Settings, step: Step, points: list[killing.KillPoint] | None = None
) -> None:
    """Kill `step` on `killed` at `points` while it runs whole on `complete`; check every state and a rerun.

    `points` defaults to 5 seeded ones.
    """
    before, first = killing.rows(killed), killing.commits(complete)
    reference = runs.start(complete, step.args)  # the complete run, beside the killed ones
    seed = sum(map(ord, step.name))
    if points is None and step.by_lines:  # kill points need its output: wait for it
        lines = len(reference.communicate(timeout=600)[1].splitlines())
        points = killing.line_points(lines, seed)
    elif points is None:
        points = killing.commit_points(step.commits, seed)
    started = time.monotonic()
    states = []
    for point in points:
        assert killing.kill_at(killed, step.args, point) == -9, f"{step.name} was not killed at {point}"
        states.append((point, killing.rows(killed)))
        assert killing.leftovers(killed, scratch=False) == [], f"killed at {point}"
    output = reference.communicate(timeout=600)[1]
    assert reference.returncode == 0, output[-3000:]
    assert killing.commits(complete) - first == step.commits or step.by_lines
    after = killing.rows(complete)
    for point, state in states:
        assert killing.partial_tables(state, before, after) == [], f"killed at {point}"
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
