"""One simulated day of shop behaviour: sessions, item views and the funnel to purchases.

* **Traffic**: every user starts ``Poisson(activity * weekday factor)`` browsing sessions a day
  (``WEEKDAY_FACTORS``: quieter mid-week, busiest at weekends), at an hour drawn from a weekday
  or weekend hour-of-day profile (evening peak, quiet night, UTC).
* **Views**: a session has a main category drawn from the user's preferences; each of its
  (geometrically many) views stays in the main category or re-draws from the preferences, and
  picks an item with probability attractiveness / (attractiveness of the category's items).
  A share of all views (``STOREWIDE_SHARE``: home page, bestseller lists, promotions, search)
  instead picks an item across the whole catalogue with probability proportional to
  attractiveness ** ``STOREWIDE_EXPONENT``, whatever its category, which is what makes
  popularity a strong signal.  Attractiveness includes the items' trends of the day.
* **Funnel**: each view may lead to a click, a click to a cart and/or a fav, a cart to a
  purchase; every probability is ``base + gain * affinity`` where affinity is the user's
  preference weight of the item's category (so preferences are learnable); storewide views are
  of broadly appealing items, so their affinity is at least ``STOREWIDE_AFFINITY``.  A durable
  is bought once: a user who owns it does not cart it again, and of two purchases of it on one
  day only the first happens.
* **Restocking**: every habit due that day (see ``shoprec_demo.habits``) is a short session of
  its own: a view of the habitual item, which very likely ends in a purchase (``RESTOCK``).
* Events of a session have strictly increasing timestamps; a session running past midnight is
  cut at 23:59:59.999 (later events are dropped), so every event lies within its UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from shoprec_demo.draws import ItemSampler, attractiveness, sample_categories
from shoprec_demo.habits import due_habits, owns, pair_keys
from shoprec_demo.scales import Scale
from shoprec_demo.world import World

VIEW, CLICK, CART, FAV, PURCHASE = 0, 1, 2, 3, 4
# probability = base + gain * affinity (affinity = user's weight of the item's category)
FUNNEL: dict[str, tuple[float, float]] = {
    "click_given_view": (0.10, 0.35),
    "cart_given_click": (0.10, 0.25),
    "fav_given_click": (0.05, 0.12),
    "purchase_given_cart": (0.25, 0.30),
}
# the funnel of a restocking visit (the view is of the habitual item)
RESTOCK: dict[str, float] = {
    "click_given_view": 0.95,
    "cart_given_click": 0.9,
    "fav_given_click": 0.02,
    "purchase_given_cart": 0.9,
}
STOREWIDE_SHARE = 0.2
STOREWIDE_EXPONENT = 2.0
STOREWIDE_AFFINITY = 0.35
SESSION_STAY_PROB = 0.70
MAX_VIEWS = 60
MS_PER_DAY = 86_400_000
# Monday .. Sunday
WEEKDAY_FACTORS = (0.93, 0.9, 0.92, 0.95, 1.02, 1.16, 1.24)
# relative traffic per UTC hour 0 .. 23
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


@dataclass
class DayEvents:
    """One day's valid events, sorted by timestamp (indices are ids - 1)."""

    user: np.ndarray
    item: np.ndarray
    cat: np.ndarray
    etype: np.ndarray  # VIEW .. PURCHASE
    ms: np.ndarray  # milliseconds since midnight UTC
    session: np.ndarray  # day-local session number
    price: np.ndarray  # cents


def funnel_prob(name: str, affinity: np.ndarray) -> np.ndarray:
    """The probability of one funnel step (a key of ``FUNNEL``) at the given affinities."""
    base, gain = FUNNEL[name]
    return base + gain * affinity


def _delays(rng: np.random.Generator, n: int, median_ms: float, sigma: float, cap_ms: int) -> np.ndarray:
    return np.minimum(rng.lognormal(np.log(median_ms), sigma, n), cap_ms).astype(np.int64) + 1


def _step(rng: np.random.Generator, name: str, affinity: np.ndarray, restock: np.ndarray) -> np.ndarray:
    """Whether each row takes funnel step ``name`` (restocking rows with the restock funnel)."""
    return rng.random(len(affinity)) < np.where(restock, RESTOCK[name], funnel_prob(name, affinity))


