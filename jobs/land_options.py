"""What `shoprec land` is asked to do: source formats, shoprec's event fields and the mappings onto them.

One concern: the options of a landing. The `--columns` and `--event-types` option values, the
conventions of timestamps, and which source column feeds each shoprec field (checked against the
columns a source offers before any row is read).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shoprec.vocabulary import EVENT_TYPES

SourceFormat = Literal["behavior-log", "jsonl", "parquet", "csv"]
FIELDS = (
    "event_id",
    "user_id",
    "item_id",
    "event_type",
    "event_ts",
    "session_id",
    "price",
    "category_id",
    "quantity",
)
REQUIRED = ("user_id", "item_id", "event_type", "event_ts")


class LandError(ValueError):
    """A source cannot be landed as asked (missing file, unknown column, nothing landable)."""


@dataclass(frozen=True)
class LandOptions:
    """How to read the sources: format, column and event-type mappings, timestamp conventions."""

    source_format: SourceFormat | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    event_types: Mapping[str, str] = field(default_factory=dict)
    timestamp_unit: Literal["s", "ms"] = "s"
    timestamp_format: str | None = None
    year: int | None = None
    event_type: str | None = None


# ---------------------------------------------------------------- option values


def parse_pairs(values: Sequence[str]) -> list[tuple[str, str]]:
    """Split `NAME=VALUE` items (comma-separated, the option may repeat) into pairs.

    Raises:
        ValueError: An item without `=` or with an empty side.
    """
    pairs = []
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            name, sep, source = item.partition("=")
            if not sep or not name.strip() or not source.strip():
                raise ValueError(f"{item!r} is not NAME=VALUE")
            pairs.append((name.strip(), source.strip()))
    return pairs


def column_mapping(values: Sequence[str]) -> dict[str, str]:
    """The `--columns FIELD=SOURCE,…` option as {shoprec field: source column}.

    Raises:
        ValueError: An unknown shoprec field or one field mapped twice.
    """
    mapping: dict[str, str] = {}
    for name, source in parse_pairs(values):
        if name not in FIELDS:
            raise ValueError(f"{name!r} is not a shoprec field (one of {', '.join(FIELDS)})")
        if name in mapping and mapping[name] != source:
            raise ValueError(f"{name} is mapped twice ({mapping[name]!r}, {source!r})")
        mapping[name] = source
    return mapping


def event_type_mapping(values: Sequence[str]) -> dict[str, str]:
    """The `--event-types TYPE=SOURCE,…` option as {source value: shoprec type}; a type may take several.

    Raises:
        ValueError: An unknown shoprec type or one source value given two types.
    """
    mapping: dict[str, str] = {}
    for kind, source in parse_pairs(values):
        if kind not in EVENT_TYPES:
            raise ValueError(f"{kind!r} is not one of {', '.join(EVENT_TYPES)}")
        if mapping.get(source, kind) != kind:
            raise ValueError(f"{source!r} is given two types ({mapping[source]}, {kind})")
        mapping[source] = kind
    return mapping


def resolve_columns(
    path: Path, fmt: SourceFormat, options: LandOptions, available: Sequence[str]
) -> dict[str, str]:
    """Which source column feeds each shoprec field: the `--columns` mapping, else a same-named column.

    Args:
        path: The source (named in errors).
        fmt: Its layout.
        options: The mapping asked for.
        available: The source's columns (`source_columns`).

    Raises:
        LandError: A mapped column the source does not have, or a required field without a column.
    """
    shown = ", ".join(available[:30]) or "none"
    if fmt == "behavior-log" and options.columns:
        raise LandError(f"{path}: --columns does not apply to --format behavior-log (fixed layout: {shown})")
    for name, column in options.columns.items():
        if column not in available:
            raise LandError(f"{path}: no column {column!r} (mapped to {name}); its columns are: {shown}")
    mapping = {name: name for name in FIELDS if name in available}
    mapping.update(options.columns)
    if options.event_type:
        if "event_type" in options.columns:
            raise LandError("give either --event-type or an event_type column in --columns, not both")
        mapping.pop("event_type", None)
    for name in REQUIRED:
        if name not in mapping and not (name == "event_type" and options.event_type):
            also = " or give --event-type TYPE" if name == "event_type" else ""
            raise LandError(
                f"{path}: no column for {name}; map one with --columns {name}=COLUMN{also} (columns: {shown})"
            )
    return mapping
