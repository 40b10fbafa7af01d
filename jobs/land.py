"""`shoprec land`: stream public log files into the landing layout, one folder per UTC day, in bounded memory.

One concern: writing. Rows are read by jobs/land_readers.py and converted by jobs/land_events.py;
this module routes each one to a hidden temporary file of its day (buffered, with a bounded number
of open files), carries the lines it cannot convert as rejects that ingest recognises, and, once
every source has been read, swaps the new files in for what an earlier landing of the same source
left and adds markers for the days without events inside a range (jobs/land_report.py counts and
summarises). No state is kept per row.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import IO

from jobs.land_events import Converter
from jobs.land_options import LandError, LandOptions, SourceFormat, resolve_columns
from jobs.land_readers import Rejection, detect_format, raw_text, read_rows, source_columns
from jobs.land_report import LandResult, SourceReport, clusters, land_result
from shoprec import landing

MAX_OPEN_FILES = 64
"""At most this many day files are open at once (least recently used closed first, reopened to append)."""
MAX_BUFFERED_CHARS = 4 << 20
"""Lines wait in memory until this many characters are buffered over all days, then every day is flushed."""
PROGRESS_EVERY = 1_000_000
"""A progress line every this many source rows."""


def _quiet(_: str) -> None:
    pass


def _remove(path: Path) -> None:
    """Delete a file, and its day folder when that leaves the folder empty."""
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: other sources' files are there
        path.parent.rmdir()


def source_tag(path: Path) -> str:
    """`<file name>-<10 hex digits of BLAKE2b(absolute path)>`: names what one source file landed."""
    digest = hashlib.blake2b(str(path.resolve()).encode(), digest_size=5).hexdigest()
    stem = path.name.removesuffix(".gz").rsplit(".", 1)[0]
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", stem)[:40].strip("_") or "source"
    return f"{name}-{digest}"


class DayFiles:
    """One hidden temporary file per day, written through a bounded buffer and a bounded set of open files."""

    def __init__(self, root: Path, name: str, max_open: int | None = None, max_buffered: int | None = None):
        self.root = root
        self.name = name
        self.max_open = max_open or MAX_OPEN_FILES
        self.max_buffered = max_buffered or MAX_BUFFERED_CHARS
        self.paths: dict[int, Path] = {}
        self._buffers: dict[int, list[str]] = {}
        self._buffered = 0
        self._open: OrderedDict[int, IO[str]] = OrderedDict()

    def write(self, day: int, line: str) -> None:
        """Append a line (with its newline) to the day's file."""
        buffer = self._buffers.get(day)
        if buffer is None:
            buffer = self._buffers[day] = []
        buffer.append(line)
        self._buffered += len(line)
        if self._buffered > self.max_buffered:
            self.flush()

    def flush(self) -> None:
        """Write every buffered line to its day's file."""
        for day in sorted(self._buffers):
            self._handle(day).write("".join(self._buffers[day]))
        self._buffers.clear()
        self._buffered = 0

    def close(self) -> None:
        """Flush and close every file."""
        try:
            self.flush()
        finally:
            while self._open:
                self._open.popitem()[1].close()

    def discard(self) -> None:
        """Close and delete every file written."""
        self._buffers.clear()
        self.close()
        for path in self.paths.values():
            _remove(path)

    def _handle(self, day: int) -> IO[str]:
        handle = self._open.get(day)
        if handle is not None:
            self._open.move_to_end(day)
            return handle
        path = self.paths.get(day)
        if path is None:
            folder = landing.day_dir(self.root, "events", date.fromordinal(day))
            folder.mkdir(parents=True, exist_ok=True)
            path = self.paths[day] = folder / self.name
            path.unlink(missing_ok=True)
        if len(self._open) >= self.max_open:
            self._open.popitem(last=False)[1].close()
        handle = self._open[day] = path.open("a", encoding="utf-8", newline="\n")
        return handle


def carried_line(rejection: Rejection, raw: str, event_id: str, where: str) -> str:
    """A source line land could not convert, as a JSON line ingest rejects with the same reason.

    Args:
        rejection: Why the line is not an event.
        raw: The source line as read (a Parquet row as JSON).
        event_id: The id the event would have had.
        where: The source file and line, appended to the detail.
    """
    row = {
        "event_id": event_id,
        landing.CARRIED_REASON: rejection.reason,
        landing.CARRIED_COLUMN: rejection.column,
        landing.CARRIED_DETAIL: f"{rejection.detail} ({where})",
        landing.CARRIED_RAW_LINE: raw,
    }
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _stream(
    path: Path, fmt: SourceFormat, converter: Converter, root: Path, progress: Callable[[str], None]
) -> SourceReport:
    """Read one source to the end, writing its events and carried rejects into temporary day files."""
    report = SourceReport(path.resolve(), fmt, source_tag(path))
    events = root / "events"
    events.mkdir(parents=True, exist_ok=True)
    for stale in events.glob(f"date=*/.{report.file_name}.partial"):  # left by a crashed landing
        stale.unlink()
    files = DayFiles(root, f".{report.file_name}.partial")
    pending_path = events / f".{report.file_name}.pending"  # rejects read before the first event
    pending: IO[str] | None = None
    unit = "row" if fmt == "parquet" else "line"
    days = report.days
    legitimate = landing.LEGITIMATE_REJECT_REASONS
    first_day: int | None = None
    last_day = 0
    read = 0
    next_progress = PROGRESS_EVERY
    started = time.monotonic()
    try:
        for number, raw, values in read_rows(path, fmt):
            read += 1
            result = values if isinstance(values, Rejection) else converter.convert(number, values)
            if isinstance(result, tuple):
                last_day, line = result
                files.write(last_day, line)
                counts = days.get(last_day)
                if counts is None:
                    counts = days[last_day] = [0, 0, 0]
                    if first_day is None:
                        first_day = last_day
                counts[0] += 1
            else:
                report.reasons[result.reason] += 1
                if isinstance(values, Rejection):
                    raw_line, event_id = raw or "", f"{converter.id_prefix}-{number}"
                else:
                    raw_line = raw if raw is not None else raw_text(values)
                    event_id = converter.event_id(number, values)
                line = carried_line(result, raw_line, event_id, f"{report.path} {unit} {number}")
                if first_day is None:
                    pending = pending or pending_path.open("w", encoding="utf-8", newline="\n")
                    pending.write(line)
                else:
                    files.write(last_day, line)
                    days[last_day][1] += 1
                    days[last_day][2] += result.reason not in legitimate
            if read == next_progress:
                next_progress += PROGRESS_EVERY
                rate = read / max(time.monotonic() - started, 1e-9)
                progress(f"  {path.name}: {read:,} lines ({rate:,.0f} lines/s)")
        if pending is not None:
            pending.close()
            pending = None
            if first_day is not None:
                _move_pending(pending_path, files, first_day, days[first_day])
        files.close()
    except BaseException:
        files.discard()
        raise
    finally:
        if pending is not None:
            pending.close()
        pending_path.unlink(missing_ok=True)
    report.read = read
    report.hashed.update(converter.hashed)
    report.partials = dict(files.paths)
    return report


