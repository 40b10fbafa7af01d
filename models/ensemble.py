"""How many rankers a training run averages: an ensemble of seeds on small logs, one ranker otherwise.

Light on purpose (no torch): the command line reads it for its help text.
"""

from __future__ import annotations

# Members trained when none are asked for. Below SMALL_LOG_ROWS training rows one ranker's lists move
# with its seed (Online Retail, 16k rows: NDCG@10 over the best baseline from 1.08 to 1.15 across 6
# seeds) and the mean of three removes much of that; above it one ranker is kept, an ensemble
# multiplying the daily scoring time for little gain.
ENSEMBLE_MEMBERS = 3
SMALL_LOG_ROWS = 500_000


def members_for(training_rows: int, requested: int | None = None) -> int:
    """The members to train: `requested`, else ENSEMBLE_MEMBERS below SMALL_LOG_ROWS training rows, else 1."""
    if requested is not None:
        return requested
    return ENSEMBLE_MEMBERS if training_rows < SMALL_LOG_ROWS else 1


DEFAULT_HELP = f"Default: {ENSEMBLE_MEMBERS} on a log of fewer than {SMALL_LOG_ROWS:,} training rows, else 1."
