"""Fast vectorised text encoding of the demo files: pyarrow string kernels and fixed-width byte matrices."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_HEX_LUT = np.frombuffer(b"".join(f"{i:02x}".encode() for i in range(256)), np.uint8).reshape(256, 2)


def fixed_width_strings(mat: np.ndarray) -> pa.Array:
    """A string array whose i-th element is the bytes of row i of a (n, width) uint8 matrix."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded to ``width``, as a (n, width) uint8 matrix."""
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // pows) % 10 + 48).astype(np.uint8)


def mix64(x: np.ndarray, key: np.uint64) -> np.ndarray:
    """Bijective 64-bit mixing (xor key, splitmix64 finaliser): distinct inputs stay distinct."""
    x = x.astype(np.uint64) ^ key
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def hex_ids(seq: np.ndarray, day_ord: int, namespace: np.uint64, key: np.uint64) -> pa.Array:
    """16 lowercase hex digits per sequence number, unique per (day, namespace, sequence) for a key."""
    raw = (np.uint64(day_ord) << np.uint64(32)) | seq.astype(np.uint64) | namespace
    b = mix64(raw, key).astype(">u8").view(np.uint8).reshape(-1, 8)
    return fixed_width_strings(_HEX_LUT[b].reshape(-1, 16))


def iso_ts_quoted(day: date | np.ndarray, ms: np.ndarray) -> pa.Array:
    """Format ``"YYYY-MM-DDTHH:MM:SS.mmmZ"`` (with quotes) for one day or per-row day ordinals."""
    out = np.empty((len(ms), 26), np.uint8)
    out[:, 0] = ord('"')
    if isinstance(day, date):
        out[:, 1:11] = np.frombuffer(day.isoformat().encode(), np.uint8)
    else:
        days = (np.asarray(day, np.int64) - EPOCH_ORDINAL).astype("datetime64[D]")
        out[:, 1:11] = np.datetime_as_string(days).astype("S10").view(np.uint8).reshape(-1, 10)
    out[:, 11] = ord("T")
    out[:, 12:14] = digits(ms // 3_600_000, 2)
    out[:, 14] = ord(":")
    out[:, 15:17] = digits(ms // 60_000 % 60, 2)
    out[:, 17] = ord(":")
    out[:, 18:20] = digits(ms // 1000 % 60, 2)
    out[:, 20] = ord(".")
    out[:, 21:24] = digits(ms % 1000, 3)
    out[:, 24] = ord("Z")
    out[:, 25] = ord('"')
    return fixed_width_strings(out)


def int_strings(values: np.ndarray) -> pa.Array:
    """Decimal text of integers."""
    return pa.array(values, pa.int64()).cast(pa.string())


def price_strings(cents: np.ndarray) -> pa.Array:
    """Prices in cents as decimal text with two decimals (``12.99``)."""
    return pc.binary_join_element_wise(
        int_strings(cents // 100), fixed_width_strings(digits(cents % 100, 2)), "."
    )


def date_strings(ordinals: np.ndarray) -> pa.Array:
    """ISO dates (``YYYY-MM-DD``) of date ordinals."""
    days = (np.asarray(ordinals, np.int64) - EPOCH_ORDINAL).astype("datetime64[D]")
    return pa.array(days).cast(pa.string())


def lookup(table: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """``table[code]`` for every code, as a string array."""
    return pa.array(table, pa.string()).take(pa.array(codes, pa.int64()))


def event_json(
    eid: pa.Array,
    uid: pa.Array,
    iid: pa.Array,
    etype: pa.Array,
    ts: pa.Array,
    sid: pa.Array,
    price: pa.Array,
    end: str,
) -> pa.Array:
    """One JSON object per event from already encoded fields (``etype`` and ``ts`` carry their quotes)."""
    return pc.binary_join_element_wise(
        '{"event_id":"',
        eid,
        '","user_id":',
        uid,
        ',"item_id":',
        iid,
        ',"event_type":',
        etype,
        ',"event_ts":',
        ts,
        ',"session_id":"',
        sid,
        '","price":',
        price,
        "}" + end,
        "",
    )


def truncate_and_terminate(lines: pa.Array, cut: np.ndarray) -> pa.Array:
    """Drop ``cut[i]`` trailing characters of the (ASCII) lines with ``cut > 0``; append newlines."""
    rows = np.flatnonzero(cut > 0)
    if len(rows):
        sub = pc.binary_join_element_wise(lines.take(pa.array(rows)), "", "")  # fresh, unsliced array
        _, offsets_buf, data_buf = sub.buffers()
        offsets = np.frombuffer(offsets_buf, np.int32)[: len(sub) + 1].astype(np.int64)
        lengths = np.diff(offsets)
        new_len = np.maximum(lengths - cut[rows], 0)
        pos = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
        keep = pos < np.repeat(new_len, lengths)
        data = np.frombuffer(data_buf, np.uint8)[: offsets[-1]][keep]
        new_offsets = np.concatenate([[0], np.cumsum(new_len)]).astype(np.int32)
        cut_lines = pa.StringArray.from_buffers(len(sub), pa.py_buffer(new_offsets), pa.py_buffer(data))
        idx = np.arange(len(lines))
        idx[rows] = len(lines) + np.arange(len(rows))
        lines = pa.concat_arrays([lines, cut_lines]).take(pa.array(idx))
    return pc.binary_join_element_wise(lines, "\n", "")


def write_lines(path: Path, lines: pa.Array) -> None:
    """Write a string array whose elements end with newlines, straight from its data buffer."""
    if lines.type != pa.string():
        lines = lines.cast(pa.string())
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(offsets_buf, np.int32)[lines.offset : lines.offset + len(lines) + 1]
    with path.open("wb") as f:
        if len(lines):
            f.write(memoryview(data_buf)[int(offsets[0]) : int(offsets[-1])])
