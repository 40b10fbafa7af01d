"""Restocking habits and owned durables of the simulated shop's users.

One concern: repeat purchases.

A user who bought a consumable item may make it a habit (``HABIT_FORM_PROB``): the item is due
again after the user's own interval (the category's, times a log-normal factor) with noise on
every cycle; a habit is given up with ``HABIT_END_PROB`` per cycle. The initial users start with
habits in the consumable categories they prefer, due within their first interval, as if they had
shopped before ``start``.  Durables bought during the run are remembered (``owned``): a user buys
a durable once.

Pairs of (user index, item index) are keyed as one int64 (``pair_keys``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from shoprec_demo.draws import ItemSampler, attractiveness, sample_categories
from shoprec_demo.scales import Scale

if TYPE_CHECKING:
    from shoprec_demo.world import World

HABIT_FORM_PROB = 0.3  # a purchase of a consumable (not yet a habit) becomes a habit
HABIT_END_PROB = 0.1  # a habit is given up, per cycle
HABIT_INTERVAL_SIGMA = 0.2  # a user's own interval: the category's times log-normal(0, this)
HABIT_CYCLE_SIGMA = 0.12  # each cycle: the user's interval times log-normal(0, this)
INITIAL_HABITS_PER_USER = 0.5  # draws per initial user of average activity (non-consumables dropped)
_PAIR = np.int64(1 << 32)  # (user, item) pairs as user * _PAIR + item


def _habit_intervals(world: World, rng: np.random.Generator, items: np.ndarray) -> np.ndarray:
    """Each new habit's own interval in days: its category's, times a log-normal factor."""
    own = world.cat_interval[world.item_cat[items]] * rng.lognormal(0.0, HABIT_INTERVAL_SIGMA, len(items))
    return np.round(own, 2)


def _add_habits(
    world: World,
    users: np.ndarray,
    items: np.ndarray,
    interval: np.ndarray,
    first_due: np.ndarray,
    since: int,
) -> None:
    world.habit_user = np.concatenate([world.habit_user, users])
    world.habit_item = np.concatenate([world.habit_item, items])
    world.habit_interval = np.concatenate([world.habit_interval, interval])
    world.habit_next = np.concatenate([world.habit_next, first_due])
    world.habit_since = np.concatenate([world.habit_since, np.full(len(items), since, np.int64)])


def add_initial_habits(world: World, rng: np.random.Generator, scale: Scale, start_ord: int) -> None:
    """Habits of the initial users in the consumable categories they prefer, due within one interval."""
    n_users = len(world.user_signup)
    per_user = rng.poisson(INITIAL_HABITS_PER_USER * world.user_activity / scale.sessions_per_user_day)
    users = np.repeat(np.arange(n_users), per_user)
    cats = sample_categories(rng, world, users)
    keep = world.cat_consumable[cats]
    users, cats = users[keep], cats[keep]
    weights = attractiveness(world, start_ord)
    items = ItemSampler(world.item_cat, len(world.cat_weights), weights, weights).in_category(
        cats, rng.random(len(cats))
    )
    pairs = np.unique(pair_keys(users, items))
    users, items = pairs // _PAIR, pairs % _PAIR
    interval = _habit_intervals(world, rng, items)
    first_due = start_ord + (rng.random(len(items)) * interval).astype(np.int64)
    _add_habits(world, users, items, interval, first_due, start_ord)


def habit_rows(world: World, idx: np.ndarray, valid_to: int | None) -> dict[str, np.ndarray]:
    """Truth rows (1-based ids) of the habits ``idx``, valid up to ``valid_to`` (None: still current)."""
    return {
        "user_id": world.habit_user[idx] + 1,
        "item_id": world.habit_item[idx] + 1,
        "interval_days": world.habit_interval[idx],
        "valid_from": world.habit_since[idx],
        "valid_to": np.full(len(idx), -1 if valid_to is None else valid_to, np.int64),
    }


def due_habits(world: World, day_ord: int) -> np.ndarray:
    """Indexes of the habits due on ``day_ord``."""
    return np.flatnonzero(world.habit_next == day_ord)


def update_habits(
    world: World,
    rng: np.random.Generator,
    day_ord: int,
    buyer: np.ndarray,
    bought: np.ndarray,
    closed: list[dict[str, np.ndarray]],
) -> None:
    """After a day: reschedule (or give up) the habits due that day and form habits from its purchases.

    Args:
        world: The shop.
        rng: The day's random generator for habits.
        day_ord: Ordinal of the day just simulated.
        buyer: User index of each purchase of the day.
        bought: Item index of each purchase of the day.
        closed: Truth rows of given-up habits are appended here.
    """
    due = due_habits(world, day_ord)
    given_up = due[rng.random(len(due)) < HABIT_END_PROB]
    renewed = np.setdiff1d(due, given_up, assume_unique=True)
    cycle = world.habit_interval[renewed] * rng.lognormal(0.0, HABIT_CYCLE_SIGMA, len(renewed))
    world.habit_next[renewed] = day_ord + np.maximum(np.round(cycle), 1).astype(np.int64)
    if len(given_up):
        closed.append(habit_rows(world, given_up, day_ord + 1))
        keep = np.ones(len(world.habit_user), bool)
        keep[given_up] = False
        for name in ("habit_user", "habit_item", "habit_interval", "habit_next", "habit_since"):
            setattr(world, name, getattr(world, name)[keep])
    consumable = world.cat_consumable[world.item_cat[bought]]
    pairs = np.unique(pair_keys(buyer[consumable], bought[consumable]))
    pairs = pairs[~np.isin(pairs, pair_keys(world.habit_user, world.habit_item))]
    pairs = pairs[rng.random(len(pairs)) < HABIT_FORM_PROB]
    users, items = pairs // _PAIR, pairs % _PAIR
    interval = _habit_intervals(world, rng, items)
    cycle = interval * rng.lognormal(0.0, HABIT_CYCLE_SIGMA, len(items))
    _add_habits(
        world, users, items, interval, day_ord + np.maximum(np.round(cycle), 1).astype(np.int64), day_ord
    )


def pair_keys(users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """One int64 key per (user index, item index) pair."""
    return users.astype(np.int64) * _PAIR + items


def owns(world: World, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """Whether each user already bought the durable item (durables are bought once)."""
    keys = pair_keys(users, items)
    pos = np.minimum(np.searchsorted(world.owned, keys), max(len(world.owned) - 1, 0))
    return (world.owned[pos] == keys) if len(world.owned) else np.zeros(len(keys), bool)


def record_durables(world: World, buyer: np.ndarray, bought: np.ndarray) -> None:
    """Remember the day's purchases of durables, which their buyers will not buy again."""
    durable = ~world.cat_consumable[world.item_cat[bought]]
    world.owned = np.union1d(world.owned, pair_keys(buyer[durable], bought[durable]))
