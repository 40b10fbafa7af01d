"""Source layouts for `shoprec land`: read a public log row by row and convert each row to a landing event.

One concern: turning a row of some source layout (the behaviour log, a CSV with a header, JSON
Lines, Parquet) into shoprec's canonical landing event (its UTC day and its JSON line) or a
`Rejection` with a machine-readable reason. Nothing here keeps state per row; jobs/land.py writes.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, Literal

from shoprec import landing
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
BEHAVIOR_LOG_COLUMNS = ("user_id", "item_id", "category_id", "event_type", "event_ts")
JSONL_SAMPLE_LINES = 1000
"""JSON Lines have no header: mapped keys are checked against the keys of this many first lines."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MAX_ORDINAL = date.max.toordinal()
_BEHAVIOR_LINE = re.compile(r"^\s*-?\d+\s*,\s*-?\d+\s*,[^,]*,[^,]+,\s*\d+\s*$")
_EPOCH_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_UNPARSED = object()
_UNMAPPED = object()  # the key of fields a dict row does not map: never present
_STRPTIME_CACHE_SIZE = 4096
_HOUR_MINUTE = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]  # by minute of the day
_SECOND = [f"{s:02d}" for s in range(60)]

Values = list[str | None] | dict[str, object]
"""A source row: the fields of a CSV line (header order, then one None) or a JSON object / Parquet row."""
Row = tuple[int, str | None, "Values | Rejection"]
"""(1-based line or row number, raw line or None when it has to be rebuilt, values or a parse problem)."""


class LandError(ValueError):
    """A source cannot be landed as asked (missing file, unknown column, nothing landable)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a source row is not an event: reason (as ingest names it), the field concerned, a readable detail."""

    reason: str
    column: str | None
    detail: str


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


# ---------------------------------------------------------------- reading source files


def open_text(path: Path) -> IO[str]:
    """Open a text source (gzip when it ends in .gz); undecodable bytes become U+FFFD, never an error."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return path.open(encoding="utf-8-sig", errors="replace")


def detect_format(path: Path) -> SourceFormat:
    """A source's layout from its suffix, or for other text files from its first non-blank line."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    with open_text(path) as f:
        for line in f:
            if line.strip():
                return "behavior-log" if _BEHAVIOR_LINE.match(line) else "csv"
    return "csv"


def source_columns(path: Path, fmt: SourceFormat) -> list[str]:
    """The column names a source offers (the header, the Parquet schema, keys seen in the first JSON lines)."""
    if fmt == "behavior-log":
        return list(BEHAVIOR_LOG_COLUMNS)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with open_text(path) as f:
        if fmt == "csv":
            header = next(csv.reader(f), [])
            return [name.strip() for name in header]
        keys: dict[str, None] = {}
        for number, line in enumerate(f, 1):
            if number > JSONL_SAMPLE_LINES:
                break
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                keys.update(dict.fromkeys(row))
        return list(keys)


def read_rows(path: Path, fmt: SourceFormat) -> Iterator[Row]:
    """Every non-blank row of a source, in order, as its values or the problem that kept them unreadable."""
    if fmt == "parquet":
        yield from _parquet_rows(path)
        return
    with open_text(path) as f:
        if fmt == "csv":
            yield from _csv_rows(f)
        elif fmt == "jsonl":
            yield from _jsonl_rows(f)
        else:
            yield from _behavior_rows(f)


def _behavior_rows(f: IO[str]) -> Iterator[Row]:
    width = len(BEHAVIOR_LOG_COLUMNS)
    for number, line in enumerate(f, 1):
        text = line.strip()
        if not text:
            continue
        parts = text.split(",")
        if len(parts) == width:
            parts.append(None)  # type: ignore[arg-type]  # what unmapped fields read (see Converter)
            yield number, text, parts
        else:
            detail = f"expected {width} comma-separated fields, found {len(parts)}"
            yield number, text, Rejection("wrong_field_count", None, detail)


