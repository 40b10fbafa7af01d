"""Benchmark: generate demo landing data and ingest it with the embedded Sail engine; prints JSON.

Each phase runs in its own process so its peak memory (max RSS, Sail included: it runs in-process)
is measured alone. Usage: `python benchmarks/ingest_medium.py [--scale medium] [--days 30]`.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import common
from common import peak_rss_mb


def _generate(home: Path, scale: str, start: date, days: int) -> dict[str, float]:
    from shoprec.config import Settings
    from shoprec_demo import generator

    settings = Settings(home=home)
    began = time.perf_counter()
    stats = generator.generate(
        settings.landing, settings.demo_truth, scale=scale, start=start, days=days, seed=0
    )
    seconds = time.perf_counter() - began
    return {
        "events": stats.events,
        "seconds": round(seconds, 2),
        "events_per_s": round(stats.events / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def _ingest(home: Path, start: date, days: int) -> dict[str, float]:
    from jobs import ingest
    from shoprec import engine
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
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    args = common.parser(__doc__, ["generate", "ingest"]).parse_args()
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
            "machine": common.machine(),
            "generate": common.run_phase(__file__, args, home, "generate"),
            "ingest": common.run_phase(__file__, args, home, "ingest"),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
