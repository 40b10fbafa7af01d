"""Benchmark: `shoprec recommend` + `shoprec evaluate` on the medium scale; prints JSON.

Reuses the lake that `benchmarks/train_medium.py --home DIR` builds (features as of the 8 days before
the last, examples, a champion ranker); run that first with the same --home. Phases run in their own
processes (own peak memory):
  recommend   candidates, DLRM scoring, top K with the category cap, validation, publication for
              run_date = the day before the last (so the last day's events can judge it)
  evaluate    Precision/Recall/NDCG/MAP/HitRate@10,20 of the published lists vs the baselines and the
              planted-preference ceiling on the last day's purchases + carts
Usage: `python benchmarks/recommend_medium.py --home DIR [--k 20]`.
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

import common


def _recommend(home: Path, day: date) -> dict[str, object]:
    from jobs import recommend
    from shoprec import engine

    settings = common.settings(home)
    began = time.perf_counter()
    with engine.session(settings, "benchmark-recommend") as spark:
        stats = recommend.run(spark, settings, day, recommend.RecommendConfig(), progress=lambda _: None)
    seconds = time.perf_counter() - began
    active = stats.users - stats.cold_start_users
    return {
        "run_date": day.isoformat(),
        "model_version": stats.model_version,
        "active_users": active,
        "cold_start_users": stats.cold_start_users,
        "candidate_pairs": stats.candidates,
        "candidates_per_user": round(stats.candidates / max(active, 1), 1),
        "scoring_seconds": round(stats.scoring_seconds, 1),
        "candidate_pairs_scored_per_second": round(stats.pairs_per_second),
        "users_scored_per_second": round(active / max(stats.scoring_seconds, 1e-9)),
        "rows_published": stats.rows,
        "audience_rows": stats.audience_rows,
        "end_to_end_seconds": round(seconds, 1),
        "peak_rss_mb": common.peak_rss_mb(),
    }


def _evaluate(home: Path, day: date) -> dict[str, object]:
    from jobs import offline_eval
    from shoprec import engine

    settings = common.settings(home)
    began = time.perf_counter()
    with engine.session(settings, "benchmark-evaluate") as spark:
        stats = offline_eval.run(spark, settings, day, horizons=(1,))
    return {
        "seconds": round(time.perf_counter() - began, 1),
        "table": stats.table(),
        "peak_rss_mb": common.peak_rss_mb(),
    }


def main() -> None:
    phases = ["recommend", "evaluate"]
    args = common.parser(__doc__, phases).parse_args()
    if args.home is None:
        raise SystemExit("--home DIR is required: the lake built by benchmarks/train_medium.py --home DIR")
    last = date.fromisoformat(args.start) + timedelta(days=args.days - 1)
    run_date = last - timedelta(days=1)
    if args.phase:
        run = {
            "recommend": lambda: _recommend(args.home, run_date),
            "evaluate": lambda: _evaluate(args.home, run_date),
        }
        print(json.dumps(run[args.phase]()))
        return
    report = {
        "benchmark": "recommend",
        "scale": args.scale,
        "machine": common.machine(),
        "recommend": common.run_phase(__file__, args, args.home, "recommend"),
        "evaluate": common.run_phase(__file__, args, args.home, "evaluate"),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
