"""Layout of the landing area: `<landing>/<kind>/date=YYYY-MM-DD/<files>`, one folder per UTC day.

Kinds: `events` (behaviour events), `items` (item catalog export), `users` (user registry export).
Event files are JSON Lines (`.jsonl`/`.json`), Parquet (`.parquet`) or the public behaviour-log
CSV layout (`.csv`: `user_id,item_id,category_id,behavior_type,timestamp`, no header).

`shoprec land` (jobs/land.py) writes `land-<tag>.jsonl` files, `_no_events.<tag>` markers for days
without events inside a landed range, and carries the source lines it could not read as JSON lines
with `land_reason`; the names and the id rule (`parse_id`, `hashed_id`) it shares with ingest live here.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from pathlib import Path
from typing import Literal

Kind = Literal["events", "items", "users"]
EventFormat = Literal["jsonl", "parquet", "behavior-log"]

BEHAVIOR_TYPES = {"pv": "view", "fav": "fav", "cart": "cart", "buy": "purchase"}
"""The public behaviour log's behavior_type values and the event types they stand for."""

FORMAT_BY_SUFFIX: dict[str, EventFormat] = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".csv": "behavior-log",
}


def day_dir(landing: Path, kind: Kind, day: date) -> Path:
    """The folder holding one day's files of one kind."""
    return landing / kind / f"date={day.isoformat()}"


def day_files(landing: Path, kind: Kind, day: date) -> list[Path]:
    """The day's data files of one kind, sorted by name (hidden and marker files skipped)."""
    folder = day_dir(landing, kind, day)
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith((".", "_")) and p.suffix in FORMAT_BY_SUFFIX
    )


def detect_format(files: list[Path]) -> EventFormat:
    """The single format of a day's event files, from their suffixes; mixed formats are an error."""
    formats = {FORMAT_BY_SUFFIX[p.suffix] for p in files}
    if len(formats) != 1:
        names = ", ".join(p.name for p in files[:5])
        raise ValueError(f"expected one landing format per day, found {sorted(formats)} in {names}")
    return formats.pop()


# ---------------------------------------------------------------- what `shoprec land` writes

LANDED_PREFIX = "land-"
"""Event files written by `shoprec land` are `land-<tag>.jsonl`, one per source file and day."""

EMPTY_DAY_MARKER = "_no_events"
"""`_no_events.<tag>` in a day folder: the landed source had no events that day (ingest records 0 rows)."""

CARRIED_REASON = "land_reason"
CARRIED_COLUMN = "land_column"
CARRIED_DETAIL = "land_detail"
CARRIED_RAW_LINE = "raw_line"
"""Keys of a JSON line that carries a source line `shoprec land` could not convert to ingest, which
rejects it with that reason, column and detail and keeps the original line as its raw_line."""

LEGITIMATE_REJECT_REASONS = frozenset({"duplicate_event_id", "cancelled", "anonymous_purchase"})
"""Rejection reasons that describe normal data (at-least-once exports, cancelled orders, guest checkouts
in invoice exports), not bad data:
kept in raw.events_rejected but not counted against ingest's --max-reject-rate."""

HASHED_ID_MIN = 1 << 62
"""Hashed ids lie in [2**62, 2**63): integer ids below 2**62 can never collide with one."""

_BIGINT_MIN, _BIGINT_MAX = -(1 << 63), (1 << 63) - 1
_EXACT_FLOAT = 1 << 53


def empty_day_markers(landing: Path, day: date) -> list[Path]:
    """The day's `_no_events.*` markers: landed sources that had no events on this day."""
    folder = day_dir(landing, "events", day)
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"{EMPTY_DAY_MARKER}.*"))


def hashed_id(text: str) -> int:
    """A stable positive 63-bit id for a non-integer source id (e.g. a stock code like `85123A`).

    The id is the first 8 bytes of BLAKE2b(text, digest_size=8) read big-endian, with the top bit
    cleared and the next one set: always in [2**62, 2**63), a range small integer ids never reach,
    and the same on every machine and Python version (unlike `hash()`).
    """
    digest = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return HASHED_ID_MIN | (digest & (HASHED_ID_MIN - 1))


def _integral(text: str) -> int | None:
    """The BIGINT that ASCII integer text or an integral float text (`17850.0`) stands for, else None."""
    if not text.isascii() or not text or not text[-1].isdigit():
        return None
    if text.isdigit() or (text[0] == "-" and text[1:].isdigit()):
        digits = text.lstrip("-").lstrip("0")
        if len(digits) > 19:  # beyond a BIGINT; int() refuses text of over 4,300 digits
            return None
        number = -int(digits or "0") if text[0] == "-" else int(digits or "0")
        return number if _BIGINT_MIN <= number <= _BIGINT_MAX else None
    try:
        number_f = float(text)
    except ValueError:
        return None
    return int(number_f) if number_f.is_integer() and abs(number_f) < _EXACT_FLOAT else None


def parse_id(value: object) -> tuple[int | None, bool]:
    """A source id as shoprec's BIGINT id: `(id, hashed)`, `(None, False)` when blank or absent.

    Integer text (or an int) that fits a BIGINT stays as it is; an integral float such as `17850.0`
    becomes `17850`; anything else (`85123A`, `1.5`, an integer too large for a BIGINT) becomes
    `hashed_id` of its trimmed text, and `hashed` is True. A float NaN is a missing id.
    """
    if isinstance(value, int) and not isinstance(value, bool) and _BIGINT_MIN <= value <= _BIGINT_MAX:
        return value, False
    if isinstance(value, float):
        if math.isnan(value):
            return None, False
        if value.is_integer() and abs(value) < _EXACT_FLOAT:
            return int(value), False
    text = "" if value is None else str(value).strip()
    number = _integral(text) if isinstance(value, str) else None
    if number is not None:
        return number, False
    if not text:
        return None, False
    return hashed_id(text), True
