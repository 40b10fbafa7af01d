"""Converting land's rows to events (jobs/land_events.py) under hostile values: an event or a rejection.

The regression tests name the value that once crashed a landing; the property generates others.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.land_events import Converter
from jobs.land_options import FIELDS, LandOptions
from jobs.land_readers import Rejection
from shoprec import landing

EVERY_FIELD = {name: name for name in FIELDS}
BASIC = {name: name for name in ("user_id", "item_id", "event_type", "event_ts", "price")}


def _converter(mapping: dict[str, str] = BASIC, **options: object) -> Converter:
    return Converter(LandOptions(**options), mapping, "jsonl", "src")  # type: ignore[arg-type]


def _row(**values: object) -> dict[str, object]:
    return {"user_id": 1, "item_id": 2, "event_type": "view", "event_ts": 1767225600, **values}


@pytest.mark.parametrize(
    ("event_ts", "unit"),
    [
        ("1" * 5000, "s"),  # int() refuses text of over 4,300 digits
        ("-" + "9" * 5000, "ms"),
        ("1" * 305 + ".5", "s"),  # finite, but not in microseconds
        (1e305, "s"),
        (1e306, "ms"),
        (-1e300, "s"),
    ],
)
def test_epoch_numbers_beyond_every_timestamp_are_out_of_range(event_ts: object, unit: str) -> None:
    result = _converter(timestamp_unit=unit).convert(1, _row(event_ts=event_ts))
    assert isinstance(result, Rejection)
    assert result.reason == "invalid_event_ts"
    assert "is outside the years 1..9999" in result.detail


def test_an_integer_price_beyond_every_float_is_kept_as_text_for_ingest_to_reject() -> None:
    result = _converter().convert(1, _row(price=10**400))
    assert isinstance(result, tuple)
    assert json.loads(result[1])["price"] == str(10**400)


@pytest.mark.parametrize(
    ("event_ts", "expected"),
    [
        ("0001-01-01T00:00:00", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59", "9999-12-31T23:59:59Z"),
        ("0000-01-01T00:00:00", None),  # no year 0 in ISO-8601 text Python reads
        ("0001-01-01T00:00:00+01:00", None),  # year 0 in UTC
        ("9999-12-31T23:59:59-01:00", None),  # year 10000 in UTC
    ],
)
def test_timestamps_at_the_ends_of_the_years(event_ts: str, expected: str | None) -> None:
    result = _converter().convert(1, _row(event_ts=event_ts))
    if expected is None:
        assert isinstance(result, Rejection)
        assert result.reason == "invalid_event_ts"
    else:
        assert isinstance(result, tuple)
        assert json.loads(result[1])["event_ts"] == expected


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=1e290, allow_infinity=False).map(lambda x: x * (1, -1)[int(x) % 2]),
    st.sampled_from(["1" * 5000, "-" + "9" * 5000, "1" * 305 + ".5", str(10**400)]),
    st.text(max_size=30),
    st.text(alphabet="0123456789-.:TZ +", max_size=40),
    st.sampled_from(["view", "cart", "purchase", "pv", "C123", "0", "-1", "١٧٦٧٢٢٥٦٠٠", "\x00", "\ufeff"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    row=st.fixed_dictionaries({name: VALUES for name in FIELDS}),
    unit=st.sampled_from(["s", "ms"]),
    ts_format=st.sampled_from([None, "%Y-%m-%d %H:%M:%S", "%b %d %H:%M"]),
)
def test_any_row_is_an_event_of_a_real_day_or_a_rejection(
    row: dict[str, object], unit: str, ts_format: str | None
) -> None:
    year = 2026 if ts_format == "%b %d %H:%M" else None
    converter = _converter(EVERY_FIELD, timestamp_unit=unit, timestamp_format=ts_format, year=year)
    result = converter.convert(7, row)
    if isinstance(result, Rejection):
        assert result.reason
        result.detail.encode()
        return
    day, line = result
    assert 1 <= day <= date.max.toordinal()
    assert line.endswith("}\n")
    event = json.loads(line.encode().decode())  # valid UTF-8 and valid JSON
    assert event["event_ts"].startswith(date.fromordinal(day).isoformat())


@pytest.mark.parametrize("user_id", ["1" * 5000, "-" + "1" * 5000, "0" * 5000 + "42"])
def test_an_id_of_thousands_of_digits_is_hashed_or_read(user_id: str) -> None:
    result = _converter().convert(1, _row(user_id=user_id))  # int() refuses over 4,300 digits
    assert isinstance(result, tuple)
    expected = 42 if user_id.endswith("42") else landing.hashed_id(user_id)
    assert json.loads(result[1])["user_id"] == expected
