"""When the daily pipeline retrains the ranker; on other days it reuses the champion."""

from __future__ import annotations

from datetime import date
from typing import Literal

Cadence = Literal["daily", "weekly"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def training_due(day: date, cadence: Cadence, weekday: str, *, has_champion: bool) -> bool:
    """Whether run_date `day` trains: every day, or on `weekday` for weekly, and always without a champion."""
    if cadence not in ("daily", "weekly"):
        raise ValueError(f"training cadence must be daily or weekly, got {cadence!r}")
    if weekday not in WEEKDAYS:
        raise ValueError(f"training weekday must be one of {', '.join(WEEKDAYS)}, got {weekday!r}")
    if not has_champion or cadence == "daily":
        return True
    return WEEKDAYS[day.weekday()] == weekday