def _csv_rows(f: IO[str]) -> Iterator[Row]:
    consumed: list[str] = []  # the physical lines of the current record (quoted fields may span lines)

    def lines() -> Iterator[str]:
        for line in f:
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    width = len(next(reader, []))
    consumed.clear()
    for row in reader:
        raw = consumed[0] if len(consumed) == 1 else "".join(consumed)
        consumed.clear()
        if not row or (len(row) == 1 and not row[0].strip()):  # a blank line
            continue
        if len(row) == width:
            row.append(None)  # type: ignore[arg-type]  # what unmapped fields read (see Converter)
            yield reader.line_num, raw.rstrip("\r\n"), row
        else:
            detail = f"expected {width} fields (as in the header), found {len(row)}"
            yield reader.line_num, raw.rstrip("\r\n"), Rejection("wrong_field_count", None, detail)


def _jsonl_rows(f: IO[str]) -> Iterator[Row]:
    for number, line in enumerate(f, 1):
        text = line.rstrip("\r\n")
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except ValueError:
            row = None
        if isinstance(row, dict):
            yield number, text, row
        else:
            yield number, text, Rejection("unparseable_json", None, "line is not a valid JSON object")


def _parquet_rows(path: Path, batch_rows: int = 65_536) -> Iterator[Row]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            number += 1
            yield number, None, row


def raw_text(values: Values) -> str:
    """A row without its own text (a Parquet row) as one JSON line, standing in for its raw line."""
    return json.dumps(values, default=str, ensure_ascii=False)


# ---------------------------------------------------------------- converting rows


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


