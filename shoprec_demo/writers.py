"""The demo landing files of one day: events, item and user exports (a contract read by other code).

``landing/events/date=YYYY-MM-DD/events-00000.jsonl`` (then ``events-00001.jsonl`` ...; at most
1,000,000 lines per file, lines sorted by ``event_ts`` apart from corrupt lines): one JSON object
per line with the keys ``event_id`` (16 lowercase hex chars, unique for a seed), ``user_id``,
``item_id``, ``event_type`` (view, click, cart, fav, purchase), ``event_ts`` (ISO-8601 UTC with
milliseconds, ``2026-01-03T18:22:05.123Z``), ``session_id`` (16 hex chars) and ``price``.
With ``event_format="behavior-log"`` the files are ``events-0000N.csv`` without header and with
the columns ``user_id,item_id,category_id,behavior_type,timestamp`` (pv, fav, cart, buy; clicks
omitted; unix epoch seconds).

``landing/items/date=YYYY-MM-DD/items.jsonl``: items listed that day or whose price changed that
day (first day: the whole initial catalogue) with ``item_id, category_id, brand_id, price,
listed_date``.  ``landing/users/date=YYYY-MM-DD/users.jsonl``: users who signed up that day
(first day: all initial users) with ``user_id, signup_date, country, age_band``.

With ``corrupt_rate > 0`` (JSONL only) about that fraction of extra bad lines
(``shoprec_demo.corrupt``) is inserted at random positions; the valid lines are unchanged.
The folders are ``shoprec.landing.day_dir``.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shoprec import landing
from shoprec_demo.corrupt import ETYPE_JSON, NS_SESSION, corrupt_lines
from shoprec_demo.simulate import CLICK, DayEvents
from shoprec_demo.text import (
    EPOCH_ORDINAL,
    date_strings,
    event_json,
    hex_ids,
    int_strings,
    iso_ts_quoted,
    lookup,
    price_strings,
    write_lines,
)
from shoprec_demo.world import AGE_BANDS, COUNTRIES, World

MAX_LINES_PER_FILE = 1_000_000
_BEHAVIOR_TYPES = ("pv", "", "cart", "fav", "buy")  # by event code; clicks are not written


def clear_day(root: Path, day: date) -> None:
    """Delete the day's landing folders of every kind (a rerun replaces the day)."""
    for kind in get_args(landing.Kind):
        shutil.rmtree(landing.day_dir(root, kind, day), ignore_errors=True)


def _valid_event_lines(ev: DayEvents, rows: np.ndarray, day: date, key: np.uint64) -> pa.Array:
    day_ord = day.toordinal()
    return event_json(
        hex_ids(rows, day_ord, np.uint64(0), key),
        int_strings(ev.user[rows] + 1),
        int_strings(ev.item[rows] + 1),
        lookup(ETYPE_JSON, ev.etype[rows]),
        iso_ts_quoted(day, ev.ms[rows]),
        hex_ids(ev.session[rows], day_ord, NS_SESSION, key),
        price_strings(ev.price[rows]),
        "\n",
    )


