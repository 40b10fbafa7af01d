"""`shoprec land` killed at seeded moments: each landed day file is the old landing's or the new one's.

Landing writes files, not tables: a log landed again replaces what its earlier landing left. The
log here is 150,000 seeded rows over three days, landed once (before), then changed and landed again.
A killed landing leaves its hidden `.partial` files (readers skip hidden files); the next one removes them.
"""

from __future__ import annotations

import hashlib
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shoprec.config import Settings
from tests.faults import runs

BASE = 1_770_249_600  # 2026-02-05 00:00 UTC


def write_log(path: Path, seed: int, rows: int = 150_000) -> None:
    rng = random.Random(seed)
    kinds = ["pv", "pv", "pv", "cart", "fav", "buy"]
    with path.open("w") as out:
        for _ in range(rows):
            out.write(
                f"{rng.randint(1, 5000)},{rng.randint(1, 3000)},{rng.randint(1, 40)},"
                f"{rng.choice(kinds)},{BASE + rng.randint(0, 3 * 86400 - 1)}\n"
            )


def landed(settings: Settings) -> dict[str, str]:
    """Every file under the landing folder (hidden ones too) with its content's hash."""
    return {
        str(p.relative_to(settings.landing)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(settings.landing.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_land_killed_anywhere_leaves_the_old_or_the_new_landing(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    settings = Settings(home=tmp_path / "home")
    write_log(log, seed=1)
    assert runs.run(settings, ["land", str(log)]).returncode == 0
    before = landed(settings)
    write_log(log, seed=2)
    complete = Settings(home=tmp_path / "complete")
    started = time.monotonic()
    assert runs.run(complete, ["land", str(log)]).returncode == 0
    duration = time.monotonic() - started
    after = landed(complete)
    rng = random.Random(7)
    for delay in sorted(rng.uniform(0.2, 0.8) * duration for _ in range(5)):
        process = runs.start(settings, ["land", str(log)])
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL, f"land ended before {delay:.1f} s"
        now = landed(settings)
        visible = {
            f: d for f, d in now.items() if not Path(f).name.startswith(".")
        }  # readers skip hidden files
        partial = [f for f, digest in visible.items() if digest not in (before.get(f), after.get(f))]
        assert partial == [], f"killed after {delay:.1f} s"
    assert runs.run(settings, ["land", str(log)]).returncode == 0
    assert landed(settings) == after  # the next landing removed the killed ones' hidden partial files
