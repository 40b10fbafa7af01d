"""The sizes of the simulated shops: users, items, categories, brands and activity per scale."""

from __future__ import annotations

from dataclasses import dataclass


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
        sessions_per_user_day: Mean browsing sessions per user and day (activity is heavy-tailed
            around it); restocking visits of consumables come on top.
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
