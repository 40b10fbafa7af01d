"""Deterministic generator of realistic e-commerce behaviour data ("demo data").

Simulation
----------
The generator simulates a shop day by day (UTC) from ``start`` for ``days`` days:

* **Categories** have uneven, Zipf-like sizes and a log-normal median price each.
* **Brands** have a home category (each category has at least one brand); 90 % of an item's
  brand comes from brands of its own category, the rest from any brand.
* **Items** get a category, a brand, a price (log-normal around the category median, 2 decimals)
  and a power-law (Pareto) popularity used to pick items within a category.  The initial catalogue
  has listing dates up to two years before ``start``; new items are listed every following day
  (``listed_date > start``) and are visible from their listing day on.  A small fraction of the
  items changes price every day; events always carry the item's current price.
* **Users** have a heavy-tailed (log-normal) activity level, a country, an age band and sparse
  category preferences: 1-4 preferred categories with Dirichlet weights summing to 1, plus a
  fixed exploration probability (``explore_prob``) of looking at a random category.  Each day a
  small fraction of users swaps one preferred category (drift).  The initial users signed up up
  to two years before ``start``; new users sign up every following day and are active from then.
* **Sessions**: every user starts ``Poisson(activity * weekday_factor)`` sessions per day, at an
  hour drawn from a weekday or weekend hour-of-day profile (evening peak, quiet night, UTC).
  A session has a main category drawn from the user's preferences; each of its (geometrically
  many) views stays in the main category or re-draws from the preferences, and picks an item by
  popularity within the category.  Each view may lead to a click, a click to a cart and/or a fav,
  a cart to a purchase; every funnel probability is ``base + gain * affinity`` where affinity is
  the user's preference weight of the item's category (so preferences are learnable).  Events of
  a session have strictly increasing timestamps; a session running past midnight is cut at
  23:59:59.999 (later events are dropped), so every event lies within its UTC day.

All randomness comes from ``numpy.random.SeedSequence(seed, spawn_key=(stream, day_index))``, so
the same arguments give byte-identical files, and day ``k`` is identical whether it is generated
in a run of ``k + 1`` days or of more days with the same ``start`` (runs are prefix-stable).
The world is anchored at ``start``: a run with a later ``start`` simulates a fresh shop from that
day, so to extend a data set rerun with the same ``start`` and more ``days`` (existing days are
rewritten byte-identically).

File layout (a contract read by other code)
-------------------------------------------
``landing/events/date=YYYY-MM-DD/events-00000.jsonl`` (then ``events-00001.jsonl`` ...; at most
1,000,000 lines per file, lines sorted by ``event_ts`` apart from corrupt lines): one JSON object
per line with the keys ``event_id`` (16 lowercase hex chars, unique for a seed), ``user_id``,
``item_id``, ``event_type`` (view, click, cart, fav, purchase), ``event_ts`` (ISO-8601 UTC with
milliseconds, ``2026-01-03T18:22:05.123Z``), ``session_id`` (16 hex chars) and ``price``.
With ``event_format="behavior-log"`` the files are ``events-0000N.csv`` without header and with
the columns ``user_id,item_id,category_id,behavior_type,timestamp`` (pv, fav, cart, buy; clicks
omitted; unix epoch seconds).

``landing/items/date=YYYY-MM-DD/items.jsonl``: items listed that day or whose price changed that
day (first day: the whole initial catalogue) with ``item_id, category_id, brand_id, price,
listed_date``.  ``landing/users/date=YYYY-MM-DD/users.jsonl``: users who signed up that day
(first day: all initial users) with ``user_id, signup_date, country, age_band``.

Ground truth in ``truth_dir`` (rewritten by every call, covering that call's range only):
``preferences.parquet`` (SCD-2: ``user_id, category_id, weight, valid_from, valid_to``; a row is
valid for ``valid_from <= day < valid_to``, ``valid_to`` is null while current; initial users'
rows start at ``start``), ``items.parquet`` (``item_id, category_id, brand_id, popularity,
listed_date`` for all items existing at the end of the range) and ``params.json`` (arguments,
scale parameters and the funnel probabilities).

With ``corrupt_rate > 0`` (JSONL only) about that fraction of extra bad lines is inserted at
random positions: truncated JSON, null/absent ``user_id``/``item_id``, unknown ``event_type``,
bad ``event_ts``, negative ``price``, ``event_ts`` on another day, and exact duplicates of valid
lines.  They are drawn from a separate random stream, so the valid lines are unchanged.
All ids (users, items, categories, brands) are 1-based integers.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

__all__ = ["SCALES", "GenerationStats", "Scale", "generate"]


@dataclass(frozen=True)
class Scale:
    """Size and activity parameters of a simulated shop.

    Attributes:
        name: Scale name (key in ``SCALES``).
        n_users: Users existing on the first day.
        n_items: Items existing on the first day.
        n_categories: Number of categories.
        n_brands: Number of brands (at least ``n_categories``).
        new_users_per_day: Mean number of sign-ups per day after the first.
        new_items_per_day: Mean number of newly listed items per day after the first.
        sessions_per_user_day: Mean sessions per user and day (activity is heavy-tailed around it).
        mean_views_per_session: Mean number of item views per session.
        pref_drift_rate: Fraction of users swapping one preferred category per day.
        price_change_rate: Fraction of items changing price per day.
    """

    name: str
    n_users: int
    n_items: int
    n_categories: int
    n_brands: int
    new_users_per_day: float
    new_items_per_day: float
    sessions_per_user_day: float
    mean_views_per_session: float = 5.0
    pref_drift_rate: float = 0.01
    price_change_rate: float = 0.005


SCALES: dict[str, Scale] = {
    "tiny": Scale("tiny", 300, 200, 8, 20, 4, 3, 0.15),
    "small": Scale("small", 25_000, 8_000, 40, 300, 250, 60, 0.155),
    "medium": Scale("medium", 150_000, 60_000, 120, 1_500, 1_500, 400, 0.26),
    "large": Scale("large", 1_000_000, 400_000, 300, 6_000, 10_000, 2_500, 0.385),
}


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


# --------------------------------------------------------------------------------------------
# Simulation constants
# --------------------------------------------------------------------------------------------

_VIEW, _CLICK, _CART, _FAV, _PURCHASE = 0, 1, 2, 3, 4
_EVENT_TYPES = ("view", "click", "cart", "fav", "purchase")
_BEHAVIOR_TYPES = ("pv", "", "cart", "fav", "buy")
# probability = base + gain * affinity (affinity = user's weight of the item's category)
_FUNNEL: dict[str, tuple[float, float]] = {
    "click_given_view": (0.10, 0.35),
    "cart_given_click": (0.10, 0.25),
    "fav_given_click": (0.05, 0.12),
    "purchase_given_cart": (0.25, 0.30),
}
_EXPLORE_PROB = 0.10
_SESSION_STAY_PROB = 0.70
_MAX_PREFS = 4
_MAX_VIEWS = 60
_BRAND_HOME_PROB = 0.9
# Monday .. Sunday
_WEEKDAY_FACTORS = (0.95, 0.93, 0.95, 0.98, 1.02, 1.12, 1.18)
_HOURS_WEEKDAY = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.25,
        0.25,
        0.3,
        0.5,
        0.9,
        1.2,
        1.4,
        1.5,
        1.6,
        1.8,
        1.7,
        1.6,
        1.6,
        1.7,
        1.9,
        2.3,
        2.7,
        2.9,
        2.6,
        1.9,
        1.1,
    ]
)
_HOURS_WEEKEND = np.array(
    [
        0.8,
        0.6,
        0.4,
        0.3,
        0.25,
        0.25,
        0.35,
        0.5,
        0.9,
        1.4,
        1.8,
        2.0,
        2.1,
        2.0,
        1.9,
        1.9,
        1.9,
        2.0,
        2.2,
        2.5,
        2.6,
        2.4,
        1.8,
        1.2,
    ]
)
_COUNTRIES = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "PL", "SE", "CA", "AU", "BR", "IN")
_COUNTRY_WEIGHTS = np.array([28, 10, 12, 9, 6, 6, 5, 5, 3, 5, 4, 4, 3], dtype=float)
_AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
_AGE_WEIGHTS = np.array([18, 32, 24, 15, 11], dtype=float)

_MS_PER_DAY = 86_400_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MAX_LINES_PER_FILE = 1_000_000
_BACKDATE_DAYS = 730
# random streams
_S_WORLD_INIT, _S_WORLD_DAY, _S_EVENTS, _S_CORRUPT = 1, 2, 3, 4
# id namespaces (bits above the 52 bits used by day ordinal << 32 | sequence)
_NS_SESSION = np.uint64(1 << 63)
_NS_CORRUPT = np.uint64(1 << 62)
_CORRUPT_KINDS = (
    "truncated_json",
    "missing_id",
    "unknown_event_type",
    "bad_timestamp",
    "negative_price",
    "wrong_day",
    "duplicate",
)
_BAD_EVENT_TYPES = ('"wishlist"', '"share"', '"refund"', '""')
_BAD_TIMESTAMPS = ('"2026-13-45T99:00:00Z"', '"yesterday"', '""', '"31/12/2025 25:61"', "null")


def _rng(seed: int, stream: int, day_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream, day_index)))


# --------------------------------------------------------------------------------------------
# World state
# --------------------------------------------------------------------------------------------


@dataclass
class _World:
    """Mutable state of the simulated shop (index = id - 1)."""

    cat_weights: np.ndarray
    cat_cum: np.ndarray
    cat_log_price: np.ndarray
    brand_order: np.ndarray
    brand_start: np.ndarray
    brand_count: np.ndarray
    item_cat: np.ndarray
    item_brand: np.ndarray
    item_price: np.ndarray  # cents, int64
    item_pop: np.ndarray
    item_listed: np.ndarray  # date ordinal
    user_signup: np.ndarray  # date ordinal
    user_activity: np.ndarray
    user_country: np.ndarray
    user_age: np.ndarray
    pref_cat: np.ndarray  # (n_users, _MAX_PREFS), -1 = unused slot
    pref_w: np.ndarray  # (n_users, _MAX_PREFS), 0 for unused slots
    pref_since: np.ndarray  # date ordinal the current preference version started


def _init_world(scale: Scale, rng: np.random.Generator, start_ord: int) -> _World:
    n_cat = scale.n_categories
    cw = np.arange(1, n_cat + 1, dtype=float) ** -0.9 * rng.lognormal(0.0, 0.3, n_cat)
    cw = rng.permutation(cw)
    cw /= cw.sum()
    cat_log_price = rng.normal(np.log(30.0), 0.9, n_cat)
    brand_cat = np.concatenate(
        [np.arange(min(n_cat, scale.n_brands)), rng.choice(n_cat, size=max(scale.n_brands - n_cat, 0), p=cw)]
    )
    brand_order = np.argsort(brand_cat, kind="stable")
    brand_start = np.searchsorted(brand_cat[brand_order], np.arange(n_cat), side="left")
    brand_count = np.bincount(brand_cat, minlength=n_cat)
    empty_i = np.empty(0, np.int64)
    empty_f = np.empty(0, float)
    world = _World(
        cat_weights=cw,
        cat_cum=np.cumsum(cw),
        cat_log_price=cat_log_price,
        brand_order=brand_order,
        brand_start=brand_start,
        brand_count=brand_count,
        item_cat=empty_i,
        item_brand=empty_i,
        item_price=empty_i,
        item_pop=empty_f,
        item_listed=empty_i,
        user_signup=empty_i,
        user_activity=empty_f,
        user_country=empty_i,
        user_age=empty_i,
        pref_cat=np.empty((0, _MAX_PREFS), np.int64),
        pref_w=np.empty((0, _MAX_PREFS), float),
        pref_since=empty_i,
    )
    # every category gets at least one item
    forced = np.arange(min(n_cat, scale.n_items))
    listed = start_ord - rng.integers(0, _BACKDATE_DAYS, scale.n_items)
    _add_items(world, rng, scale.n_items, listed, forced)
    signup = start_ord - rng.integers(0, _BACKDATE_DAYS, scale.n_users)
    _add_users(world, rng, scale, scale.n_users, signup, start_ord)
    return world


def _add_items(
    world: _World, rng: np.random.Generator, n: int, listed: np.ndarray, forced: np.ndarray | None = None
) -> None:
    n_cat = len(world.cat_weights)
    cats = np.minimum(np.searchsorted(world.cat_cum, rng.random(n), side="right"), n_cat - 1)
    if forced is not None and len(forced):
        cats[: len(forced)] = forced
    home = rng.random(n) < _BRAND_HOME_PROB
    within = world.brand_start[cats] + (rng.random(n) * world.brand_count[cats]).astype(np.int64)
    any_brand = rng.integers(0, len(world.brand_order), n)
    brands = np.where(home, world.brand_order[within], any_brand)
    price = np.exp(world.cat_log_price[cats] + rng.normal(0.0, 0.45, n))
    cents = np.maximum(np.round(price * 100.0), 99).astype(np.int64)
    ninety_nine = rng.random(n) < 0.6
    cents = np.where(ninety_nine, np.ceil(cents / 100.0).astype(np.int64) * 100 - 1, cents)
    pop = np.minimum(rng.pareto(1.2, n) + 1.0, 1000.0)
    world.item_cat = np.concatenate([world.item_cat, cats])
    world.item_brand = np.concatenate([world.item_brand, brands])
    world.item_price = np.concatenate([world.item_price, cents])
    world.item_pop = np.concatenate([world.item_pop, pop])
    world.item_listed = np.concatenate([world.item_listed, np.asarray(listed, np.int64)])


def _draw_preferences(
    rng: np.random.Generator, n: int, cat_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_cat = len(cat_weights)
    k = np.minimum(1 + rng.binomial(_MAX_PREFS - 1, 0.4, n), n_cat)
    log_w = np.log(cat_weights)
    cats = np.empty((n, _MAX_PREFS), np.int64)
    batch = max(1, 4_000_000 // n_cat)
    for lo in range(0, n, batch):  # bounded memory Gumbel top-k sampling without replacement
        hi = min(n, lo + batch)
        keys = log_w + rng.gumbel(size=(hi - lo, n_cat))
        cats[lo:hi] = np.argpartition(-keys, _MAX_PREFS - 1, axis=1)[:, :_MAX_PREFS]
    slot_used = np.arange(_MAX_PREFS) < k[:, None]
    w = rng.gamma(1.0, size=(n, _MAX_PREFS)) * slot_used
    w /= w.sum(axis=1, keepdims=True)
    order = np.argsort(-w, axis=1, kind="stable")
    w = np.take_along_axis(w, order, axis=1)
    cats = np.take_along_axis(cats, order, axis=1)
    cats[~slot_used] = -1
    w[~slot_used] = 0.0
    return cats, w


def _add_users(
    world: _World, rng: np.random.Generator, scale: Scale, n: int, signup: np.ndarray, since: int
) -> None:
    sigma = 1.0
    activity = scale.sessions_per_user_day * rng.lognormal(-(sigma**2) / 2, sigma, n)
    country = rng.choice(len(_COUNTRIES), size=n, p=_COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum())
    age = rng.choice(len(_AGE_BANDS), size=n, p=_AGE_WEIGHTS / _AGE_WEIGHTS.sum())
    cats, w = _draw_preferences(rng, n, world.cat_weights)
    world.user_signup = np.concatenate([world.user_signup, np.asarray(signup, np.int64)])
    world.user_activity = np.concatenate([world.user_activity, activity])
    world.user_country = np.concatenate([world.user_country, country])
    world.user_age = np.concatenate([world.user_age, age])
    world.pref_cat = np.concatenate([world.pref_cat, cats])
    world.pref_w = np.concatenate([world.pref_w, w])
    world.pref_since = np.concatenate([world.pref_since, np.full(n, since, np.int64)])


def _pref_rows(world: _World, users: np.ndarray, valid_to: int | None) -> dict[str, np.ndarray]:
    cats = world.pref_cat[users]
    used = cats >= 0
    rows_user = np.repeat(users, used.sum(axis=1))
    return {
        "user_id": rows_user + 1,
        "category_id": cats[used] + 1,
        "weight": world.pref_w[users][used],
        "valid_from": world.pref_since[rows_user],
        "valid_to": np.full(len(rows_user), -1 if valid_to is None else valid_to, np.int64),
    }


def _evolve_world(
    world: _World, scale: Scale, rng: np.random.Generator, day_ord: int, closed: list[dict[str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Advance the world to a new day; returns (new user indices, new or repriced item indices)."""
    n_users_before = len(world.user_signup)
    n_items_before = len(world.item_cat)
    # preference drift: swap one preferred category of a few users
    drift = np.flatnonzero(rng.random(n_users_before) < scale.pref_drift_rate)
    k = (world.pref_cat[drift] >= 0).sum(axis=1)
    slot = (rng.random(len(drift)) * k).astype(np.int64)
    new_cat = np.minimum(
        np.searchsorted(world.cat_cum, rng.random(len(drift)), side="right"), len(world.cat_weights) - 1
    )
    clash = (world.pref_cat[drift] == new_cat[:, None]).any(axis=1)
    drift, slot, new_cat = drift[~clash], slot[~clash], new_cat[~clash]
    if len(drift):
        closed.append(_pref_rows(world, drift, day_ord))
        world.pref_cat[drift, slot] = new_cat
        world.pref_since[drift] = day_ord
    # price changes: discounts and increases
    changed = np.flatnonzero(rng.random(n_items_before) < scale.price_change_rate)
    factor = np.where(
        rng.random(len(changed)) < 0.6,
        rng.uniform(0.7, 0.95, len(changed)),
        rng.uniform(1.02, 1.15, len(changed)),
    )
    world.item_price[changed] = np.maximum(np.round(world.item_price[changed] * factor), 99).astype(np.int64)
    # new items and users
    n_new_items = int(rng.poisson(scale.new_items_per_day))
    _add_items(world, rng, n_new_items, np.full(n_new_items, day_ord, np.int64))
    n_new_users = int(rng.poisson(scale.new_users_per_day))
    _add_users(world, rng, scale, n_new_users, np.full(n_new_users, day_ord, np.int64), day_ord)
    items = np.concatenate([changed, np.arange(n_items_before, len(world.item_cat))])
    return np.arange(n_users_before, len(world.user_signup)), items


