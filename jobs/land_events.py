"""Converting `shoprec land`'s source rows to landing events: the canonical JSON line of its UTC day.

One concern: one row's values (read by jobs/land_readers.py) as shoprec's canonical landing event
(its UTC day and its JSON line) or a `Rejection` with a machine-readable reason: ids, event types
(mapped), timestamps (epoch seconds or milliseconds, ISO-8601, a strptime format), prices, and
invoice cancellations. Nothing here keeps state per row; jobs/land.py writes.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter

from jobs.land_options import FIELDS, LandOptions, SourceFormat
from jobs.land_readers import BEHAVIOR_LOG_COLUMNS, Rejection, Values
from shoprec import landing
from shoprec.vocabulary import EVENT_TYPES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MAX_ORDINAL = date.max.toordinal()
_EPOCH_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_UNPARSED = object()
_UNMAPPED = object()  # the key of fields a dict row does not map: never present
_STRPTIME_CACHE_SIZE = 4096
_HOUR_MINUTE = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]  # by minute of the day
_SECOND = [f"{s:02d}" for s in range(60)]
_FAR_OUT = 10**30
"""Seconds standing in for an epoch number beyond every timestamp (year 9999 ends near 2.5e11 s): rejected."""


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
        if type(ts) is str and self._plain_epoch and ts.isdecimal() and len(ts) < 19 and not self.ms:
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
            if "." not in text and len(text) > 20:  # beyond every timestamp; int() refuses over 4,300 digits
                return (-_FAR_OUT if text[0] == "-" else _FAR_OUT), 0
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
    if abs(value) >= 1e20:  # beyond every timestamp; in microseconds it could overflow a float
        return (_FAR_OUT if value > 0 else -_FAR_OUT), 0
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
        try:
            number = float(value)
        except OverflowError:  # an integer beyond every float
            return json.dumps(str(value))
        return repr(number) if math.isfinite(number) else json.dumps(str(value))
    text = str(value).strip()
    if not text:
        return "null"
    try:
        number = float(text)
    except ValueError:
        return json.dumps(text, ensure_ascii=False)
    return repr(number) if math.isfinite(number) else json.dumps(text)
