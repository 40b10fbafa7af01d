"""Realistic bad event lines mixed into the demo JSONL exports, as real exports have them.

Kinds: truncated JSON, null or absent ``user_id``/``item_id``, unknown ``event_type``, bad
``event_ts``, negative ``price``, ``event_ts`` on another day, and exact duplicates of valid
lines.  Each bad line is derived from a random valid event of the day.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shoprec.vocabulary import EVENT_TYPES
from shoprec_demo.simulate import DayEvents
from shoprec_demo.text import (
    event_json,
    hex_ids,
    int_strings,
    iso_ts_quoted,
    lookup,
    price_strings,
    truncate_and_terminate,
)

NS_SESSION = np.uint64(1 << 63)
"""Id namespace of session ids (bits above the 52 bits used by day ordinal << 32 | sequence)."""
NS_CORRUPT = np.uint64(1 << 62)
"""Id namespace of the event ids of corrupt lines."""
ETYPE_JSON = tuple(f'"{t}"' for t in EVENT_TYPES)
CORRUPT_KINDS = (
    "truncated_json",
    "missing_id",
    "unknown_event_type",
    "bad_timestamp",
    "negative_price",
    "wrong_day",
    "duplicate",
)
_BAD_EVENT_TYPES = ('"wishlist"', '"share"', '"refund"', '""')
_BAD_TIMESTAMPS = ('"2026-13-45T99:00:00Z"', '"yesterday"', '""', '"31/12/2025 25:61"', "null")


def corrupt_lines(ev: DayEvents, n: int, rng: np.random.Generator, day: date, key: np.uint64) -> pa.Array:
    """Build ``n`` bad lines (each ending with a newline) derived from random valid events of the day.

    Args:
        ev: The day's valid events.
        n: Number of lines.
        rng: The day's random generator for corruption.
        day: The day.
        key: The seed's id key (see ``shoprec_demo.text.hex_ids``).

    Returns:
        The lines, in random order of kinds.
    """
    day_ord = day.toordinal()
    kinds = rng.integers(0, len(CORRUPT_KINDS), n)
    src = rng.integers(0, len(ev.ms), n)
    variant = rng.integers(0, 1 << 30, n)
    is_kind = {name: kinds == i for i, name in enumerate(CORRUPT_KINDS)}
    dup = is_kind["duplicate"]
    eid = pc.if_else(
        pa.array(dup),
        hex_ids(src, day_ord, np.uint64(0), key),
        hex_ids(np.arange(n), day_ord, NS_CORRUPT, key),
    )
    missing = is_kind["missing_id"]
    miss_var = variant % 4  # 0 null user, 1 absent user, 2 null item, 3 absent item
    uid = pc.if_else(pa.array(missing & (miss_var == 0)), "null", int_strings(ev.user[src] + 1))
    iid = pc.if_else(pa.array(missing & (miss_var == 2)), "null", int_strings(ev.item[src] + 1))
    etype = pc.if_else(
        pa.array(is_kind["unknown_event_type"]),
        lookup(_BAD_EVENT_TYPES, variant % len(_BAD_EVENT_TYPES)),
        lookup(ETYPE_JSON, ev.etype[src]),
    )
    shift = rng.integers(1, 4, n) * np.where(rng.random(n) < 0.5, -1, 1)
    other_day = iso_ts_quoted(day_ord + shift, ev.ms[src])
    ts = pc.if_else(pa.array(is_kind["wrong_day"]), other_day, iso_ts_quoted(day, ev.ms[src]))
    ts = pc.if_else(
        pa.array(is_kind["bad_timestamp"]), lookup(_BAD_TIMESTAMPS, variant % len(_BAD_TIMESTAMPS)), ts
    )
    price = price_strings(ev.price[src])
    price = pc.if_else(
        pa.array(is_kind["negative_price"]), pc.binary_join_element_wise("-", price, ""), price
    )
    sid = hex_ids(ev.session[src], day_ord, NS_SESSION, key)
    lines = event_json(eid, uid, iid, etype, ts, sid, price, "")
    for var, field in ((1, "user_id"), (3, "item_id")):
        removed = pc.replace_substring_regex(lines, pattern=f',"{field}":[^,]*', replacement="")
        lines = pc.if_else(pa.array(missing & (miss_var == var)), removed, lines)
    # truncated JSON: drop 1..100 trailing characters (always including the closing brace)
    cut = np.where(is_kind["truncated_json"], 1 + variant % 100, 0)
    return truncate_and_terminate(lines, cut)
