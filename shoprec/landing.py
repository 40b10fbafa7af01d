"""Layout of the landing area: `<landing>/<kind>/date=YYYY-MM-DD/<files>`, one folder per UTC day.

Kinds: `events` (behaviour events), `items` (item catalog export), `users` (user registry export).
Event files are JSON Lines (`.jsonl`/`.json`), Parquet (`.parquet`) or the public behaviour-log
CSV layout (`.csv`: `user_id,item_id,category_id,behavior_type,timestamp`, no header).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

Kind = Literal["events", "items", "users"]
EventFormat = Literal["jsonl", "parquet", "behavior-log"]

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
