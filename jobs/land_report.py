"""What `shoprec land` reports: rows read, landed and carried per source and per day, and the days it found.

One concern: counting and summarising a landing. `SourceReport` is one source's tally (filled while
jobs/land.py streams it), `LandResult` the whole landing's, with the summary lines the CLI prints
and the `shoprec ingest` commands for the clusters of days found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jobs.land_options import SourceFormat
from shoprec import landing

CLUSTER_GAP_DAYS = 30
"""Days more than this far apart fall into separate clusters (a stray event does not stretch the range)."""
DEFAULT_MAX_REJECT_RATE = 0.05
"""Ingest's default --max-reject-rate: the summary warns about days above it."""


@dataclass
class SourceReport:
    """What one source file gave: rows read, landed and carried as rejects, per reason, per day."""

    path: Path
    source_format: SourceFormat
    tag: str
    read: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    hashed: Counter[str] = field(default_factory=Counter)
    days: dict[int, list[int]] = field(default_factory=dict)
    """Day ordinal -> [landed events, carried rejects, carried rejects that count as bad data]."""
    partials: dict[int, Path] = field(default_factory=dict)

    @property
    def landed(self) -> int:
        """Events written."""
        return sum(counts[0] for counts in self.days.values())

    @property
    def carried(self) -> int:
        """Lines carried to ingest as rejects."""
        return sum(self.reasons.values())

    @property
    def file_name(self) -> str:
        """The name of this source's landed file in every day folder."""
        return f"{landing.LANDED_PREFIX}{self.tag}.jsonl"

    @property
    def marker_name(self) -> str:
        """The name of this source's empty-day markers."""
        return f"{landing.EMPTY_DAY_MARKER}.{self.tag}"


def clusters(days: Iterable[date], gap: int = CLUSTER_GAP_DAYS) -> list[tuple[date, date]]:
    """Group days into (first, last) ranges, starting a new range after more than `gap` days without any."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and (day - ranges[-1][1]).days <= gap:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


@dataclass(frozen=True)
class LandResult:
    """What a landing wrote: per source, per day, the empty-day markers and the clusters of days."""

    sources: list[SourceReport]
    days: dict[date, tuple[int, int, int]]
    """Day -> (landed events, carried rejects, carried rejects that count as bad data)."""
    markers: list[date]
    ranges: list[tuple[date, date]]
    main: tuple[date, date]

    @property
    def read(self) -> int:
        """Non-blank source rows read."""
        return sum(s.read for s in self.sources)

    @property
    def landed(self) -> int:
        """Events written."""
        return sum(s.landed for s in self.sources)

    @property
    def carried(self) -> int:
        """Source rows carried to ingest as rejects."""
        return sum(s.carried for s in self.sources)

    def summary_lines(self, max_reject_rate: float = DEFAULT_MAX_REJECT_RATE) -> list[str]:
        """Per-day counts, totals, day ranges and the commands that ingest them, for stderr."""
        lines = ["day         landed events  carried rejects"]
        for day in sorted({*self.days, *self.markers}):
            landed, carried, _ = self.days.get(day, (0, 0, 0))
            note = "  (no events: marker written)" if day in self.markers else ""
            lines.append(f"{day}  {landed:>13,}  {carried:>15,}{note}")
        reasons = Counter[str]()
        hashed = Counter[str]()
        for source in self.sources:
            reasons.update(source.reasons)
            hashed.update(source.hashed)
        shown = ", ".join(f"{reason} {n:,}" for reason, n in reasons.most_common()) or "none"
        lines.append(
            f"total: read {self.read:,} = landed {self.landed:,} + carried rejects {self.carried:,} ({shown})"
        )
        if hashed:
            lines.append(
                "ids hashed (not integers): " + ", ".join(f"{k} {n:,} rows" for k, n in hashed.items())
            )
        first, last = self.ranges[0][0], self.ranges[-1][1]
        lines.append(
            f"days {first}..{last}: {len(self.days):,} with events, {len(self.markers):,} empty (marked)"
        )
        outlying = [r for r in self.ranges if r != self.main]
        if outlying:
            lines.append(
                f"outlying days (more than {CLUSTER_GAP_DAYS} days from the main range), ingest separately:"
            )
            lines.extend(f"  {ingest_command(*r)}" for r in outlying)
        high = {
            day: bad / (landed + carried)
            for day, (landed, carried, bad) in self.days.items()
            if bad / (landed + carried) > max_reject_rate
        }
        if high:
            worst = max(high, key=high.__getitem__)
            lines.append(
                f"note: {len(high):,} day(s) have more than {max_reject_rate:.0%} bad rows (most: {worst}, "
                f"{high[worst]:.1%}); ingest fails them unless given a higher --max-reject-rate"
            )
        lines.append(f"ingest with: {ingest_command(*self.main)}")
        return lines


def ingest_command(first: date, last: date) -> str:
    """The `shoprec ingest` command line for a range of days."""
    if first == last:
        return f"shoprec ingest --date {first}"
    return f"shoprec ingest --start {first} --end {last}"


def land_result(reports: Sequence[SourceReport], markers: dict[str, list[date]]) -> LandResult:
    """The landing's counts per day, its markers and its clusters of days, from the sources' reports."""
    days: dict[date, tuple[int, int, int]] = {}
    for report in reports:
        for ordinal, counts in report.days.items():
            day = date.fromordinal(ordinal)
            before = days.get(day, (0, 0, 0))
            days[day] = (before[0] + counts[0], before[1] + counts[1], before[2] + counts[2])
    landed_days = [day for day, counts in days.items() if counts[0]]
    ranges = clusters(landed_days)
    weight = {r: sum(days[d][0] for d in landed_days if r[0] <= d <= r[1]) for r in ranges}
    main = max(ranges, key=lambda r: (weight[r], r[1]))
    all_markers = sorted(day for marked in markers.values() for day in marked)
    return LandResult(list(reports), days, all_markers, ranges, main)
