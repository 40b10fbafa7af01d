"""An Airflow worker killed while its task runs `shoprec features`: the retry succeeds, tables equal a clean run's.

The worker is a process running the DAG's `ShoprecOperator` exactly as Airflow's task runner does;
it is killed with SIGKILL (no `on_kill`) once its command has started. The command must die with it
(it leads its own process group, so nothing else stops it: without the parent-death signal it ran
on and committed its tables beside the retry, dying only on the broken pipe of its last output
line), and the retry, a new worker running the same task, must succeed and leave the tables a
clean run leaves.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from shoprec import catalog
from shoprec.config import Settings
from tests.conftest import copy_lake
from tests.faults import killing, runs
from tests.lake_state import lake_rows, same_rows

WORKER = """
from shoprec_airflow.operator import ShoprecOperator
ShoprecOperator(task_id="features", arguments=["features", "--date", "2026-01-10"]).execute({})
"""
FEATURES = [t for t in catalog.TABLES.values() if t.schema == "features"]


def worker(settings: Settings) -> subprocess.Popen[str]:
    """A process running the features task for 2026-01-10 (what Airflow's task runner does)."""
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        env=runs.environment(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_a_killed_worker_s_task_is_retried_to_a_clean_run_s_tables(
    fault_lake: Settings, tmp_path: Path
) -> None:
    clean = copy_lake(fault_lake, tmp_path / "clean")
    assert runs.run(clean, ["features", "--date", "2026-01-10"]).returncode == 0
    killed = copy_lake(fault_lake, tmp_path / "killed")
    first = worker(killed)
    assert first.stdout is not None
    for line in first.stdout:
        if "building features" in line:  # the command runs: kill the worker under it
            break
    command = psutil.Process(first.pid).children()[0]
    first.send_signal(signal.SIGKILL)
    first.wait()
    committed = killing.commits(killed)
    psutil.wait_procs([command], timeout=60)
    assert not command.is_running() or command.status() == psutil.STATUS_ZOMBIE
    assert killing.commits(killed) == committed  # it died with its worker, not after writing on alone
    retry = worker(killed)
    output = retry.communicate(timeout=300)[0]
    assert retry.returncode == 0, output[-3000:]
    built, expected = lake_rows(killed, FEATURES), lake_rows(clean, FEATURES)
    assert [t.name for t in FEATURES if not same_rows(built[t.name], expected[t.name])] == []
    assert killing.leftovers(killed) == []
