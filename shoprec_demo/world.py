"""The simulated shop's state and how it changes from one day to the next.

* **Categories** have uneven, Zipf-like sizes and a log-normal median price each.  A share of
  them (``CONSUMABLE_SHARE``) sells consumables, bought again at a typical interval of the
  category (``repurchase_days``, log-normal around two weeks); the others sell durables.
* **Brands** have a home category (each category has at least one brand); 90 % of an item's
  brand comes from brands of its own category, the rest from any brand.
* **Items** get a category, a brand, a price (log-normal around the category median, 2 decimals)
  and a heavy-tailed, log-normal base attractiveness (``popularity``) drawn for the whole
  catalogue alike, so a small head of items draws a large share of all traffic.  A few items
  trend: their attractiveness is multiplied by ``1 + trend_boost * exp(-((day - trend_peak) /
  trend_days) ** 2 / 2)``, rising and fading over a few weeks (new items trend more often,
  soon after their listing).  The initial catalogue has listing dates up to two years before
  ``start``; new items are listed every following day and are visible from their listing day
  on.  A small fraction of the items changes price every day.
* **Users** have a heavy-tailed (log-normal) activity level, a country, an age band and sparse
  category preferences: 1-4 preferred categories with Dirichlet weights summing to 1.  Each day
  a small fraction of users swaps one preferred category (drift).  The initial users signed up
  up to two years before ``start``; new users sign up every following day.
* **Habits** (``shoprec_demo.habits``): consumables bought again, durables bought once.

All draws come from the random generator passed in, so the world is a pure function of the
seed and the day (see ``shoprec_demo.generator``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoprec_demo.habits import add_initial_habits
from shoprec_demo.scales import Scale

MAX_PREFS = 4  # preferred categories per user at most
BACKDATE_DAYS = 730  # initial items and users date back up to two years
ATTRACTIVENESS_SIGMA = 1.7  # log-normal sigma of the items' base attractiveness
CONSUMABLE_SHARE = 0.3  # of the categories
REPURCHASE_MEDIAN_DAYS = 14.0  # the consumable categories' intervals: log-normal, clipped
REPURCHASE_SIGMA = 0.45
REPURCHASE_RANGE_DAYS = (5.0, 60.0)
TREND_SHARE_INITIAL = 0.02  # of the initial catalogue
TREND_SHARE_NEW = 0.10  # of the newly listed items
TREND_BOOST_MEDIAN = 12.0  # the boost at the peak: log-normal around this median
TREND_BOOST_SIGMA = 0.7
TREND_DAYS_RANGE = (3.0, 9.0)  # the bump's standard deviation in days, uniform
TREND_PEAK_INITIAL_RANGE = (-21, 150)  # peak day of initial items, days from start
TREND_PEAK_NEW_RANGE = (0, 21)  # peak day of new items, days from listing
COUNTRIES = ("US", "GB", "DE", "FR", "IT", "ES", "NL", "PL", "SE", "CA", "AU", "BR", "IN")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55+")
_COUNTRY_WEIGHTS = np.array([28, 10, 12, 9, 6, 6, 5, 5, 3, 5, 4, 4, 3], dtype=float)
_AGE_WEIGHTS = np.array([18, 32, 24, 15, 11], dtype=float)
_BRAND_HOME_PROB = 0.9


def _ints() -> np.ndarray:
    return np.empty(0, np.int64)


def _floats() -> np.ndarray:
    return np.empty(0, float)


@dataclass
class World:
    """Mutable state of the simulated shop (index = id - 1; dates as day ordinals)."""

    cat_weights: np.ndarray
    cat_cum: np.ndarray
    cat_log_price: np.ndarray
    cat_consumable: np.ndarray  # bool
    cat_interval: np.ndarray  # typical repurchase interval in days, NaN for durables
    brand_order: np.ndarray
    brand_start: np.ndarray
    brand_count: np.ndarray
    item_cat: np.ndarray = field(default_factory=_ints)
    item_brand: np.ndarray = field(default_factory=_ints)
    item_price: np.ndarray = field(default_factory=_ints)  # cents
    item_pop: np.ndarray = field(default_factory=_floats)  # base attractiveness
    item_listed: np.ndarray = field(default_factory=_ints)
    item_trend_boost: np.ndarray = field(default_factory=_floats)  # 0 = no trend
    item_trend_peak: np.ndarray = field(default_factory=_ints)  # 0 = no trend
    item_trend_days: np.ndarray = field(default_factory=_floats)  # 0 = no trend
    user_signup: np.ndarray = field(default_factory=_ints)
    user_activity: np.ndarray = field(default_factory=_floats)
    user_country: np.ndarray = field(default_factory=_ints)
    user_age: np.ndarray = field(default_factory=_ints)
    pref_cat: np.ndarray = field(default_factory=lambda: np.empty((0, MAX_PREFS), np.int64))  # -1 unused
    pref_w: np.ndarray = field(default_factory=lambda: np.empty((0, MAX_PREFS), float))  # 0 unused
    pref_since: np.ndarray = field(default_factory=_ints)
    habit_user: np.ndarray = field(default_factory=_ints)
    habit_item: np.ndarray = field(default_factory=_ints)
    habit_interval: np.ndarray = field(default_factory=_floats)  # the user's own interval in days
    habit_next: np.ndarray = field(default_factory=_ints)  # next due day
    habit_since: np.ndarray = field(default_factory=_ints)
    owned: np.ndarray = field(default_factory=_ints)  # sorted pair keys of the durables bought


def init_world(scale: Scale, rng: np.random.Generator, start_ord: int) -> World:
    """The shop on its first day: categories, brands, the initial catalogue, users and their habits."""
    n_cat = scale.n_categories
    cw = np.arange(1, n_cat + 1, dtype=float) ** -0.9 * rng.lognormal(0.0, 0.3, n_cat)
    cw = rng.permutation(cw)
    cw /= cw.sum()
    cat_log_price = rng.normal(np.log(30.0), 0.9, n_cat)
    consumable = rng.permutation(np.arange(n_cat) < max(1, round(CONSUMABLE_SHARE * n_cat)))
    lo, hi = REPURCHASE_RANGE_DAYS
    interval = np.clip(REPURCHASE_MEDIAN_DAYS * rng.lognormal(0.0, REPURCHASE_SIGMA, n_cat), lo, hi)
    brand_cat = np.concatenate(
        [np.arange(min(n_cat, scale.n_brands)), rng.choice(n_cat, size=max(scale.n_brands - n_cat, 0), p=cw)]
    )
    brand_order = np.argsort(brand_cat, kind="stable")
    world = World(
        cat_weights=cw,
        cat_cum=np.cumsum(cw),
        cat_log_price=cat_log_price,
        cat_consumable=consumable,
        cat_interval=np.where(consumable, np.round(interval, 1), np.nan),
        brand_order=brand_order,
        brand_start=np.searchsorted(brand_cat[brand_order], np.arange(n_cat), side="left"),
        brand_count=np.bincount(brand_cat, minlength=n_cat),
    )
    # every category gets at least one item
    forced = np.arange(min(n_cat, scale.n_items))
    listed = start_ord - rng.integers(0, BACKDATE_DAYS, scale.n_items)
    peaks = start_ord + rng.integers(*TREND_PEAK_INITIAL_RANGE, scale.n_items)
    _add_items(world, rng, scale.n_items, listed, peaks, TREND_SHARE_INITIAL, forced)
    signup = start_ord - rng.integers(0, BACKDATE_DAYS, scale.n_users)
    _add_users(world, rng, scale, scale.n_users, signup, start_ord)
    add_initial_habits(world, rng, scale, start_ord)
    return world


def _draw_cats(rng: np.random.Generator, world: World, n: int) -> np.ndarray:
    return np.minimum(np.searchsorted(world.cat_cum, rng.random(n), side="right"), len(world.cat_weights) - 1)


def _add_items(
    world: World,
    rng: np.random.Generator,
    n: int,
    listed: np.ndarray,
    peaks: np.ndarray,
    trend_share: float,
    forced: np.ndarray | None = None,
) -> None:
    cats = _draw_cats(rng, world, n)
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
    pop = np.round(rng.lognormal(0.0, ATTRACTIVENESS_SIGMA, n), 6)
    trending = rng.random(n) < trend_share
    boost = np.where(
        trending, np.round(TREND_BOOST_MEDIAN * rng.lognormal(0.0, TREND_BOOST_SIGMA, n), 3), 0.0
    )
    days = np.where(trending, np.round(rng.uniform(*TREND_DAYS_RANGE, n), 2), 0.0)
    world.item_cat = np.concatenate([world.item_cat, cats])
    world.item_brand = np.concatenate([world.item_brand, brands])
    world.item_price = np.concatenate([world.item_price, cents])
    world.item_pop = np.concatenate([world.item_pop, pop])
    world.item_listed = np.concatenate([world.item_listed, np.asarray(listed, np.int64)])
    world.item_trend_boost = np.concatenate([world.item_trend_boost, boost])
    world.item_trend_peak = np.concatenate([world.item_trend_peak, np.where(trending, peaks, 0)])
    world.item_trend_days = np.concatenate([world.item_trend_days, days])


def _draw_preferences(
    rng: np.random.Generator, n: int, cat_weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    n_cat = len(cat_weights)
    k = np.minimum(1 + rng.binomial(MAX_PREFS - 1, 0.4, n), n_cat)
    log_w = np.log(cat_weights)
    cats = np.empty((n, MAX_PREFS), np.int64)
    batch = max(1, 4_000_000 // n_cat)
    for lo in range(0, n, batch):  # bounded memory Gumbel top-k sampling without replacement
        hi = min(n, lo + batch)
        keys = log_w + rng.gumbel(size=(hi - lo, n_cat))
        cats[lo:hi] = np.argpartition(-keys, MAX_PREFS - 1, axis=1)[:, :MAX_PREFS]
    slot_used = np.arange(MAX_PREFS) < k[:, None]
    w = rng.gamma(1.0, size=(n, MAX_PREFS)) * slot_used
    w /= w.sum(axis=1, keepdims=True)
    order = np.argsort(-w, axis=1, kind="stable")
    w = np.take_along_axis(w, order, axis=1)
    cats = np.take_along_axis(cats, order, axis=1)
    cats[~slot_used] = -1
    w[~slot_used] = 0.0
    return cats, w


def _add_users(
    world: World, rng: np.random.Generator, scale: Scale, n: int, signup: np.ndarray, since: int
) -> None:
    sigma = 1.0
    activity = scale.sessions_per_user_day * rng.lognormal(-(sigma**2) / 2, sigma, n)
    country = rng.choice(len(COUNTRIES), size=n, p=_COUNTRY_WEIGHTS / _COUNTRY_WEIGHTS.sum())
    age = rng.choice(len(AGE_BANDS), size=n, p=_AGE_WEIGHTS / _AGE_WEIGHTS.sum())
    cats, w = _draw_preferences(rng, n, world.cat_weights)
    world.user_signup = np.concatenate([world.user_signup, np.asarray(signup, np.int64)])
    world.user_activity = np.concatenate([world.user_activity, activity])
    world.user_country = np.concatenate([world.user_country, country])
    world.user_age = np.concatenate([world.user_age, age])
    world.pref_cat = np.concatenate([world.pref_cat, cats])
    world.pref_w = np.concatenate([world.pref_w, w])
    world.pref_since = np.concatenate([world.pref_since, np.full(n, since, np.int64)])


def pref_rows(world: World, users: np.ndarray, valid_to: int | None) -> dict[str, np.ndarray]:
    """Truth rows (1-based ids) of the users' current preferences, valid up to ``valid_to`` (None: current)."""
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