def simulate_day(world: World, scale: Scale, rng: np.random.Generator, day: date) -> DayEvents:
    """Simulate one day's events of every user of ``world`` (the world is not changed)."""
    n_users = len(world.user_signup)
    day_ord = day.toordinal()
    weekday = day.weekday()
    lam = world.user_activity * WEEKDAY_FACTORS[weekday] * rng.lognormal(0.0, 0.05)
    n_sess = rng.poisson(lam)
    due = due_habits(world, day_ord)
    sess_user = np.concatenate([np.repeat(np.arange(n_users), n_sess), world.habit_user[due]])
    n_browse, n_s = int(n_sess.sum()), len(sess_user)
    hour_w = _HOURS_WEEKEND if weekday >= 5 else _HOURS_WEEKDAY
    hours = rng.choice(24, size=n_s, p=hour_w / hour_w.sum())
    sess_start = hours * 3_600_000 + rng.integers(0, 3_600_000, n_s)
    n_views = np.minimum(rng.geometric(1.0 / scale.mean_views_per_session, n_s), MAX_VIEWS)
    n_views[n_browse:] = 1
    main_cat = sample_categories(rng, world, sess_user)

    # views: the session's categories or storewide; restocking sessions view their habitual item
    v_sess = np.repeat(np.arange(n_s), n_views)
    n_v = len(v_sess)
    v_user = sess_user[v_sess]
    stay = rng.random(n_v) < SESSION_STAY_PROB
    v_cat = np.where(stay, main_cat[v_sess], sample_categories(rng, world, v_user))
    weights = attractiveness(world, day_ord)
    sampler = ItemSampler(world.item_cat, len(world.cat_weights), weights, weights**STOREWIDE_EXPONENT)
    restock = v_sess >= n_browse
    storewide = (rng.random(n_v) < STOREWIDE_SHARE) & ~restock
    u = rng.random(n_v)
    v_item = np.empty(n_v, np.int64)
    v_item[storewide] = sampler.storewide(u[storewide])
    v_item[~storewide] = sampler.in_category(v_cat[~storewide], u[~storewide])
    v_item[restock] = world.habit_item[due]
    v_cat = world.item_cat[v_item]
    affinity = (world.pref_w[v_user] * (world.pref_cat[v_user] == v_cat[:, None])).sum(axis=1)
    affinity = np.where(storewide, np.maximum(affinity, STOREWIDE_AFFINITY), affinity)
    gaps = _delays(rng, n_v, 25_000, 0.9, 1_800_000) + 1_000
    first = np.cumsum(n_views) - n_views
    gaps[first] = 0
    cs = np.cumsum(gaps)
    v_ms = sess_start[v_sess] + cs - cs[first][v_sess]

    # funnel: view -> click -> cart / fav, cart -> purchase
    c_idx = np.flatnonzero(_step(rng, "click_given_view", affinity, restock))
    c_ms = v_ms[c_idx] + _delays(rng, len(c_idx), 4_000, 0.7, 120_000) + 500
    c_aff, c_restock = affinity[c_idx], restock[c_idx]
    is_cart = _step(rng, "cart_given_click", c_aff, c_restock)
    is_fav = _step(rng, "fav_given_click", c_aff, c_restock)
    is_cart &= ~owns(world, v_user[c_idx], v_item[c_idx])  # durables are bought once
    k_idx = c_idx[is_cart]
    k_ms = c_ms[is_cart] + _delays(rng, len(k_idx), 30_000, 0.8, 900_000)
    f_idx = c_idx[is_fav]
    f_ms = c_ms[is_fav] + _delays(rng, len(f_idx), 8_000, 0.8, 300_000)
    is_buy = _step(rng, "purchase_given_cart", affinity[k_idx], restock[k_idx])
    p_idx = k_idx[is_buy]
    p_ms = k_ms[is_buy] + _delays(rng, len(p_idx), 90_000, 0.9, 1_800_000)
    # a durable carted twice in a day is bought the first time only
    durable = ~world.cat_consumable[v_cat[p_idx]]
    keys = np.where(durable, pair_keys(v_user[p_idx], v_item[p_idx]), -1 - np.arange(len(p_idx)))
    by_time = np.argsort(p_ms, kind="stable")
    first_buys = np.sort(by_time[np.unique(keys[by_time], return_index=True)[1]])
    p_idx, p_ms = p_idx[first_buys], p_ms[first_buys]

    src = np.concatenate([np.arange(n_v), c_idx, k_idx, f_idx, p_idx])
    etype = np.concatenate(
        [
            np.full(len(a), t, np.int8)
            for a, t in ((v_ms, VIEW), (c_idx, CLICK), (k_idx, CART), (f_idx, FAV), (p_idx, PURCHASE))
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
    keep = ms < MS_PER_DAY  # cut sessions at 23:59:59.999
    src, etype, ms, sess = src[keep], etype[keep], ms[keep], sess[keep]
    o = np.argsort(ms, kind="stable")
    src, etype, ms, sess = src[o], etype[o], ms[o], sess[o]
    item = v_item[src]
    return DayEvents(
        user=v_user[src],
        item=item,
        cat=v_cat[src],
        etype=etype,
        ms=ms,
        session=sess,
        price=world.item_price[item],
    )
