"""Benchmark: the whole chain on a real public log, as a new user runs it; prints one JSON line per step.

land -> ingest -> clean -> features -> examples -> train -> recommend -> evaluate, each through the
`shoprec` command line in its own process tree, timed, with the peak resident memory of the whole
tree (Sail, torchrun ranks included) sampled every 0.1 s. The log itself is never part of this
repository: fetch it and pass its path(s) and the `shoprec land` mapping options.

Usage (UCI Online Retail's daily invoice files, Tmall 2014's click/fav/cart/buy log):

    python benchmarks/real_log.py --home /tmp/retail --run-date 2011-11-30 --first 2010-12-01 \
        --repeat-purchases --max-reject-rate 0.2 \
        --land "--format csv --columns user_id=CustomerID,item_id=StockCode,event_ts=InvoiceDate,\
price=UnitPrice,quantity=Quantity,session_id=InvoiceNo --event-type purchase" retail/by-day/*.csv
    python benchmarks/real_log.py --home /tmp/tmall --run-date 2014-08-08 --first 2014-04-15 \
        --repeat-purchases \
        --land "--format csv --columns item_id=brand_id,event_type=type,event_ts=visit_datetime \
--event-types click=0,purchase=1,fav=2,cart=3 --timestamp-format %m-%d --year 2014" t_alibaba_data.csv

The lake is built from `--first` (default: 30 days + train days before the run date, so every
feature window is full) to 7 days after the run date; the ranker trains on `--train-days` label
days before the run date; the run date's lists are evaluated on the next day and the next 7 days.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
from datetime import date, timedelta
from pathlib import Path

import common


def main() -> None:
    """Run the chain and print each step's JSON line, then the evaluation rows."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("paths", nargs="+", help="The log file(s) to land.")
    cli.add_argument("--land", required=True, help="`shoprec land` options mapping the log's layout.")
    cli.add_argument("--home", type=Path, required=True, help="SHOPREC_HOME of the new lake.")
    cli.add_argument("--run-date", type=date.fromisoformat, required=True, help="Day to recommend for.")
    cli.add_argument("--first", type=date.fromisoformat, help="First day to ingest (default: see above).")
    cli.add_argument("--train-days", type=int, default=14)
    cli.add_argument("--train-args", default="--epochs 4 --choose-epochs --batch-size 512 --embedding-dim 16")
    cli.add_argument(
        "--repeat-purchases",
        action="store_true",
        help="The shop recommends items bought before (both sides).",
    )
    cli.add_argument("--max-reject-rate", default="0.05", help="Passed to ingest.")
    options = cli.parse_args()

    env = {**os.environ, "SHOPREC_HOME": str(options.home)}
    day = options.run_date
    first = options.first or day - timedelta(days=29 + options.train_days)
    last = day + timedelta(days=7)
    label_first = day - timedelta(days=options.train_days)
    span = ["--start", first.isoformat(), "--end", last.isoformat()]
    steps = [
        ["land", *shlex.split(options.land), *options.paths],
        ["ingest", *span, "--max-reject-rate", options.max_reject_rate],
        ["clean", *span],
        ["features", "--start", (label_first - timedelta(days=1)).isoformat(), "--end", day.isoformat()],
        ["examples", "--start", label_first.isoformat(), "--end", day.isoformat()],
        [
            "train",
            "--date",
            day.isoformat(),
            "--days",
            str(options.train_days),
            *shlex.split(options.train_args),
        ],
        ["recommend", "--date", day.isoformat(), *(["--include-bought"] if options.repeat_purchases else [])],
        [
            "evaluate",
            "--date",
            day.isoformat(),
            *(["--repeat-purchases"] if options.repeat_purchases else []),
        ],
    ]
    print(json.dumps({"machine": common.machine(), "home": str(options.home), "run_date": day.isoformat()}))
    for args in steps:
        step = common.measured(args, env)
        report = {k: v for k, v in step.items() if k not in ("stdout", "stderr")}
        if args[0] == "evaluate":
            report["table"] = step["stdout"].strip().splitlines()[1:]
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
