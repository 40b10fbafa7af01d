"""A table's Delta history and restoring an earlier version, through delta-rs (Sail has neither).

`history` lists the commits newest first with the rows each added and removed, counted from the
files the commit added and removed (so it works for every engine's commits, Sail's, delta-spark's
and delta-rs's alike). `restore` makes an earlier version current again with a new RESTORE commit,
so the restore itself is in the history and can be undone the same way; it holds the table's write
guard like every other write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pyarrow as pa
from deltalake import DeltaTable
from deltalake.transaction import CommitProperties

from shoprec import engine, lake
from shoprec.catalog import Table
from shoprec.config import Settings


@dataclass(frozen=True)
class Version:
    """One commit of a table: when, what, and the rows it added and removed (None: not countable)."""

    version: int
    timestamp: datetime
    operation: str
    details: str
    rows_added: int | None
    rows_removed: int | None


def _files(dt: DeltaTable, version: int) -> dict[str, int] | None:
    """The data files of `version` with their row counts; None if that version cannot be loaded."""
    if version < 0:
        return {}
    try:
        dt.load_as_version(version)
    except Exception:  # delta-rs raises several types for a version whose log is gone
        return None
    actions = pa.table(dt.get_add_actions(flatten=True)).to_pydict()
    return dict(zip(actions["path"], (n or 0 for n in actions["num_records"]), strict=True))


def _details(commit: dict[str, object]) -> str:
    parameters = commit.get("operationParameters") or {}
    assert isinstance(parameters, dict)
    shown = [f"{k}={parameters[k]}" for k in ("mode", "predicate", "version", "datetime") if k in parameters]
    command = commit.get("shoprec.command")
    return " ".join([", ".join(shown), f"by {command}" if command else ""]).strip()


def history(table: Table, settings: Settings, limit: int | None = 20) -> list[Version]:
    """The table's commits, newest first (at most `limit`), with the rows each added and removed."""
    dt = lake.delta_table(table, settings)
    commits = dt.history(limit)
    reader = DeltaTable(str(table.location(settings.lake)))
    result = []
    for commit in commits:
        version = int(commit["version"])
        now, before = _files(reader, version), _files(reader, version - 1)
        added = removed = None
        if now is not None and before is not None:
            added = sum(rows for path, rows in now.items() if path not in before)
            removed = sum(rows for path, rows in before.items() if path not in now)
        result.append(
            Version(
                version,
                datetime.fromtimestamp(int(commit["timestamp"]) / 1000, UTC),
                str(commit.get("operation", "?")),
                _details(commit),
                added,
                removed,
            )
        )
    return result


def parse_timestamp(value: str) -> datetime:
    """`2026-01-09`, `2026-01-09T03:00`, `2026-01-09 03:00:00+01:00`: an instant (UTC unless a zone is given)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.combine(date.fromisoformat(value), time())
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def version_at(table: Table, settings: Settings, moment: datetime) -> int:
    """The table's version that was current at `moment` (its last commit at or before it).

    Raises:
        ValueError: `moment` is before the table's first commit.
    """
    commits = lake.delta_table(table, settings).history()
    for commit in commits:  # newest first
        if datetime.fromtimestamp(int(commit["timestamp"]) / 1000, UTC) <= moment:
            return int(commit["version"])
    first = datetime.fromtimestamp(int(commits[-1]["timestamp"]) / 1000, UTC)
    raise ValueError(
        f"{table.name} did not exist yet at {moment:%Y-%m-%d %H:%M:%S %Z} (created {first:%Y-%m-%d %H:%M:%S} UTC)"
    )


def restore(table: Table, settings: Settings, version: int, command: str) -> Version:
    """Make `version` current again in a new RESTORE commit that records `command` (who asked).

    Returns the new version. Holds the table's write guard (and its fault points) like every write.

    Raises:
        ValueError: The table has no such version, or its files are gone (vacuumed).
    """
    dt = lake.delta_table(table, settings)
    with engine.writing(table, settings):
        dt.update_incremental()
        current = dt.version()
        if not 0 <= version <= current:
            raise ValueError(f"{table.name} has versions 0..{current}, not {version}")
        try:
            dt.restore(
                version, commit_properties=CommitProperties(custom_metadata={"shoprec.command": command})
            )
        except Exception as exc:  # delta-rs: DeltaError for a version whose log or files are gone
            raise ValueError(f"cannot restore {table.name} to version {version}: {exc}") from exc
    return history(table, settings, limit=1)[0]
