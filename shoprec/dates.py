"""Day arithmetic shared by jobs and the CLI (all days are UTC calendar days)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta


def days_between(start: date, end: date) -> Iterator[date]:
    """Every day from start to end, both included."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)