# --------------------------------------------------------------------------------------------
# Event simulation
# --------------------------------------------------------------------------------------------


@dataclass
class _DayEvents:
    """One day's valid events, sorted by timestamp."""

    user: np.ndarray  # index
    item: np.ndarray  # index
    cat: np.ndarray  # index
    etype: np.ndarray
    ms: np.ndarray  # milliseconds since midnight UTC
    session: np.ndarray  # day-local session number
    price: np.ndarray  # cents


def _sample_pref_cats(rng: np.random.Generator, world: _World, users: np.ndarray) -> np.ndarray:
    n = len(users)
    u = rng.random(n)
    explore = rng.random(n) < _EXPLORE_PROB
    explore_cat = np.minimum(
        np.searchsorted(world.cat_cum, rng.random(n), side="right"), len(world.cat_weights) - 1
    )
    cum = np.cumsum(world.pref_w[users], axis=1)
    k = (world.pref_cat[users] >= 0).sum(axis=1)
    slot = np.minimum((u[:, None] >= cum).sum(axis=1), k - 1)
    pref_cat = world.pref_cat[users, slot]
    return np.where(explore, explore_cat, pref_cat)


def _funnel_prob(name: str, affinity: np.ndarray) -> np.ndarray:
    base, gain = _FUNNEL[name]
    return base + gain * affinity


