"""Benchmark: build training.examples for one label day and a 7-day backfill at medium scale; prints JSON.

Phases run in separate processes so each peak memory (max RSS, the in-process Sail included) is its
own: setup (generate, ingest, clean, and features as of the 7 days before the last day), examples
for the last day, a 7-day backfill of label days, and the validation of the last day's partition.
Usage: `python benchmarks/examples_medium.py [--scale medium] [--days 30]`.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import common
from common import peak_rss_mb

BACKFILL_DAYS = 7


def _setup(home: Path, scale: str, start: date, days: int) -> dict[str, float]:
    from jobs import features
    from shoprec import engine

    built = common.demo_lake(home, scale, start, days)
    last = start + timedelta(days=days - 1)
    began = time.perf_counter()
    with engine.session(common.settings(home), "benchmark-setup") as spark:
        features.run(
            spark, common.settings(home), last - timedelta(days=BACKFILL_DAYS), last - timedelta(days=1)
        )
    return {**built, "features_seconds": round(time.perf_counter() - began, 1)}


def _examples(home: Path, first: date, last: date) -> dict[str, object]:
    from jobs import examples
    from shoprec import engine

    settings = common.settings(home)
    with engine.session(settings, "benchmark-examples") as spark:
        began = time.perf_counter()
        stats = examples.run(spark, settings, first, last)
        seconds = time.perf_counter() - began
    rows = stats.positives + stats.negatives
    return {
        "label_days": (last - first).days + 1,
        "seconds": round(seconds, 1),
        "rows": rows,
        "positives": stats.positives,
        "negatives": stats.negatives,
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def _validate(home: Path, day: date) -> dict[str, object]:
    from shoprec import engine
    from shoprec_quality import validation

    settings = common.settings(home)
    with engine.session(settings, "benchmark-validate") as spark:
        began = time.perf_counter()
        report = validation.validate(spark, settings, "training.examples", day)
        seconds = time.perf_counter() - began
    return {
        "seconds": round(seconds, 1),
        "expectations": len(report.results),
        "blocking_failures": len(report.blocking_failures),
        "warnings": len(report.warnings),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    phases = ["setup", "examples", "backfill", "validate"]
    args = common.parser(__doc__, phases).parse_args()
    start, last = common.span(args)
    if args.phase:
        run = {
            "setup": lambda: _setup(args.home, args.scale, start, args.days),
            "examples": lambda: _examples(args.home, last, last),
            "backfill": lambda: _examples(args.home, last - timedelta(days=BACKFILL_DAYS - 1), last),
            "validate": lambda: _validate(args.home, last),
        }[args.phase]
        print(json.dumps(run()))
        return
    with tempfile.TemporaryDirectory(prefix="shoprec-bench-") as tmp:
        home = Path(tmp)
        report = {
            "benchmark": "examples",
            "scale": args.scale,
            "history_days": args.days,
            "label_day": last.isoformat(),
            "machine": common.machine(),
            "setup": common.run_phase(__file__, args, home, "setup"),
            "examples_one_day": common.run_phase(__file__, args, home, "examples"),
            f"examples_backfill_{BACKFILL_DAYS}_days": common.run_phase(__file__, args, home, "backfill"),
            "validate_one_day": common.run_phase(__file__, args, home, "validate"),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
