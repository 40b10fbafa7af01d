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
* **Habits**: a user who bought a consumable item may make it a habit (``HABIT_FORM_PROB``):
  the item is due again after the user's own interval (the category's, times a log-normal
  factor) with noise on every cycle; a habit is given up with ``HABIT_END_PROB`` per cycle.
  The initial users start with habits in the consumable categories they prefer, due within
  their first interval, as if they had shopped before ``start``.  Durables bought during the
  run are remembered (``owned``): a user buys a durable once.

All draws come from the random generator passed in, so the world is a pure function of the
seed and the day (see ``shoprec_demo.generator``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shoprec_demo.scales import Scale

MAX_PREFS = 4  # preferred categories per user at most
BACKDATE_DAYS = 730  # initial items and users date back up to two years
ATTRACTIVENESS_SIGMA = 1.7  # log-normal sigma of the items' base attractiveness
CONSUMABLE_SHARE = 0.3  # of the categories
REPURCHASE_MEDIAN_DAYS = 14.0  # the consumable categories' intervals: log-normal, clipped
REPURCHASE_SIGMA = 0.45
REPURCHASE_RANGE_DAYS = (5.0, 60.0)
HABIT_FORM_PROB = 0.3  # a purchase of a consumable (not yet a habit) becomes a habit
HABIT_END_PROB = 0.1  # a habit is given up, per cycle
HABIT_INTERVAL_SIGMA = 0.2  # a user's own interval: the category's times log-normal(0, this)
HABIT_CYCLE_SIGMA = 0.12  # each cycle: the user's interval times log-normal(0, this)
INITIAL_HABITS_PER_USER = 0.5  # draws per initial user of average activity (non-consumables dropped)
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
_PAIR = np.int64(1 << 32)  # (user, item) pairs as user * _PAIR + item


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
    _add_initial_habits(world, rng, scale, start_ord)
    return world


def attractiveness_at(
    base: np.ndarray, boost: np.ndarray, peak: np.ndarray, days: np.ndarray, day_ord: int
) -> np.ndarray:
    """Items' attractiveness on a day: base x (1 + boost x a Gaussian bump around the trend's peak).

    Args:
        base: Base attractiveness (the truth's ``popularity``).
        boost: Trend boost at the peak (0 for items that do not trend).
        peak: Ordinal of the trend's peak day (ignored where boost is 0).
        days: Standard deviation of the bump in days (ignored where boost is 0).
        day_ord: Ordinal of the day.

    Returns:
        The attractiveness of every item on that day.
    """
    trending = boost > 0
    z = np.where(trending, (day_ord - peak) / np.where(trending, days, 1.0), 0.0)
    return base * (1.0 + boost * np.exp(-0.5 * np.minimum(z * z, 200.0)))


def attractiveness(world: World, day_ord: int) -> np.ndarray:
    """Every item's attractiveness on ``day_ord`` (base times its trend)."""
    return attractiveness_at(
        world.item_pop, world.item_trend_boost, world.item_trend_peak, world.item_trend_days, day_ord
    )


class ItemSampler:
    """Draws items proportionally to weights, within a category or across the whole catalogue."""

    def __init__(self, item_cat: np.ndarray, n_categories: int, weights: np.ndarray, storewide: np.ndarray):
        """Prepare the cumulative weights of one day.

        Args:
            item_cat: Category index of every item.
            n_categories: Number of categories (each holds at least one item).
            weights: Weight of every item for draws within its category.
            storewide: Weight of every item for draws across the whole catalogue.
        """
        self._order = np.argsort(item_cat, kind="stable")
        sorted_cat = item_cat[self._order]
        self._cum = np.cumsum(weights[self._order])
        cats = np.arange(n_categories)
        self._starts = np.searchsorted(sorted_cat, cats, side="left")
        self._ends = np.searchsorted(sorted_cat, cats, side="right")
        self._lo = np.where(self._starts > 0, self._cum[np.maximum(self._starts - 1, 0)], 0.0)
        self._total = self._cum[self._ends - 1] - self._lo
        self._store_cum = np.cumsum(storewide)

    def in_category(self, cats: np.ndarray, u: np.ndarray) -> np.ndarray:
        """One item of each category in ``cats``, from uniform numbers ``u`` in [0, 1)."""
        pos = np.searchsorted(self._cum, self._lo[cats] + u * self._total[cats], side="right")
        return self._order[np.clip(pos, self._starts[cats], self._ends[cats] - 1)]

    def storewide(self, u: np.ndarray) -> np.ndarray:
        """Items drawn across the whole catalogue, from uniform numbers ``u`` in [0, 1)."""
        pos = np.searchsorted(self._store_cum, u * self._store_cum[-1], side="right")
        return np.minimum(pos, len(self._store_cum) - 1)


def sample_categories(rng: np.random.Generator, world: World, users: np.ndarray) -> np.ndarray:
    """One category per user in ``users``, drawn from the user's preference weights."""
    u = rng.random(len(users))
    cum = np.cumsum(world.pref_w[users], axis=1)
    k = (world.pref_cat[users] >= 0).sum(axis=1)
    slot = np.minimum((u[:, None] >= cum).sum(axis=1), k - 1)
    return world.pref_cat[users, slot]


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


def _add_initial_habits(world: World, rng: np.random.Generator, scale: Scale, start_ord: int) -> None:
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
