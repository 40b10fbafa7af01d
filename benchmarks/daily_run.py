"""Benchmark: one day of the daily run on an existing lake, step by step; prints one JSON line per step.

For day D on a lake that holds the days before it (features as of D - 1, a registered ranker, the
published lists of D - 1), every step of the DAG's daily run through the `shoprec` command line, each
in its own process tree, timed, with the peak resident memory of the whole tree sampled every 0.1 s:

  ingest D, clean D, features as of D, validation of D's feature partitions, training examples of
  label day D, recommend D (with the ranker given), evaluate D - 1's lists on D's carts and purchases;
  then, as the reference of the features step, DuckDB doing the same aggregations as of D on the same
  inputs (D's clean.events and the per-day aggregates stored for D - 29 .. D - 1), and, for scale, the
  full 30-day recomputation from clean.events (`benchmarks/features_medium.py`), in the same run.

Weekly training is not part of a day; `benchmarks/train_medium.py` measures it. Every step is
idempotent, so the benchmark can be repeated on the same lake. Build the lake once, e.g. at medium:
`shoprec demo-data --scale medium --days 30`, then ingest, clean, features, examples and
`shoprec backtest --date D-1` (or use the lake `benchmarks/train_medium.py` leaves). The features
step is the daily path when the per-day aggregates of the 29 days before D are stored (features run
for D - 1 stores the missing ones).

Usage: `python benchmarks/daily_run.py --home DIR --date D --model-version N`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import common

FEATURE_TABLES = (
    "features.user_daily",
    "features.item_daily",
    "features.user_category",
    "features.item_cooccurrence",
)


def _duckdb_reference(home: Path, day: date, call: str, step: str) -> dict[str, object]:
    """DuckDB's time for the features step's aggregations as of `day`, in its own process.

    Args:
        home: The lake's SHOPREC_HOME.
        day: The as_of day.
        call: The `features_medium` call, given `home` and `day`, e.g. `_duckdb_incremental({home}, {day})`.
        step: The step name printed.
    """
    code = (
        "import json, features_medium as f; from datetime import date; from pathlib import Path; "
        "print(json.dumps(f."
        + call.format(home=f"Path({str(home)!r})", day=f"date.fromisoformat({day.isoformat()!r})")
        + "))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=Path(__file__).parent, capture_output=True, text=True, check=True
    )
    return {"step": step, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    """Run the day's steps and print each step's JSON line, then the features/DuckDB ratio."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--home", type=Path, required=True, help="SHOPREC_HOME of the lake.")
    cli.add_argument("--date", type=date.fromisoformat, required=True, help="The day D to run.")
    cli.add_argument(
        "--model-version", type=int, help="Registry version to recommend with (default champion)."
    )
    cli.add_argument("--include-bought", action="store_true", help="The shop recommends items bought before.")
    options = cli.parse_args()

    env = {**os.environ, "SHOPREC_HOME": str(options.home)}
    day = options.date.isoformat()
    previous = (options.date - timedelta(days=1)).isoformat()
    bought = ["--include-bought"] if options.include_bought else []
    version = ["--model-version", str(options.model_version)] if options.model_version else []
    steps = [
        ["ingest", "--date", day],
        ["clean", "--date", day],
        ["features", "--date", day],
        ["validate", *(arg for table in FEATURE_TABLES for arg in ("--table", table)), "--date", day],
        ["examples", "--date", day],
        ["recommend", "--date", day, *version, *bought],
        [
            "evaluate",
            "--date",
            previous,
            "--horizon",
            "1",
            *(["--repeat-purchases"] if options.include_bought else []),
        ],
    ]
    print(json.dumps({"machine": common.machine(), "home": str(options.home), "date": day}), flush=True)
    seconds: dict[str, float] = {}
    for args in steps:
        step = common.measured(args, env)
        report = {k: v for k, v in step.items() if k not in ("stdout", "stderr")}
        seconds[args[0]] = float(report["seconds"])
        print(json.dumps(report), flush=True)
    reference = _duckdb_reference(
        options.home, options.date, "_duckdb_incremental({home}, {day})", "duckdb_features_same_inputs"
    )
    print(json.dumps(reference), flush=True)
    full = _duckdb_reference(
        options.home,
        options.date,
        "_duckdb({home}, {day}, 'clean_events_parquet')",
        "duckdb_features_full_recomputation",
    )
    print(json.dumps(full), flush=True)
    print(
        json.dumps(
            {
                "features_over_duckdb_same_inputs": round(
                    seconds["features"] / max(float(reference["seconds"]), 1e-9), 2
                ),
                "daily_run_seconds": round(sum(seconds.values()), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