class Converter:
    """Turns one source's rows into landing events: `(day ordinal, JSON line)` or a `Rejection`.

    Rows are the fields of a CSV line (`columns` gives their names) or a dict. Common values take
    inlined fast paths (decimal ids and epoch numbers); everything else goes through the general rules.
    Counts, per id field, the rows whose id had to be hashed (`hashed`): a bounded tally, not row state.
    """

    def __init__(
        self,
        options: LandOptions,
        mapping: Mapping[str, str],
        fmt: SourceFormat,
        id_prefix: str,
        columns: Sequence[str] | None = None,
    ):
        self.mapping = dict(mapping)
        self.id_prefix = id_prefix
        self.event_type = options.event_type
        types = {kind: kind for kind in EVENT_TYPES}
        if fmt == "behavior-log":
            types.update(landing.BEHAVIOR_TYPES)
        types.update(options.event_types)
        self.types = types
        self.mapped_types = list(options.event_types) or (
            list(landing.BEHAVIOR_TYPES) if fmt == "behavior-log" else []
        )
        self.ms = options.timestamp_unit == "ms"
        self.ts_format = options.timestamp_format
        self.year_suffix = ""
        if options.year is not None and options.timestamp_format:
            self.ts_format = f"{options.timestamp_format} %Y"
            self.year_suffix = f" {options.year}"
        self._has_quantity = "quantity" in self.mapping
        self._has_event_id = "event_id" in self.mapping
        self._has_category = "category_id" in self.mapping
        self._plain_epoch = not self.ts_format
        self.hashed: Counter[str] = Counter()
        self._days: dict[int, str] = {}  # day since the epoch -> YYYY-MM-DD
        self._parsed_ts: dict[str, object] = {}  # strptime results, bounded (cleared when full)
        self._extract: Callable[[Values], tuple]
        if fmt in ("behavior-log", "csv"):
            names = list(BEHAVIOR_LOG_COLUMNS if fmt == "behavior-log" else columns or [])
            absent = len(names)  # readers append one None to every row: unmapped fields read it
            self._extract = itemgetter(
                *(names.index(self.mapping[f]) if f in self.mapping else absent for f in FIELDS)
            )
        else:
            keys = tuple(self.mapping.get(f, _UNMAPPED) for f in FIELDS)

            def extract(row: Values) -> tuple:
                # a float NaN (pandas' missing value in Parquet, `NaN` in JSON) is a missing value
                return tuple(None if v != v else v for v in map(row.get, keys))  # type: ignore[union-attr]

            self._extract = extract

    def event_id(self, number: int, values: Values) -> str:
        """The row's event_id: the mapped source value, else `<source id prefix>-<line number>`."""
        value = self._extract(values)[0]
        text = "" if value is None else str(value).strip()
        return text or f"{self.id_prefix}-{number}"

    def convert(self, number: int, values: Values) -> tuple[int, str] | Rejection:
        """One row as (UTC day ordinal, canonical JSON line with newline), or why it cannot be an event."""
        event_id, user, item, kind, ts, session, price, category, quantity = self._extract(values)
        if self._has_quantity:
            cancelled = self._cancellation(quantity, session, event_id)
            if cancelled is not None:
                return cancelled
            if user is None or not str(user).strip():
                return Rejection(
                    "anonymous_purchase",
                    "user_id",
                    "invoice line without a customer (a guest checkout): no user to attribute it to",
                )
        if type(user) is str and user.isdecimal() and len(user) < 19:
            user_id: int | Rejection = int(user)
        else:
            user_id = self._id("user_id", user)
            if isinstance(user_id, Rejection):
                return user_id
        if type(item) is str and item.isdecimal() and len(item) < 19:
            item_id: int | Rejection = int(item)
        else:
            item_id = self._id("item_id", item)
            if isinstance(item_id, Rejection):
                return item_id
        event_type = self.event_type or (type(kind) is str and self.types.get(kind)) or self._event_type(kind)
        if isinstance(event_type, Rejection):
            return event_type
        if type(ts) is str and self._plain_epoch and ts.isdecimal() and not self.ms:
            epoch_day, second = divmod(int(ts), 86_400)  # the common case, inlined: epoch seconds
            day_text = self._days.get(epoch_day)
            if day_text is None:
                when = self._iso(int(ts), 0, ts)
            else:
                day = epoch_day + _EPOCH_ORDINAL
                iso = f"{day_text}T{_HOUR_MINUTE[second // 60]}:{_SECOND[second % 60]}Z"
                when = None
        else:
            when = self._timestamp(ts)
        if when is not None:
            if isinstance(when, Rejection):
                return when
            day, iso = when
        if not self._has_event_id:
            eid = f'"{self.id_prefix}-{number}"'
        else:
            source_id = "" if event_id is None else str(event_id).strip()
            if not source_id:
                return Rejection("missing_event_id", "event_id", "event_id is missing or empty")
            eid = json.dumps(source_id, ensure_ascii=False)
        sid = "null"
        if session is not None:
            session_text = str(session).strip()
            if session_text:
                sid = json.dumps(session_text, ensure_ascii=False)
        price_json = "null" if price is None else _price_json(price)
        extra = ""
        if self._has_category:
            if type(category) is str and category.isdecimal() and len(category) < 19:
                extra = f',"category_id":{int(category)}'
            else:
                category_id, hashed = landing.parse_id(category)
                if hashed:
                    self.hashed["category_id"] += 1
                extra = f',"category_id":{"null" if category_id is None else category_id}'
        return day, (
            f'{{"event_id":{eid},"user_id":{user_id},"item_id":{item_id},"event_type":"{event_type}",'
            f'"event_ts":"{iso}","session_id":{sid},"price":{price_json}{extra}}}\n'
        )

    def _id(self, name: str, value: object) -> int | Rejection:
        number, hashed = landing.parse_id(value)
        if number is None:
            return Rejection(f"missing_{name}", name, f"{name} is missing or empty")
        if hashed:
            self.hashed[name] += 1
        return number

    def _event_type(self, value: object) -> str | Rejection:
        text = "" if value is None else str(value).strip()
        if not text:
            return Rejection("missing_event_type", "event_type", "event_type is missing or empty")
        kind = self.types.get(text) or self.types.get(text.lower())
        if kind is None:
            mapped = f" or a mapped value ({', '.join(self.mapped_types[:12])})" if self.mapped_types else ""
            return Rejection(
                "unknown_event_type",
                "event_type",
                f"event_type '{text[:80]}' is not one of {', '.join(EVENT_TYPES)}{mapped}",
            )
        return kind

    def _cancellation(self, quantity: object, session: object, event_id: object) -> Rejection | None:
        """Invoice-style sources: a quantity <= 0, or an invoice (session or event id) starting with C."""
        text = "" if quantity is None else str(quantity).strip()
        invoice = next((str(v).strip() for v in (session, event_id) if v is not None and str(v).strip()), "")
        on = f" on invoice {invoice}" if invoice else ""
        if text:
            try:
                number = float(text)
            except ValueError:
                return Rejection("invalid_quantity", "quantity", f"quantity '{text[:80]}' is not a number")
            if number <= 0:
                return Rejection(
                    "cancelled",
                    "quantity",
                    f"quantity {text}{on} is a cancellation or return, not a purchase",
                )
        if invoice[:1] in ("C", "c"):
            column = "session_id" if "session_id" in self.mapping and session is not None else "event_id"
            return Rejection(
                "cancelled", column, f"invoice {invoice} starts with C: a cancellation, not a purchase"
            )
        return None

    def _timestamp(self, value: object) -> tuple[int, str] | Rejection:
        """(UTC day ordinal, ISO-8601 UTC text) of an event_ts value, or why it is unusable."""
        seconds: int
        micros = 0
        if isinstance(value, datetime):
            seconds, micros = _since_epoch(value)
        elif isinstance(value, date):
            seconds = (value.toordinal() - _EPOCH_ORDINAL) * 86_400
        elif isinstance(value, int | float) and not isinstance(value, bool):
            epoch = _epoch(value, self.ms)
            if epoch is None:
                return _bad_ts(value, "is not a finite epoch number")
            seconds, micros = epoch
        else:
            text = "" if value is None else str(value).strip()
            if not text:
                return Rejection("missing_event_ts", "event_ts", "event_ts is missing or empty")
            parsed = self._parse_text(text)
            if isinstance(parsed, Rejection):
                return parsed
            seconds, micros = parsed
        return self._iso(seconds, micros, value)

    def _parse_text(self, text: str) -> tuple[int, int] | Rejection:
        if self.ts_format:
            moment = self._parsed_ts.get(text, _UNPARSED)
            if moment is _UNPARSED:
                try:
                    moment = datetime.strptime(text + self.year_suffix, self.ts_format)
                except ValueError:
                    moment = None
                if len(self._parsed_ts) >= _STRPTIME_CACHE_SIZE:
                    self._parsed_ts.clear()
                self._parsed_ts[text] = moment
            if not isinstance(moment, datetime):
                return _bad_ts(text, f"does not match --timestamp-format {self.ts_format!r}")
            return _since_epoch(moment)
        if _EPOCH_TEXT.match(text):
            epoch = _epoch(float(text) if "." in text else int(text), self.ms)
            if epoch is None:
                return _bad_ts(text, "is not a finite epoch number")
            return epoch
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return _bad_ts(text, "is not an epoch number or an ISO-8601 timestamp")
        return _since_epoch(moment)

    def _iso(self, seconds: int, micros: int, value: object) -> tuple[int, str] | Rejection:
        days, second_of_day = divmod(seconds, 86_400)
        ordinal = days + _EPOCH_ORDINAL
        if not 1 <= ordinal <= _MAX_ORDINAL:
            unit = " (is --timestamp-unit right?)" if isinstance(value, int | float | str) else ""
            return _bad_ts(value, f"is outside the years 1..9999{unit}")
        day = self._days.get(days)
        if day is None:
            day = self._days[days] = date.fromordinal(ordinal).isoformat()
        fraction = ""
        if micros:
            fraction = f".{micros:06d}" if micros % 1000 else f".{micros // 1000:03d}"
        return ordinal, f"{day}T{_HOUR_MINUTE[second_of_day // 60]}:{_SECOND[second_of_day % 60]}{fraction}Z"


