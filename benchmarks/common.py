"""What the benchmark scripts share: the machine description, peak memory, running a phase in its own process."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path


def machine() -> dict[str, object]:
    """CPU count, memory and platform of this machine, for the report."""
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def peak_rss_mb() -> int:
    """Peak resident memory of this process so far (an embedded Sail server included)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def parser(description: str | None, phases: list[str]) -> argparse.ArgumentParser:
    """The options every benchmark takes; `--phase`/`--home` are set when a script runs one of its phases."""
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--scale", default="medium")
    result.add_argument("--start", default="2026-01-01")
    result.add_argument("--days", type=int, default=30)
    result.add_argument("--phase", choices=phases)
    result.add_argument("--home", type=Path)
    return result


def run_phase(script: str, args: argparse.Namespace, home: Path, phase: str) -> dict:
    """Run `script --phase phase` in a fresh process (its own peak memory) and return its JSON line."""
    command = [sys.executable, script, "--phase", phase, "--home", str(home), "--scale", args.scale,
               "--start", args.start, "--days", str(args.days)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"phase {phase} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
