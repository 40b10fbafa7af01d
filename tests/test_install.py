"""A plain `pip install .` (not editable) carries the suites and the DAGs: the CLI runs from anywhere.

The fresh venv borrows this environment's dependencies through a `.pth` line (its nested `.pth`
files, such as an editable shoprec's finder, are not read), so only shoprec itself is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyspark
import pytest

ROOT = Path(__file__).parents[1]


def _sources(target: Path) -> Path:
    """A copy of the tracked and new files (the build writes build/ and *.egg-info next to them)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in listed:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


@pytest.mark.slow
def test_a_non_editable_install_runs_demo_data_ingest_validate_and_lists_the_dag(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "dependencies.pth").write_text(f"{Path(pyspark.__file__).parents[1]}\n")
    source = _sources(tmp_path / "src")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)], check=True
    )
    shutil.rmtree(source)  # the installed copy must not lean on the sources
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPREC_", "PYTHONPATH"))}
    env["SHOPREC_HOME"] = str(tmp_path / "home")
    work = tmp_path / "elsewhere"
    work.mkdir()

    def shoprec(*args: str) -> str:
        done = subprocess.run(
            [venv / "bin" / "shoprec", *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    shoprec("demo-data", "--scale", "tiny", "--start", "2026-01-01", "--days", "1")
    assert "accepted" in shoprec("ingest", "--date", "2026-01-01")
    assert "0 blocking failures" in shoprec("validate", "--table", "raw.events", "--date", "2026-01-01")
    listing = subprocess.run(
        [
            python,
            "-c",
            "from airflow.dag_processing.dagbag import DagBag; from shoprec.config import Settings; "
            "bag = DagBag(dag_folder=str(Settings().dags)); print(sorted(bag.dags), bag.import_errors)",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert listing.stdout.strip().splitlines()[-1] == "['shoprec_daily'] {}"
    assert (
        "site-packages"
        in subprocess.run(
            [python, "-c", "from shoprec.config import Settings; print(Settings().suites)"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