def _since_epoch(moment: datetime) -> tuple[int, int]:
    """(whole seconds, microseconds) since the epoch, exactly; a naive datetime is UTC."""
    delta = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - _EPOCH
    return delta.days * 86_400 + delta.seconds, delta.microseconds


def _epoch(value: float, ms: bool) -> tuple[int, int] | None:
    """(whole seconds, microseconds) of an epoch number in seconds or milliseconds; None when not finite."""
    if isinstance(value, int):
        if ms:
            seconds, millis = divmod(value, 1000)
            return seconds, millis * 1000
        return value, 0
    if not math.isfinite(value):
        return None
    micros_total = round(value * (1000 if ms else 1_000_000))
    seconds, micros = divmod(micros_total, 1_000_000)
    return seconds, micros


def _bad_ts(value: object, why: str) -> Rejection:
    return Rejection("invalid_event_ts", "event_ts", f"event_ts '{str(value)[:80]}' {why}")


def _price_json(value: object) -> str:
    """A price as JSON: a finite number as a number; other text kept as a string for ingest to reject."""
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(float(value)) if math.isfinite(value) else json.dumps(str(value))
    text = str(value).strip()
    if not text:
        return "null"
    try:
        number = float(text)
    except ValueError:
        return json.dumps(text, ensure_ascii=False)
    return repr(number) if math.isfinite(number) else json.dumps(text)
