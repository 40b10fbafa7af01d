"""Benchmark: generate demo landing data and ingest it with the embedded Sail engine; prints JSON.

Each phase runs in its own process so its peak memory (max RSS, Sail included: it runs in-process)
is measured alone. Usage: `python benchmarks/ingest_medium.py [--scale medium] [--days 30]`.
"""

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


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _generate(home: Path, scale: str, start: date, days: int) -> dict[str, float]:
    from shoprec import demo_data
    from shoprec.config import Settings

    settings = Settings(home=home)
    began = time.perf_counter()
    stats = demo_data.generate(
        settings.landing, settings.demo_truth, scale=scale, start=start, days=days, seed=0
    )
    seconds = time.perf_counter() - began
    return {
        "events": stats.events,
        "seconds": round(seconds, 2),
        "events_per_s": round(stats.events / seconds),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _ingest(home: Path, start: date, days: int) -> dict[str, float]:
    from jobs import ingest
    from shoprec import spark as engine
    from shoprec.config import Settings

    settings = Settings(home=home)
    began = time.perf_counter()
    with engine.session(settings, "benchmark-ingest") as spark:
        per_day = list(ingest.run(spark, settings, start, start + timedelta(days=days - 1)))
    seconds = time.perf_counter() - began
    read = sum(s.read for s in per_day)
    return {
        "rows_read": read,
        "rows_accepted": sum(s.accepted for s in per_day),
        "seconds": round(seconds, 2),
        "events_per_s": round(read / seconds),
        "slowest_day_s": round(max(s.seconds for s in per_day), 2),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def _phase(name: str, home: Path, args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--phase", name, "--home", str(home), "--scale", args.scale,
               "--start", args.start, "--days", str(args.days)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", default="medium")
    parser.add_argument("--start", default="2026-01-01")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--phase", choices=["generate", "ingest"])
    parser.add_argument("--home", type=Path)
    args = parser.parse_args()
    start = date.fromisoformat(args.start)
    if args.phase == "generate":
        print(json.dumps(_generate(args.home, args.scale, start, args.days)))
        return
    if args.phase == "ingest":
        print(json.dumps(_ingest(args.home, start, args.days)))
        return
    with tempfile.TemporaryDirectory(prefix="shoprec-bench-") as tmp:
        home = Path(tmp)
        report = {
            "benchmark": "ingest",
            "scale": args.scale,
            "days": args.days,
            "machine": {
                "cpus": os.cpu_count(),
                "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                "platform": platform.platform(),
                "python": platform.python_version(),
            },
            "generate": _phase("generate", home, args),
            "ingest": _phase("ingest", home, args),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
