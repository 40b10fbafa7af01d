"""Reading `shoprec land`'s sources: the behaviour log, CSV with a header, JSON Lines and Parquet, row by row.

One concern: turning a source file into rows of values (or the problem that kept a row unreadable,
as a `Rejection`), with the layout detected from the file when not given. Nothing here converts
values; jobs/land_events.py does.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from jobs.land_options import LandError, SourceFormat

if TYPE_CHECKING:
    import pyarrow as pa

BEHAVIOR_LOG_COLUMNS = ("user_id", "item_id", "category_id", "event_type", "event_ts")
JSONL_SAMPLE_LINES = 1000
"""JSON Lines have no header: mapped keys are checked against the keys of this many first lines."""

_UNREADABLE_TEXT = (EOFError, zlib.error, gzip.BadGzipFile)
"""What a damaged or truncated gzip source raises while it is read (plain text never fails: see open_text)."""
_BEHAVIOR_LINE = re.compile(r"^\s*-?\d+\s*,\s*-?\d+\s*,[^,]*,[^,]+,\s*\d+\s*$")

Values = list[str | None] | dict[str, object]
"""A source row: the fields of a CSV line (header order, then one None) or a JSON object / Parquet row."""
Row = tuple[int, str | None, "Values | Rejection"]
"""(1-based line or row number, raw line or None when it has to be rebuilt, values or a parse problem)."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a source row is not an event: reason (as ingest names it), the field concerned, a readable detail."""

    reason: str
    column: str | None
    detail: str


def open_text(path: Path) -> IO[str]:
    """Open a text source (gzip when it ends in .gz); undecodable bytes become U+FFFD, never an error."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace")
    return path.open(encoding="utf-8-sig", errors="replace")


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """Turn a source that cannot be read as a whole (damaged gzip or Parquet) into a LandError naming it."""
    try:
        yield
    except _UNREADABLE_TEXT as exc:
        raise LandError(f"{path}: cannot be read: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        import pyarrow as pa

        if isinstance(exc, pa.ArrowException):  # ArrowInvalid and the like: not (or no longer) Parquet
            raise LandError(f"{path}: cannot be read as Parquet: {exc}") from exc
        raise


def _json_object(text: str) -> dict | None:
    """A line's JSON object, or None when it is not one (invalid, nested too deeply, or not valid Unicode)."""
    try:
        row = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the interpreter's stack
        return None
    if not isinstance(row, dict):
        return None
    if "\\u" in text:  # a \uD800-style escape decodes to a lone surrogate, which no UTF-8 file can hold
        try:
            json.dumps(row, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            return None
    return row


def detect_format(path: Path) -> SourceFormat:
    """A source's layout from its suffix, or for other text files from its first non-blank line."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".parquet":
        return "parquet"
    if suffix in (".jsonl", ".json", ".ndjson"):
        return "jsonl"
    with _readable(path), open_text(path) as f:
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

        with _readable(path):
            return list(pq.ParquetFile(path).schema_arrow.names)
    with _readable(path), open_text(path) as f:
        if fmt == "csv":
            try:
                header = next(csv.reader(f), [])
            except csv.Error as exc:  # e.g. a header field over the csv module's field size limit
                raise LandError(f"{path}: its CSV header cannot be read: {exc}") from exc
            return [name.strip() for name in header]
        keys: dict[str, None] = {}
        for number, line in enumerate(f, 1):
            if number > JSONL_SAMPLE_LINES:
                break
            row = _json_object(line)
            if row is not None:
                keys.update(dict.fromkeys(row))
        return list(keys)


def read_rows(path: Path, fmt: SourceFormat) -> Iterator[Row]:
    """Every non-blank row of a source, in order, as its values or the problem that kept them unreadable."""
    if fmt == "parquet":
        with _readable(path):
            yield from _parquet_rows(path)
        return
    with _readable(path), open_text(path) as f:
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
    try:
        width = len(next(reader, []))
    except csv.Error:  # the header was read by source_columns already: this only repeats its failure
        width = 0
    consumed.clear()
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the field size limit; the next record starts afresh
            raw = "".join(consumed)
            consumed.clear()
            yield (
                reader.line_num,
                raw.rstrip("\r\n"),
                Rejection("unparseable_csv", None, f"record cannot be read: {exc}"),
            )
            continue
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
        row = _json_object(text)
        if row is not None:
            yield number, text, row
        else:
            yield number, text, Rejection("unparseable_json", None, "line is not a valid JSON object")


def _parquet_rows(path: Path, batch_rows: int = 65_536) -> Iterator[Row]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        try:
            rows = batch.to_pylist()
        except (OverflowError, ValueError):  # a date, time or duration outside Python's range
            rows = [_row_with_dates_as_text(batch.slice(i, 1)) for i in range(batch.num_rows)]
        for row in rows:
            number += 1
            yield number, None, row


def _row_with_dates_as_text(row: pa.RecordBatch) -> dict[str, object]:
    """A one-row batch as a dict, each value Python cannot hold (year 0, 10000, ...) as Arrow's text of it."""
    values: dict[str, object] = {}
    for name, column in zip(row.schema.names, row.columns, strict=True):
        try:
            values[name] = column.to_pylist()[0]
        except (OverflowError, ValueError):
            values[name] = column.cast("string").to_pylist()[0]  # e.g. '10001-02-04 00:00:00': rejected
    return values


def raw_text(values: Values) -> str:
    """A row without its own text (a Parquet row) as one JSON line, standing in for its raw line."""
    return json.dumps(values, default=str, ensure_ascii=False)
