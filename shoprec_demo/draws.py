"""Weighted draws over the simulated shop: items' attractiveness on a day, items and categories by weight.

One concern: how the generator picks. An item's attractiveness is its base times a Gaussian trend
bump (``attractiveness_at``, which the planted-preference ceiling reuses on the truth files);
``ItemSampler`` draws items proportionally to weights, within a category or across the whole
catalogue; ``sample_categories`` draws a category from a user's preference weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from shoprec_demo.world import World


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
