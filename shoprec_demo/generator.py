"""The demo generator's entry point: simulate a shop day by day and write its landing and truth files.

All randomness comes from ``numpy.random.SeedSequence(seed, spawn_key=(stream, day_index))``, so
the same arguments give byte-identical files, and day ``k`` is identical whether it is generated
in a run of ``k + 1`` days or of more days with the same ``start`` (runs are prefix-stable).
The world is anchored at ``start``: a run with a later ``start`` simulates a fresh shop from that
day, so to extend a data set rerun with the same ``start`` and more ``days`` (existing days are
rewritten byte-identically).  Corrupt lines come from a stream of their own, so the valid lines
do not depend on ``corrupt_rate``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np

from shoprec_demo import habits, simulate, world
from shoprec_demo.scales import SCALES
from shoprec_demo.truth import write_truth
from shoprec_demo.writers import clear_day, write_events, write_items, write_users

# random streams
_S_WORLD_INIT, _S_WORLD_DAY, _S_EVENTS, _S_CORRUPT, _S_HABITS = 1, 2, 3, 4, 5


@dataclass(frozen=True)
class GenerationStats:
    """Summary of one ``generate`` call.

    Attributes:
        days: Days generated.
        events: Valid event rows written (behaviour log: without clicks; corrupt lines excluded).
        users: Users existing at the end of the range.
        items: Items existing at the end of the range.
        corrupt_lines: Corrupt lines written in addition to the valid events.
        seconds: Wall-clock duration of the call.
    """

    days: int
    events: int
    users: int
    items: int
    corrupt_lines: int
    seconds: float


def _rng(seed: int, stream: int, day_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, day_index)))


def _check(scale: str, days: int, seed: int, event_format: str, corrupt_rate: float) -> None:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {', '.join(SCALES)}")
    if event_format not in ("jsonl", "behavior-log"):
        raise ValueError(f"unknown event_format {event_format!r}; expected 'jsonl' or 'behavior-log'")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be an integer >= 1, got {days!r}")
    if not 0.0 <= corrupt_rate <= 0.5:
        raise ValueError(f"corrupt_rate must be within [0, 0.5], got {corrupt_rate!r}")
    if corrupt_rate > 0 and event_format != "jsonl":
        raise ValueError("corrupt_rate > 0 is only supported with event_format='jsonl'")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _params(scale: str, start: date, days: int, seed: int, event_format: str, corrupt_rate: float) -> dict:
    return {
        "scale": scale,
        "scale_params": asdict(SCALES[scale]),
        "seed": seed,
        "start": start.isoformat(),
        "end": (start + timedelta(days=days - 1)).isoformat(),
        "days": days,
        "event_format": event_format,
        "corrupt_rate": corrupt_rate,
        "funnel": {k: {"base": b, "gain_per_affinity": g} for k, (b, g) in simulate.FUNNEL.items()},
        "funnel_formula": "p = base + gain_per_affinity * weight of the item's category for the user",
        "restock_funnel": simulate.RESTOCK,
        "storewide_share": simulate.STOREWIDE_SHARE,
        "storewide_exponent": simulate.STOREWIDE_EXPONENT,
        "view_formula": (
            "P(view of item i) = (1 - storewide_share) * weight(user, category of i) * a_i / sum of a over "
            "the category's items + storewide_share * a_i ** storewide_exponent / sum over all items, "
            "a = attractiveness on the day (items.parquet: popularity and trend_*)"
        ),
        "session_stay_prob": simulate.SESSION_STAY_PROB,
        "weekday_factors_mon_to_sun": list(simulate.WEEKDAY_FACTORS),
        "attractiveness_sigma": world.ATTRACTIVENESS_SIGMA,
        "consumable_share": world.CONSUMABLE_SHARE,
        "habit_form_prob": habits.HABIT_FORM_PROB,
        "habit_end_prob_per_cycle": habits.HABIT_END_PROB,
        "preferences_validity": "valid_from <= day < valid_to (valid_to null while current)",
        "ids": "user, item, category and brand ids are 1-based",
    }


def generate(
    landing: Path,
    truth_dir: Path,
    *,
    scale: str = "tiny",
    start: date,
    days: int,
    seed: int = 0,
    event_format: Literal["jsonl", "behavior-log"] = "jsonl",
    corrupt_rate: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> GenerationStats:
    """Simulate a shop and write landing files for ``days`` days from ``start`` plus truth files.

    Existing landing partitions of the generated days are deleted first (reruns are idempotent);
    the truth files are rewritten for this call's range.

    Args:
        landing: Root of the landing area (``events/``, ``items/``, ``users/`` are created below).
        truth_dir: Folder for the truth files (``shoprec_demo.truth``).
        scale: One of the keys of ``SCALES``.
        start: First simulated (UTC) day.
        days: Number of days to generate (>= 1).
        seed: Non-negative random seed; same arguments give byte-identical files.
        event_format: ``"jsonl"`` event export or the public ``"behavior-log"`` CSV layout.
        corrupt_rate: Fraction (0 to 0.5) of extra corrupt event lines; JSONL only.
        progress: Optional callback receiving one short line per generated day.

    Returns:
        Counts of the generated data and the elapsed seconds.

    Raises:
        ValueError: For an unknown scale or format, ``days < 1``, a negative seed or a
            ``corrupt_rate`` outside [0, 0.5] (or non-zero with the behaviour-log format).
    """
    t0 = time.perf_counter()
    _check(scale, days, seed, event_format, corrupt_rate)
    if isinstance(start, datetime):
        start = start.date()
    sc = SCALES[scale]
    landing, truth_dir = Path(landing), Path(truth_dir)
    key = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
    shop = world.init_world(sc, _rng(seed, _S_WORLD_INIT, 0), start.toordinal())
    closed_prefs: list[dict[str, np.ndarray]] = []
    closed_habits: list[dict[str, np.ndarray]] = []
    n_events = n_corrupt = 0
    for d in range(days):
        day = start + timedelta(days=d)
        clear_day(landing, day)
        if d == 0:
            new_users, items = np.arange(len(shop.user_signup)), np.arange(len(shop.item_cat))
        else:
            new_users, items = world.evolve_world(
                shop, sc, _rng(seed, _S_WORLD_DAY, d), day.toordinal(), closed_prefs
            )
        write_users(shop, new_users, landing, day)
        write_items(shop, items, landing, day)
        ev = simulate.simulate_day(shop, sc, _rng(seed, _S_EVENTS, d), day)
        n_ok, n_bad = write_events(
            ev, landing, day, key, event_format, corrupt_rate, _rng(seed, _S_CORRUPT, d)
        )
        bought = ev.etype == simulate.PURCHASE
        habits.update_habits(
            shop, _rng(seed, _S_HABITS, d), day.toordinal(), ev.user[bought], ev.item[bought], closed_habits
        )
        habits.record_durables(shop, ev.user[bought], ev.item[bought])
        n_events += n_ok
        n_corrupt += n_bad
        if progress is not None:
            extra = f" (+{n_bad:,} corrupt lines)" if n_bad else ""
            progress(f"{day.isoformat()}: {n_ok:,} events{extra}")
    params = _params(scale, start, days, seed, event_format, corrupt_rate)
    write_truth(shop, closed_prefs, closed_habits, truth_dir, params)
    return GenerationStats(
        days=days,
        events=n_events,
        users=len(shop.user_signup),
        items=len(shop.item_cat),
        corrupt_lines=n_corrupt,
        seconds=time.perf_counter() - t0,
    )
