"""Benchmark: DLRM training on medium-scale examples with 1 process and 2 gloo ranks; prints JSON.

Phases (each in its own process, so peak memory is its own):
  setup     generate 30 days, ingest, clean, features for the 8 days before the last, training
            examples for the last 8 label days (skipped when --home already holds a finished setup)
  train_*   `shoprec train` for the last day on the 7 label days before it: 1 rank (DLRM and DLRM-DCN)
            and 2 ranks (DLRM). Reports samples/s, losses, validation AUC vs the popularity baseline,
            and peak memory of the launcher plus its ranks.
  truth     the planted-preference reference on the same validation rows: AUC of scoring each example
            by the user's true (hidden) preference weight for the item's category.
Usage: `python benchmarks/train_medium.py [--home DIR] [--scale medium]` (DIR is kept for reuse).
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import common

WINDOW = 7  # label days trained on


def _setup(home: Path, scale: str, start: date, days: int) -> dict[str, object]:
    from jobs import clean, examples, features, ingest
    from shoprec import engine
    from shoprec_demo import generator

    done = home / "setup.json"
    if done.is_file():
        return {**json.loads(done.read_text()), "reused": True}
    settings = common.settings(home)
    last = start + timedelta(days=days - 1)
    first_label = last - timedelta(days=WINDOW)
    stats = generator.generate(settings.landing, settings.demo_truth, scale=scale, start=start, days=days)
    timings: dict[str, float] = {}
    with engine.session(settings, "benchmark-train-setup") as spark:
        for name, step in (
            ("ingest", lambda: list(ingest.run(spark, settings, start, last))),
            ("clean", lambda: clean.run(spark, settings, start, last)),
            (
                "features",
                lambda: features.run(
                    spark, settings, first_label - timedelta(days=1), last - timedelta(days=1)
                ),
            ),
            ("examples", lambda: examples.run(spark, settings, first_label, last)),
        ):
            began = time.perf_counter()
            result = step()
            timings[f"{name}_seconds"] = round(time.perf_counter() - began, 1)
            if name == "examples":
                timings["examples_summary"] = result.summary()
    report = {"events": stats.events, **timings}
    done.write_text(json.dumps(report))
    return report


def _train(home: Path, last: date, nproc: int, arch: str) -> dict[str, object]:
    from models import workflow

    settings = common.settings(home)
    began = time.perf_counter()
    outcome = workflow.run(settings, workflow.TrainOptions(day=last, days=WINDOW, nproc=nproc, arch=arch))  # type: ignore[arg-type]
    seconds = time.perf_counter() - began
    r, m = outcome.result, outcome.metrics
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest rank (+ torchrun)
    return {
        "nproc": nproc,
        "arch": arch,
        "examples": int(r["samples"]) // max(int(r["steps"]), 1) * int(r["total_steps"]) if r["steps"] else 0,
        "steps": r["steps"],
        "train_seconds": round(float(r["seconds"]), 1),
        "samples_per_second": round(float(r["samples_per_second"])),
        "first_loss": round(float(r["first_loss"]), 4),
        "last_loss": round(float(r["last_loss"]), 4),
        "validation": {k: round(v, 4) if isinstance(v, float) else v for k, v in m.as_dict().items()}
        if m
        else None,
        "decision": outcome.decision,
        "command_seconds": round(seconds, 1),
        "peak_rss_mb_launcher": common.peak_rss_mb(),
        "peak_rss_mb_largest_rank": round(children),
    }


def _truth(home: Path, last: date) -> dict[str, object]:
    import numpy as np
    import pandas as pd

    from models.auc import auc
    from models.data import open_examples
    from shoprec import catalog

    settings = common.settings(home)
    examples = open_examples(catalog.TRAINING_EXAMPLES.location(settings.lake), [last])
    rows = pd.concat(b.to_pandas() for b in examples.record_batches(["user_id", "category_id", "label"]))
    prefs = pd.read_parquet(settings.demo_truth / "preferences.parquet")
    day = pd.Timestamp(last)
    valid = prefs[
        (pd.to_datetime(prefs["valid_from"]) <= day)
        & ((prefs["valid_to"].isna()) | (pd.to_datetime(prefs["valid_to"]) > day))
    ]
    merged = rows.merge(
        valid[["user_id", "category_id", "weight"]], on=["user_id", "category_id"], how="left"
    )
    score = merged["weight"].fillna(0.0).to_numpy()
    return {
        "rows": len(merged),
        "planted_preference_auc": round(auc(merged["label"].to_numpy(), score), 4),
        "share_of_positives_in_a_preferred_category": round(
            float(np.mean(score[merged["label"] == 1] > 0)), 4
        ),
        "share_of_negatives_in_a_preferred_category": round(
            float(np.mean(score[merged["label"] == 0] > 0)), 4
        ),
    }


def main() -> None:
    phases = ["setup", "train_1_dlrm", "train_1_dlrm_dcn", "train_2_dlrm", "truth"]
    args = common.parser(__doc__, phases).parse_args()
    start, last = common.span(args)
    if args.phase:
        run = {
            "setup": lambda: _setup(args.home, args.scale, start, args.days),
            "train_1_dlrm": lambda: _train(args.home, last, 1, "dlrm"),
            "train_1_dlrm_dcn": lambda: _train(args.home, last, 1, "dlrm_dcn"),
            "train_2_dlrm": lambda: _train(args.home, last, 2, "dlrm"),
            "truth": lambda: _truth(args.home, last),
        }[args.phase]
        print(json.dumps(run()))
        return
    with tempfile.TemporaryDirectory(prefix="shoprec-bench-") as tmp:
        home = args.home or Path(tmp)
        report = {
            "benchmark": "train",
            "scale": args.scale,
            "validation_day": last.isoformat(),
            "label_days_trained": WINDOW,
            "machine": common.machine(),
            "setup": common.run_phase(__file__, args, home, "setup"),
            "runs": [common.run_phase(__file__, args, home, p) for p in phases[1:4]],
            "planted_truth_reference": common.run_phase(__file__, args, home, "truth"),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
