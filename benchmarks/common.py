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
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

if TYPE_CHECKING:
    pass

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


def settings(home: Path):
    """The shoprec Settings of a benchmark lake."""
    from shoprec.config import Settings

    return Settings(home=home)


def span(args: argparse.Namespace) -> tuple[date, date]:
    """The first and last day of the benchmark's demo shop (--start, --days)."""
    start = date.fromisoformat(args.start)
    return start, start + timedelta(days=args.days - 1)


def demo_lake(home: Path, scale: str, start: date, days: int) -> dict[str, float]:
    """Generate the demo shop and ingest and clean every day; its events and the seconds of each step."""
    from jobs import clean, ingest
    from shoprec import engine
    from shoprec_demo import generator

    lake = settings(home)
    stats = generator.generate(lake.landing, lake.demo_truth, scale=scale, start=start, days=days)
    end = start + timedelta(days=days - 1)
    began = time.perf_counter()
    with engine.session(lake, "benchmark-setup") as spark:
        list(ingest.run(spark, lake, start, end))
        ingested = time.perf_counter()
        clean.run(spark, lake, start, end)
    return {
        "events": stats.events,
        "ingest_seconds": round(ingested - began, 1),
        "clean_seconds": round(time.perf_counter() - ingested, 1),
    }