def _delays(rng: np.random.Generator, n: int, median_ms: float, sigma: float, cap_ms: int) -> np.ndarray:
    return np.minimum(rng.lognormal(np.log(median_ms), sigma, n), cap_ms).astype(np.int64) + 1


def _simulate_day(world: _World, scale: Scale, rng: np.random.Generator, day: date) -> _DayEvents:
    n_users = len(world.user_signup)
    weekday = day.weekday()
    lam = world.user_activity * _WEEKDAY_FACTORS[weekday] * rng.lognormal(0.0, 0.05)
    n_sess = rng.poisson(lam)
    sess_user = np.repeat(np.arange(n_users), n_sess)
    n_s = len(sess_user)
    hour_w = _HOURS_WEEKEND if weekday >= 5 else _HOURS_WEEKDAY
    hours = rng.choice(24, size=n_s, p=hour_w / hour_w.sum())
    sess_start = hours * 3_600_000 + rng.integers(0, 3_600_000, n_s)
    n_views = np.minimum(rng.geometric(1.0 / scale.mean_views_per_session, n_s), _MAX_VIEWS)
    main_cat = _sample_pref_cats(rng, world, sess_user)

    # views
    v_sess = np.repeat(np.arange(n_s), n_views)
    n_v = len(v_sess)
    v_user = sess_user[v_sess]
    stay = rng.random(n_v) < _SESSION_STAY_PROB
    v_cat = np.where(stay, main_cat[v_sess], _sample_pref_cats(rng, world, v_user))
    order = np.argsort(world.item_cat, kind="stable")
    sorted_cat = world.item_cat[order]
    cum = np.cumsum(world.item_pop[order])
    cats = np.arange(len(world.cat_weights))
    starts = np.searchsorted(sorted_cat, cats, side="left")
    ends = np.searchsorted(sorted_cat, cats, side="right")
    lo = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    total = cum[ends - 1] - lo
    pos = np.searchsorted(cum, lo[v_cat] + rng.random(n_v) * total[v_cat], side="right")
    v_item = order[np.clip(pos, starts[v_cat], ends[v_cat] - 1)]
    affinity = (world.pref_w[v_user] * (world.pref_cat[v_user] == v_cat[:, None])).sum(axis=1)
    gaps = _delays(rng, n_v, 25_000, 0.9, 1_800_000) + 1_000
    first = np.cumsum(n_views) - n_views
    gaps[first] = 0
    cs = np.cumsum(gaps)
    v_ms = sess_start[v_sess] + cs - cs[first][v_sess]

    # funnel: view -> click -> cart / fav, cart -> purchase
    c_idx = np.flatnonzero(rng.random(n_v) < _funnel_prob("click_given_view", affinity))
    c_ms = v_ms[c_idx] + _delays(rng, len(c_idx), 4_000, 0.7, 120_000) + 500
    c_aff = affinity[c_idx]
    is_cart = rng.random(len(c_idx)) < _funnel_prob("cart_given_click", c_aff)
    is_fav = rng.random(len(c_idx)) < _funnel_prob("fav_given_click", c_aff)
    k_idx = c_idx[is_cart]
    k_ms = c_ms[is_cart] + _delays(rng, len(k_idx), 30_000, 0.8, 900_000)
    f_idx = c_idx[is_fav]
    f_ms = c_ms[is_fav] + _delays(rng, len(f_idx), 8_000, 0.8, 300_000)
    is_buy = rng.random(len(k_idx)) < _funnel_prob("purchase_given_cart", affinity[k_idx])
    p_idx = k_idx[is_buy]
    p_ms = k_ms[is_buy] + _delays(rng, len(p_idx), 90_000, 0.9, 1_800_000)

    src = np.concatenate([np.arange(n_v), c_idx, k_idx, f_idx, p_idx])
    etype = np.concatenate(
        [
            np.full(len(a), t, np.int8)
            for a, t in ((v_ms, _VIEW), (c_idx, _CLICK), (k_idx, _CART), (f_idx, _FAV), (p_idx, _PURCHASE))
        ]
    )
    ms = np.concatenate([v_ms, c_ms, k_ms, f_ms, p_ms])
    sess = v_sess[src]
    # order by (session, time, funnel stage); ms < 2**28 and stage < 8 always hold
    key = sess.astype(np.int64) * (1 << 31) + ms * 8 + etype
    o = np.argsort(key, kind="stable")
    src, etype, ms, sess = src[o], etype[o], ms[o], sess[o]
    # make timestamps strictly increasing within each session (running max trick)
    i = np.arange(len(ms), dtype=np.int64)
    big = np.int64(1 << 40)
    ms = np.maximum.accumulate(ms - i + sess * big) - sess * big + i
    keep = ms < _MS_PER_DAY  # cut sessions at 23:59:59.999
    src, etype, ms, sess = src[keep], etype[keep], ms[keep], sess[keep]
    o = np.argsort(ms, kind="stable")
    src, etype, ms, sess = src[o], etype[o], ms[o], sess[o]
    item = v_item[src]
    return _DayEvents(
        user=v_user[src],
        item=item,
        cat=v_cat[src],
        etype=etype,
        ms=ms,
        session=sess,
        price=world.item_price[item],
    )


