"""The shop's shared vocabulary: event types, what they weigh, the day windows and codes every layer uses.

Each value has its home here, and jobs, models, the demo generator, the suites and the CLI refer to it
by name. Suites reach the windows through `SUITE_CONSTANTS` (`{bought_days}` in a query).
"""

from __future__ import annotations

from typing import Literal, get_args

EventType = Literal["view", "click", "cart", "fav", "purchase"]
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
"""The event types shoprec knows; landing files use exactly these."""

EVENT_KINDS: dict[EventType, str] = {
    "view": "views",
    "click": "clicks",
    "cart": "carts",
    "fav": "favs",
    "purchase": "purchases",
}
"""Each event type's plural, the stem of its feature columns (`views_7d`, `purchases_30d`)."""

AFFINITY_WEIGHTS: dict[EventType, float] = {
    "view": 1.0,
    "click": 2.0,
    "fav": 3.0,
    "cart": 4.0,
    "purchase": 6.0,
}
"""How much one event of each type says about interest (category affinity, item scores, baselines)."""

TARGET_EVENTS: tuple[EventType, ...] = ("purchase", "cart")
"""The events that count as taking a recommended item when recommendations are evaluated."""

BOUGHT_DAYS = 30
"""Items bought in the BOUGHT_DAYS days up to D (D - 29 .. D) are not recommended again on D."""

RECENT_DAYS = 7
"""What recent means: the 7 days up to D (recent popularity, a user's recent items)."""

COLD_START_MODEL = "popularity"
"""The model_version of published rows that come from popularity (cold-start users), not the ranker."""

SKIPPED_EXIT_CODE = 99
"""Exit code of a CLI command that had nothing to do; the Airflow operator marks such a task skipped."""

SUITE_CONSTANTS: dict[str, int] = {"bought_days": BOUGHT_DAYS, "recent_days": RECENT_DAYS}
"""Names a suite's SQL may use in braces (`date_sub(DATE'{day}', {bought_days} - 1)`)."""