def evolve_world(
    world: World, scale: Scale, rng: np.random.Generator, day_ord: int, closed: list[dict[str, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Advance the world to a new day; returns (new user indices, new or repriced item indices).

    Preferences replaced by drift are appended to ``closed`` as truth rows ending on ``day_ord``.
    """
    n_users_before = len(world.user_signup)
    n_items_before = len(world.item_cat)
    # preference drift: swap one preferred category of a few users
    drift = np.flatnonzero(rng.random(n_users_before) < scale.pref_drift_rate)
    k = (world.pref_cat[drift] >= 0).sum(axis=1)
    slot = (rng.random(len(drift)) * k).astype(np.int64)
    new_cat = _draw_cats(rng, world, len(drift))
    clash = (world.pref_cat[drift] == new_cat[:, None]).any(axis=1)
    drift, slot, new_cat = drift[~clash], slot[~clash], new_cat[~clash]
    if len(drift):
        closed.append(pref_rows(world, drift, day_ord))
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
    peaks = day_ord + rng.integers(*TREND_PEAK_NEW_RANGE, n_new_items)
    _add_items(world, rng, n_new_items, np.full(n_new_items, day_ord, np.int64), peaks, TREND_SHARE_NEW)
    n_new_users = int(rng.poisson(scale.new_users_per_day))
    _add_users(world, rng, scale, n_new_users, np.full(n_new_users, day_ord, np.int64), day_ord)
    items = np.concatenate([changed, np.arange(n_items_before, len(world.item_cat))])
    return np.arange(n_users_before, len(world.user_signup)), items
