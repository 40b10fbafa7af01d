"""What the benchmark scripts share: the machine description, peak memory, running a phase in its own process."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

SHOPREC = str(Path(sys.executable).with_name("shoprec"))


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


def measured(args: list[str], env: dict[str, str]) -> dict[str, object]:
    """Run `shoprec *args`, sampling the peak RSS of its whole process tree; fail loudly on a non-zero exit.

    Output goes to temporary files, not pipes: a chatty step would block on a full pipe while sampled.
    """
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen([SHOPREC, *args], env=env, stdout=out, stderr=err, text=True)
        root = psutil.Process(process.pid)
        peak = 0
        while process.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode:
        raise SystemExit(f"shoprec {' '.join(args)} failed ({process.returncode}):\n{stderr[-3000:]}")
    return {
        "step": args[0],
        "args": " ".join(args[1:]),
        "seconds": round(time.perf_counter() - began, 1),
        "peak_rss_mb": round(peak / 2**20),
        "result": stdout.strip().splitlines()[-1] if stdout.strip() else "",
        "stdout": stdout,
        "stderr": stderr,
    }
