"""Reading land's sources (jobs/land_readers.py) under hostile input: each row is values or a rejection.

The regression tests name the input that once crashed a landing; the properties generate others.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.land_options import LandError
from jobs.land_readers import Rejection, detect_format, read_rows, source_columns

HEADER = b"user_id,item_id,event_type,event_ts\n"
GOOD_CSV = HEADER + b"1,2,view,1767225600\n"
GOOD_JSON = b'{"user_id":1,"item_id":2,"event_type":"view","event_ts":1767225600}\n'


def _rows(path: Path) -> list[tuple[int, str | None, object]]:
    return list(read_rows(path, detect_format(path)))


def _reasons(path: Path) -> list[str | None]:
    return [values.reason if isinstance(values, Rejection) else None for _, _, values in _rows(path)]


def test_a_csv_field_over_the_field_size_limit_is_rejected_and_the_next_record_read(tmp_path: Path) -> None:
    source = tmp_path / "big.csv"
    source.write_bytes(GOOD_CSV + b"1,2,view," + b"1" * (10 << 20) + b"\n" + b"3,4,view,1767225600\n")
    rows = _rows(source)
    assert [n for n, _, _ in rows] == [2, 3, 4]
    assert isinstance(rows[1][2], Rejection)
    assert rows[1][2].reason == "unparseable_csv"
    assert "field larger than field limit" in rows[1][2].detail
    assert rows[2][2] == ["3", "4", "view", "1767225600", None]


def test_a_csv_header_over_the_field_size_limit_fails_naming_the_file(tmp_path: Path) -> None:
    source = tmp_path / "header.csv"
    source.write_bytes(b"user_id," + b"x" * 200_000 + b"\n1,2\n")
    with pytest.raises(LandError, match=r"header.csv: its CSV header cannot be read: field larger"):
        source_columns(source, "csv")


@pytest.mark.parametrize(
    "nested", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 100_000 + b"1" + b"}" * 100_000]
)
def test_json_nested_deeper_than_the_stack_is_unparseable(tmp_path: Path, nested: bytes) -> None:
    source = tmp_path / "deep.jsonl"
    source.write_bytes(GOOD_JSON + nested + b"\n")
    assert _reasons(source) == [None, "unparseable_json"]
    assert source_columns(source, "jsonl") == ["user_id", "item_id", "event_type", "event_ts"]


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\udc00x", b"x\\uDBFF"])
def test_json_with_a_lone_surrogate_escape_is_unparseable(tmp_path: Path, escape: bytes) -> None:
    source = tmp_path / "surrogate.jsonl"
    source.write_bytes(
        GOOD_JSON + b'{"user_id":1,"item_id":2,"event_type":"view","session_id":"' + escape + b'"}\n'
    )
    assert _reasons(source) == [None, "unparseable_json"]


def test_json_with_a_surrogate_pair_escape_is_read(tmp_path: Path) -> None:
    source = tmp_path / "emoji.jsonl"
    source.write_bytes(b'{"user_id":1,"session_id":"\\ud83d\\ude00"}\n')
    assert [values for _, _, values in _rows(source)] == [{"user_id": 1, "session_id": "\U0001f600"}]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("cut.csv.gz", gzip.compress(GOOD_CSV * 1000)[:-30], "cannot be read: EOFError"),
        ("plain.csv.gz", GOOD_CSV, "cannot be read: BadGzipFile"),
        ("text.parquet", b"PAR1 but not Parquet", "cannot be read as Parquet"),
    ],
)
def test_a_damaged_file_fails_naming_it(tmp_path: Path, name: str, data: bytes, message: str) -> None:
    source = tmp_path / name
    source.write_bytes(data)
    with pytest.raises(LandError, match=f"{name}: {message}"):
        fmt = detect_format(source)
        source_columns(source, fmt)
        _rows(source)


@pytest.mark.parametrize(
    "column",
    [
        pa.array([1767225600, -62135596800 - 86400 * 400], pa.timestamp("s")),  # year 0
        pa.array([1767225600, 253402300800 + 86400 * 400], pa.timestamp("s", tz="UTC")),  # year 10001
        pa.array([20454, 2**31 - 1], pa.date32()),
        pa.array([1, 10**18], pa.duration("s")),
    ],
)
def test_parquet_values_python_cannot_hold_become_arrows_text(tmp_path: Path, column: pa.Array) -> None:
    source = tmp_path / "dates.parquet"
    pq.write_table(pa.table({"user_id": [1, 2], "event_ts": column}), source)
    rows = [values for _, _, values in _rows(source)]
    assert rows[0] == {"user_id": 1, "event_ts": column[0].as_py()}
    assert rows[1]["user_id"] == 2
    stored = pq.read_table(source).column("event_ts")  # Parquet may store another unit (s as ms)
    assert rows[1]["event_ts"] == stored.cast(pa.string())[1].as_py()


# ---------------------------------------------------------------- properties

HOSTILE = st.sampled_from(
    [
        b"\xef\xbb\xbf",  # a BOM
        b"\r\n",
        b"\r",
        b"\x00",
        b"\xff\xfe\xc3",  # invalid UTF-8
        b'"',
        b",",
        b"{",
        b"[" * 2000,
        b"\\ud800",
        b"1" * 5000,
        b"1e999",
        b"-9" * 30,
        b"0000-01-01T00:00:00",
        b"9999-12-31T23:59:59-01:00",
    ]
)
CHUNKS = st.lists(st.one_of(st.binary(max_size=40), HOSTILE), max_size=30).map(b"".join)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=CHUNKS,
    suffix=st.sampled_from([".csv", ".jsonl", ".log"]),
    prefix=st.sampled_from([b"", HEADER, GOOD_JSON, b"1,2,3,pv,1767225600\n"]),
)
def test_every_line_of_a_text_source_is_values_or_a_rejection(
    tmp_path: Path, body: bytes, suffix: str, prefix: bytes
) -> None:
    source = tmp_path / f"source{suffix}"
    source.write_bytes(prefix + body)
    fmt = detect_format(source)
    columns = source_columns(source, fmt)
    assert all(isinstance(c, str) for c in columns)
    numbers = []
    for number, raw, values in read_rows(source, fmt):
        numbers.append(number)
        assert raw is not None
        raw.encode()  # valid Unicode: it is carried to ingest as text
        assert isinstance(values, Rejection | list | dict)
        if isinstance(values, dict):
            json.dumps(values, ensure_ascii=False).encode()
    assert numbers == sorted(set(numbers))