def _behavior_lines(ev: DayEvents, rows: np.ndarray, day: date) -> pa.Array:
    day_s = (day.toordinal() - EPOCH_ORDINAL) * 86_400
    return pc.binary_join_element_wise(
        int_strings(ev.user[rows] + 1),
        ",",
        int_strings(ev.item[rows] + 1),
        ",",
        int_strings(ev.cat[rows] + 1),
        ",",
        lookup(_BEHAVIOR_TYPES, ev.etype[rows]),
        ",",
        int_strings(day_s + ev.ms[rows] // 1000),
        "\n",
        "",
    )


def write_events(
    ev: DayEvents,
    root: Path,
    day: date,
    key: np.uint64,
    event_format: str,
    corrupt_rate: float,
    rng: np.random.Generator,
) -> tuple[int, int]:
    """Write one day's event files (and corrupt lines).

    Args:
        ev: The day's valid events.
        root: The landing root.
        day: The day.
        key: The seed's id key (see ``shoprec_demo.text.hex_ids``).
        event_format: ``"jsonl"`` or ``"behavior-log"``.
        corrupt_rate: Expected corrupt lines per valid line (JSONL only).
        rng: The day's random generator for corruption (valid lines do not depend on it).

    Returns:
        (valid rows written, corrupt lines written).
    """
    folder = landing.day_dir(root, "events", day)
    folder.mkdir(parents=True, exist_ok=True)
    if event_format == "behavior-log":
        rows = np.flatnonzero(ev.etype != CLICK)
        for part, lo in enumerate(range(0, max(len(rows), 1), MAX_LINES_PER_FILE)):
            chunk = rows[lo : lo + MAX_LINES_PER_FILE]
            write_lines(folder / f"events-{part:05d}.csv", _behavior_lines(ev, chunk, day))
        return len(rows), 0
    n_valid = len(ev.ms)
    n_bad = int(rng.binomial(n_valid, corrupt_rate)) if corrupt_rate > 0 and n_valid else 0
    total = n_valid + n_bad
    is_bad = np.zeros(total, bool)
    bad_lines = None
    if n_bad:
        is_bad[rng.choice(total, n_bad, replace=False)] = True
        bad_lines = corrupt_lines(ev, n_bad, rng, day, key)
    valid_before = np.concatenate([[0], np.cumsum(~is_bad)])
    for part, lo in enumerate(range(0, max(total, 1), MAX_LINES_PER_FILE)):
        hi = min(total, lo + MAX_LINES_PER_FILE)
        v0, v1 = int(valid_before[lo]), int(valid_before[hi])
        lines = _valid_event_lines(ev, np.arange(v0, v1), day, key)
        if bad_lines is not None and (hi - lo) > (v1 - v0):
            mask = is_bad[lo:hi]
            bad = bad_lines.slice(lo - v0, (hi - lo) - (v1 - v0))
            idx = np.empty(hi - lo, np.int64)
            idx[~mask] = np.arange(v1 - v0)
            idx[mask] = (v1 - v0) + np.arange(len(bad))
            lines = pa.concat_arrays([lines, bad]).take(pa.array(idx))
        write_lines(folder / f"events-{part:05d}.jsonl", lines)
    return n_valid, n_bad


def write_items(world: World, idx: np.ndarray, root: Path, day: date) -> None:
    """Write the day's item export: the items ``idx`` with their current attributes."""
    folder = landing.day_dir(root, "items", day)
    folder.mkdir(parents=True, exist_ok=True)
    idx = np.sort(idx)
    lines = pc.binary_join_element_wise(
        '{"item_id":',
        int_strings(idx + 1),
        ',"category_id":',
        int_strings(world.item_cat[idx] + 1),
        ',"brand_id":',
        int_strings(world.item_brand[idx] + 1),
        ',"price":',
        price_strings(world.item_price[idx]),
        ',"listed_date":"',
        date_strings(world.item_listed[idx]),
        '"}\n',
        "",
    )
    write_lines(folder / "items.jsonl", lines)


def write_users(world: World, idx: np.ndarray, root: Path, day: date) -> None:
    """Write the day's user export: the users ``idx``."""
    folder = landing.day_dir(root, "users", day)
    folder.mkdir(parents=True, exist_ok=True)
    lines = pc.binary_join_element_wise(
        '{"user_id":',
        int_strings(idx + 1),
        ',"signup_date":"',
        date_strings(world.user_signup[idx]),
        '","country":"',
        lookup(COUNTRIES, world.user_country[idx]),
        '","age_band":"',
        lookup(AGE_BANDS, world.user_age[idx]),
        '"}\n',
        "",
    )
    write_lines(folder / "users.jsonl", lines)