# --------------------------------------------------------------------------------------------
# Fast vectorised text formatting (pyarrow string kernels + fixed-width byte matrices)
# --------------------------------------------------------------------------------------------

_HEX_LUT = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint8).reshape(256, 2)


def _fixed_width_strings(mat: np.ndarray) -> pa.Array:
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // pows) % 10 + 48).astype(np.uint8)


def _mix64(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """Bijective 64-bit mixing (xor key, splitmix64 finaliser): distinct inputs stay distinct."""
    x = x.astype(np.uint64) ^ key
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _hex_ids(seq: np.ndarray, day_ord: int, namespace: np.uint64, key: np.uint64) -> pa.Array:
    raw = (np.uint64(day_ord) << np.uint64(32)) | seq.astype(np.uint64) | namespace
    b = _mix64(raw, key).astype(">u8").view(np.uint8).reshape(-1, 8)
    return _fixed_width_strings(_HEX_LUT[b].reshape(-1, 16))


def _iso_ts_quoted(day: date | np.ndarray, ms: np.ndarray) -> pa.Array:
    """Format ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (with quotes) for one day or per-row day ordinals."""
    out = np.empty((len(ms), 26), np.uint8)
    out[:, 0] = ord('"')
    if isinstance(day, date):
        out[:, 1:11] = np.frombuffer(day.isoformat().encode(), np.uint8)
    else:
        days = (np.asarray(day, np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
        out[:, 1:11] = np.datetime_as_string(days).astype("S10").view(np.uint8).reshape(-1, 10)
    out[:, 11] = ord("T")
    out[:, 12:14] = _digits(ms // 3_600_000, 2)
    out[:, 14] = ord(":")
    out[:, 15:17] = _digits(ms // 60_000 % 60, 2)
    out[:, 17] = ord(":")
    out[:, 18:20] = _digits(ms // 1000 % 60, 2)
    out[:, 20] = ord(".")
    out[:, 21:24] = _digits(ms % 1000, 3)
    out[:, 24] = ord("Z")
    out[:, 25] = ord('"')
    return _fixed_width_strings(out)


def _int_strings(values: np.ndarray) -> pa.Array:
    return pa.array(values, pa.int64()).cast(pa.string())


def _price_strings(cents: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(
        _int_strings(cents // 100), _fixed_width_strings(_digits(cents % 100, 2)), "."
    )


def _date_strings(ordinals: np.ndarray) -> pa.Array:
    days = (np.asarray(ordinals, np.int64) - _EPOCH_ORDINAL).astype("datetime64[D]")
    return pa.array(days).cast(pa.string())


def _lookup(table: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    return pa.array(table, pa.string()).take(pa.array(codes, pa.int64()))


def _event_json(
    eid: pa.Array,
    uid: pa.Array,
    iid: pa.Array,
    etype: pa.Array,
    ts: pa.Array,
    sid: pa.Array,
    price: pa.Array,
    end: str,
) -> pa.Array:
    return pc.binary_join_element_wise(
        '{"event_id":"',
        eid,
        '","user_id":',
        uid,
        ',"item_id":',
        iid,
        ',"event_type":',
        etype,
        ',"event_ts":',
        ts,
        ',"session_id":"',
        sid,
        '","price":',
        price,
        "}" + end,
        "",
    )


_ETYPE_JSON = tuple(f'"{t}"' for t in _EVENT_TYPES)


def _valid_event_lines(ev: _DayEvents, rows: np.ndarray, day: date, key: np.uint64, end: str) -> pa.Array:
    day_ord = day.toordinal()
    return _event_json(
        _hex_ids(rows, day_ord, np.uint64(0), key),
        _int_strings(ev.user[rows] + 1),
        _int_strings(ev.item[rows] + 1),
        _lookup(_ETYPE_JSON, ev.etype[rows]),
        _iso_ts_quoted(day, ev.ms[rows]),
        _hex_ids(ev.session[rows], day_ord, _NS_SESSION, key),
        _price_strings(ev.price[rows]),
        end,
    )


def _corrupt_lines(ev: _DayEvents, n: int, rng: np.random.Generator, day: date, key: np.uint64) -> pa.Array:
    """Build ``n`` realistic bad lines derived from random valid events."""
    day_ord = day.toordinal()
    kinds = rng.integers(0, len(_CORRUPT_KINDS), n)
    src = rng.integers(0, len(ev.ms), n)
    variant = rng.integers(0, 1 << 30, n)
    is_kind = {name: kinds == i for i, name in enumerate(_CORRUPT_KINDS)}
    dup = is_kind["duplicate"]
    eid = pc.if_else(
        pa.array(dup),
        _hex_ids(src, day_ord, np.uint64(0), key),
        _hex_ids(np.arange(n), day_ord, _NS_CORRUPT, key),
    )
    missing = is_kind["missing_id"]
    miss_var = variant % 4  # 0 null user, 1 absent user, 2 null item, 3 absent item
    uid = pc.if_else(pa.array(missing & (miss_var == 0)), "null", _int_strings(ev.user[src] + 1))
    iid = pc.if_else(pa.array(missing & (miss_var == 2)), "null", _int_strings(ev.item[src] + 1))
    etype = pc.if_else(
        pa.array(is_kind["unknown_event_type"]),
        _lookup(_BAD_EVENT_TYPES, variant % len(_BAD_EVENT_TYPES)),
        _lookup(_ETYPE_JSON, ev.etype[src]),
    )
    shift = rng.integers(1, 4, n) * np.where(rng.random(n) < 0.5, -1, 1)
    other_day = _iso_ts_quoted(day_ord + shift, ev.ms[src])
    ts = pc.if_else(pa.array(is_kind["wrong_day"]), other_day, _iso_ts_quoted(day, ev.ms[src]))
    ts = pc.if_else(
        pa.array(is_kind["bad_timestamp"]), _lookup(_BAD_TIMESTAMPS, variant % len(_BAD_TIMESTAMPS)), ts
    )
    price = _price_strings(ev.price[src])
    price = pc.if_else(
        pa.array(is_kind["negative_price"]), pc.binary_join_element_wise("-", price, ""), price
    )
    sid = _hex_ids(ev.session[src], day_ord, _NS_SESSION, key)
    lines = _event_json(eid, uid, iid, etype, ts, sid, price, "")
    for var, field in ((1, "user_id"), (3, "item_id")):
        removed = pc.replace_substring_regex(lines, pattern=f',"{field}":[^,]*', replacement="")
        lines = pc.if_else(pa.array(missing & (miss_var == var)), removed, lines)
    # truncated JSON: drop 1..100 trailing characters (always including the closing brace)
    cut = np.where(is_kind["truncated_json"], 1 + variant % 100, 0)
    return _truncate_and_terminate(lines, cut)


def _truncate_and_terminate(lines: pa.Array, cut: np.ndarray) -> pa.Array:
    """Drop ``cut[i]`` trailing characters of the (ASCII) lines with ``cut > 0``; append newlines."""
    rows = np.flatnonzero(cut > 0)
    if len(rows):
        sub = pc.binary_join_element_wise(lines.take(pa.array(rows)), "", "")  # fresh, unsliced array
        _, offsets_buf, data_buf = sub.buffers()
        offsets = np.frombuffer(offsets_buf, np.int32)[: len(sub) + 1].astype(np.int64)
        lengths = np.diff(offsets)
        new_len = np.maximum(lengths - cut[rows], 0)
        pos = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
        keep = pos < np.repeat(new_len, lengths)
        data = np.frombuffer(data_buf, np.uint8)[: offsets[-1]][keep]
        new_offsets = np.concatenate([[0], np.cumsum(new_len)]).astype(np.int32)
        cut_lines = pa.StringArray.from_buffers(len(sub), pa.py_buffer(new_offsets), pa.py_buffer(data))
        idx = np.arange(len(lines))
        idx[rows] = len(lines) + np.arange(len(rows))
        lines = pa.concat_arrays([lines, cut_lines]).take(pa.array(idx))
    return pc.binary_join_element_wise(lines, "\n", "")


def _behavior_lines(ev: _DayEvents, rows: np.ndarray, day: date) -> pa.Array:
    day_s = (day.toordinal() - _EPOCH_ORDINAL) * 86_400
    return pc.binary_join_element_wise(
        _int_strings(ev.user[rows] + 1),
        ",",
        _int_strings(ev.item[rows] + 1),
        ",",
        _int_strings(ev.cat[rows] + 1),
        ",",
        _lookup(_BEHAVIOR_TYPES, ev.etype[rows]),
        ",",
        _int_strings(day_s + ev.ms[rows] // 1000),
        "\n",
        "",
    )


def _write_lines(path: Path, lines: pa.Array) -> None:
    """Write a string array whose elements end with newlines, straight from its data buffer."""
    if lines.type != pa.string():
        lines = lines.cast(pa.string())
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[lines.offset : lines.offset + len(lines) + 1]
    with path.open("wb") as f:
        if len(lines):
            f.write(memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])])


# --------------------------------------------------------------------------------------------
# Day writers
# --------------------------------------------------------------------------------------------


def _write_events(
    ev: _DayEvents,
    folder: Path,
    day: date,
    key: np.uint64,
    event_format: str,
    corrupt_rate: float,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Write one day's events (and corrupt lines); returns (valid rows, corrupt lines)."""
    folder.mkdir(parents=True, exist_ok=True)
    if event_format == "behavior-log":
        rows = np.flatnonzero(ev.etype != _CLICK)
        for part, lo in enumerate(range(0, max(len(rows), 1), _MAX_LINES_PER_FILE)):
            chunk = rows[lo : lo + _MAX_LINES_PER_FILE]
            _write_lines(folder / f"events-{part:05d}.csv", _behavior_lines(ev, chunk, day))
        return len(rows), 0
    n_valid = len(ev.ms)
    n_bad = int(rng.binomial(n_valid, corrupt_rate)) if corrupt_rate > 0 and n_valid else 0
    total = n_valid + n_bad
    is_bad = np.zeros(total, bool)
    bad_lines = None
    if n_bad:
        is_bad[rng.choice(total, n_bad, replace=False)] = True
        bad_lines = _corrupt_lines(ev, n_bad, rng, day, key)
    valid_before = np.concatenate([[0], np.cumsum(~is_bad)])
    for part, lo in enumerate(range(0, max(total, 1), _MAX_LINES_PER_FILE)):
        hi = min(total, lo + _MAX_LINES_PER_FILE)
        v0, v1 = int(valid_before[lo]), int(valid_before[hi])
        lines = _valid_event_lines(ev, np.arange(v0, v1), day, key, "\n")
        if bad_lines is not None and (hi - lo) > (v1 - v0):
            mask = is_bad[lo:hi]
            b0 = lo - v0
            bad = bad_lines.slice(b0, (hi - lo) - (v1 - v0))
            idx = np.empty(hi - lo, np.int64)
            idx[~mask] = np.arange(v1 - v0)
            idx[mask] = (v1 - v0) + np.arange(len(bad))
            lines = pa.concat_arrays([lines, bad]).take(pa.array(idx))
        _write_lines(folder / f"events-{part:05d}.jsonl", lines)
    return n_valid, n_bad


def _write_items(world: _World, idx: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    idx = np.sort(idx)
    lines = pc.binary_join_element_wise(
        '{"item_id":',
        _int_strings(idx + 1),
        ',"category_id":',
        _int_strings(world.item_cat[idx] + 1),
        ',"brand_id":',
        _int_strings(world.item_brand[idx] + 1),
        ',"price":',
        _price_strings(world.item_price[idx]),
        ',"listed_date":"',
        _date_strings(world.item_listed[idx]),
        '"}\n',
        "",
    )
    _write_lines(folder / "items.jsonl", lines)


def _write_users(world: _World, idx: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = pc.binary_join_element_wise(
        '{"user_id":',
        _int_strings(idx + 1),
        ',"signup_date":"',
        _date_strings(world.user_signup[idx]),
        '","country":"',
        _lookup(_COUNTRIES, world.user_country[idx]),
        '","age_band":"',
        _lookup(_AGE_BANDS, world.user_age[idx]),
        '"}\n',
        "",
    )
    _write_lines(folder / "users.jsonl", lines)


def _date_array(ordinals: np.ndarray) -> pa.Array:
    arr = (np.asarray(ordinals, np.int64) - _EPOCH_ORDINAL).astype(np.int32)
    mask = ordinals < 0
    return pa.array(arr, pa.int32(), mask=mask if mask.any() else None).cast(pa.date32())


def _write_truth(
    world: _World, closed: list[dict[str, np.ndarray]], truth_dir: Path, params: dict[str, object]
) -> None:
    truth_dir.mkdir(parents=True, exist_ok=True)
    parts = [*closed, _pref_rows(world, np.arange(len(world.user_signup)), None)]
    prefs = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((-prefs["weight"], prefs["valid_from"], prefs["user_id"]))
    pref_table = pa.table(
        {
            "user_id": pa.array(prefs["user_id"][order], pa.int64()),
            "category_id": pa.array(prefs["category_id"][order], pa.int64()),
            "weight": pa.array(prefs["weight"][order], pa.float64()),
            "valid_from": _date_array(prefs["valid_from"][order]),
            "valid_to": _date_array(prefs["valid_to"][order]),
        }
    )
    pq.write_table(pref_table, truth_dir / "preferences.parquet")
    n_items = len(world.item_cat)
    item_table = pa.table(
        {
            "item_id": pa.array(np.arange(1, n_items + 1), pa.int64()),
            "category_id": pa.array(world.item_cat + 1, pa.int64()),
            "brand_id": pa.array(world.item_brand + 1, pa.int64()),
            "popularity": pa.array(world.item_pop, pa.float64()),
            "listed_date": _date_array(world.item_listed),
        }
    )
    pq.write_table(item_table, truth_dir / "items.parquet")
    (truth_dir / "params.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


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
        truth_dir: Folder for ``preferences.parquet``, ``items.parquet`` and ``params.json``.
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
    if isinstance(start, datetime):
        start = start.date()
    sc = SCALES[scale]
    landing, truth_dir = Path(landing), Path(truth_dir)
    key = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
    start_ord = start.toordinal()
    world = _init_world(sc, _rng(seed, _S_WORLD_INIT, 0), start_ord)
    closed: list[dict[str, np.ndarray]] = []
    n_events = n_corrupt = 0
    for d in range(days):
        day = start + timedelta(days=d)
        partition = f"date={day.isoformat()}"
        for sub in ("events", "items", "users"):
            shutil.rmtree(landing / sub / partition, ignore_errors=True)
        if d == 0:
            new_users = np.arange(len(world.user_signup))
            items = np.arange(len(world.item_cat))
        else:
            new_users, items = _evolve_world(world, sc, _rng(seed, _S_WORLD_DAY, d), day.toordinal(), closed)
        _write_users(world, new_users, landing / "users" / partition)
        _write_items(world, items, landing / "items" / partition)
        ev = _simulate_day(world, sc, _rng(seed, _S_EVENTS, d), day)
        n_ok, n_bad = _write_events(
            ev,
            landing / "events" / partition,
            day,
            key,
            event_format,
            corrupt_rate,
            _rng(seed, _S_CORRUPT, d),
        )
        n_events += n_ok
        n_corrupt += n_bad
        if progress is not None:
            extra = f" (+{n_bad:,} corrupt lines)" if n_bad else ""
            progress(f"{day.isoformat()}: {n_ok:,} events{extra}")
    params: dict[str, object] = {
        "scale": sc.name,
        "scale_params": asdict(sc),
        "seed": seed,
        "start": start.isoformat(),
        "end": (start + timedelta(days=days - 1)).isoformat(),
        "days": days,
        "event_format": event_format,
        "corrupt_rate": corrupt_rate,
        "funnel": {k: {"base": b, "gain_per_affinity": g} for k, (b, g) in _FUNNEL.items()},
        "funnel_formula": "p = base + gain_per_affinity * weight of the item's category for the user",
        "explore_prob": _EXPLORE_PROB,
        "session_stay_prob": _SESSION_STAY_PROB,
        "weekday_factors_mon_to_sun": list(_WEEKDAY_FACTORS),
        "preferences_validity": "valid_from <= day < valid_to (valid_to null while current)",
        "ids": "user, item, category and brand ids are 1-based",
    }
    _write_truth(world, closed, truth_dir, params)
    return GenerationStats(
        days=days,
        events=n_events,
        users=len(world.user_signup),
        items=len(world.item_cat),
        corrupt_lines=n_corrupt,
        seconds=time.perf_counter() - t0,
    )