def _move_pending(pending: Path, files: DayFiles, day: int, counts: list[int]) -> None:
    """Append the rejects read before the source's first event to the day of that first event."""
    with pending.open(encoding="utf-8") as f:
        for line in f:
            files.write(day, line)
            counts[1] += 1
            counts[2] += json.loads(line)[landing.CARRIED_REASON] not in landing.LEGITIMATE_REJECT_REASONS


def _marker_days(reports: Sequence[SourceReport]) -> dict[str, list[date]]:
    """Days inside a cluster without any event, each given to the source with the nearest earlier event."""
    landed = {day for report in reports for day, counts in report.days.items() if counts[0]}
    markers: dict[str, list[date]] = {report.tag: [] for report in reports}
    for first, last in clusters(date.fromordinal(d) for d in landed):
        for ordinal in range(first.toordinal(), last.toordinal() + 1):
            if ordinal in landed:
                continue
            owner = max(reports, key=lambda r: max((d for d in r.days if d < ordinal), default=-1))
            markers[owner.tag].append(date.fromordinal(ordinal))
    return markers


def _commit(report: SourceReport, root: Path, marker_days: Sequence[date]) -> None:
    """Put a source's new day files and markers in place, then remove what its earlier landing left."""
    events = root / "events"
    old = set(events.glob(f"date=*/{report.file_name}")) | set(events.glob(f"date=*/{report.marker_name}"))
    new = set()
    for partial in report.partials.values():
        final = partial.with_name(report.file_name)
        os.replace(partial, final)
        new.add(final)
    for day in marker_days:
        folder = landing.day_dir(root, "events", day)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{report.marker_name}.partial"
        temporary.write_text(f"no events on {day} in {report.path} (written by shoprec land)\n")
        final = folder / report.marker_name
        os.replace(temporary, final)
        new.add(final)
    for stale in old - new:
        _remove(stale)


def land(
    paths: Sequence[Path],
    root: Path,
    options: LandOptions,
    progress: Callable[[str], None] = _quiet,
) -> LandResult:
    """Land source files under `root` (the landing folder); landing a file again replaces what it landed.

    Args:
        paths: Source files, read in order.
        root: The landing folder (`Settings.landing`).
        options: Format, mappings and timestamp conventions, shared by all sources.
        progress: Called with progress lines.

    Returns:
        Counts per source and per day, markers written, clusters of days and the main one.

    Raises:
        LandError: A missing file, a file given twice, a mapping the source cannot satisfy, or a source
            with no landable row; nothing of this landing is then put in place.
    """
    plans = []
    for path in paths:
        if not path.is_file():
            raise LandError(f"no such file: {path}")
        fmt = options.source_format or detect_format(path)
        columns = source_columns(path, fmt)
        plans.append((path, fmt, columns, resolve_columns(path, fmt, options, columns)))
    tags = [source_tag(path) for path in paths]
    twice = sorted({str(p) for p, t in zip(paths, tags, strict=True) if tags.count(t) > 1})
    if twice:
        raise LandError(f"file given twice: {twice[0]}")
    reports: list[SourceReport] = []
    try:
        for path, fmt, columns, mapping in plans:
            progress(f"landing {path} ({fmt}) as {landing.LANDED_PREFIX}{source_tag(path)}.jsonl")
            prefix = source_tag(path).rsplit("-", 1)[1]
            converter = Converter(options, mapping, fmt, prefix, columns)
            report = _stream(path, fmt, converter, root, progress)
            reports.append(report)
            if not report.landed:
                first = report.reasons.most_common(1)
                why = f"; most common problem: {first[0][0]}" if first else ""
                raise LandError(f"{path}: none of its {report.read:,} rows could be landed{why}")
            progress(
                f"  {path.name}: read {report.read:,} = landed {report.landed:,} + "
                f"carried rejects {report.carried:,}"
            )
        markers = _marker_days(reports)
    except BaseException:
        for report in reports:
            for partial in report.partials.values():
                _remove(partial)
        raise
    for report in reports:
        _commit(report, root, markers[report.tag])
    return land_result(reports, markers)
