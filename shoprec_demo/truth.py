"""The demo shop's ground truth: what the generator favours, written beside the lake for evaluation.

Files in ``truth_dir`` (rewritten by every call, covering that call's range only; ids 1-based):

* ``preferences.parquet`` (SCD-2: ``user_id, category_id, weight, valid_from, valid_to``; a row
  is valid for ``valid_from <= day < valid_to``, ``valid_to`` is null while current; initial
  users' rows start at ``start``).
* ``items.parquet``: every item existing at the end of the range with ``item_id, category_id,
  brand_id, popularity`` (base attractiveness), ``listed_date``, then ``consumable``,
  ``repurchase_days`` (the category's typical interval, null for durables), ``trend_boost``
  (0 for items that do not trend), ``trend_peak`` and ``trend_days`` (null for those): an item's
  attractiveness on a day is ``shoprec_demo.draws.attractiveness_at`` of these.
* ``habits.parquet`` (SCD-2 like the preferences: ``user_id, item_id, interval_days,
  valid_from, valid_to``): the restocking habits that existed during the range; a habit valid
  on a day is due every ``interval_days`` (with noise), the first time within one interval of
  ``valid_from``.
* ``params.json``: the arguments, scale parameters and behaviour constants.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from shoprec_demo.habits import habit_rows
from shoprec_demo.text import EPOCH_ORDINAL
from shoprec_demo.world import World, pref_rows

PREFERENCES_FILE = "preferences.parquet"
ITEMS_FILE = "items.parquet"
HABITS_FILE = "habits.parquet"
PARAMS_FILE = "params.json"


def _date_array(ordinals: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    arr = (np.asarray(ordinals, np.int64) - EPOCH_ORDINAL).astype(np.int32)
    null = ordinals < 0 if mask is None else mask
    return pa.array(arr, pa.int32(), mask=null if null.any() else None).cast(pa.date32())


def _scd_rows(closed: list[dict[str, np.ndarray]], current: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    parts = [*closed, current]
    return {k: np.concatenate([p[k] for p in parts]) for k in current}


def write_truth(
    world: World,
    closed_prefs: list[dict[str, np.ndarray]],
    closed_habits: list[dict[str, np.ndarray]],
    truth_dir: Path,
    params: dict[str, object],
) -> None:
    """Write the truth files (see the module docstring).

    Args:
        world: The shop at the end of the range.
        closed_prefs: Truth rows of the preferences replaced during the range.
        closed_habits: Truth rows of the habits given up during the range.
        truth_dir: Folder to write to (created).
        params: What ``params.json`` holds.
    """
    truth_dir.mkdir(parents=True, exist_ok=True)
    prefs = _scd_rows(closed_prefs, pref_rows(world, np.arange(len(world.user_signup)), None))
    order = np.lexsort((-prefs["weight"], prefs["valid_from"], prefs["user_id"]))
    pref_table = pa.table(
        {
            "user_id": pa.array(prefs["user_id"][order], pa.int64()),
            "category_id": pa.array(prefs["category_id"][order], pa.int64()),
            "weight": pa.array(prefs["weight"][order], pa.float64()),
            "valid_from": _date_array(prefs["valid_from"][order]),
            "valid_to": _date_array(prefs["valid_to"][order]),
        }
    )
    pq.write_table(pref_table, truth_dir / PREFERENCES_FILE)
    n_items = len(world.item_cat)
    interval = world.cat_interval[world.item_cat]
    trending = world.item_trend_boost > 0
    item_table = pa.table(
        {
            "item_id": pa.array(np.arange(1, n_items + 1), pa.int64()),
            "category_id": pa.array(world.item_cat + 1, pa.int64()),
            "brand_id": pa.array(world.item_brand + 1, pa.int64()),
            "popularity": pa.array(world.item_pop, pa.float64()),
            "listed_date": _date_array(world.item_listed),
            "consumable": pa.array(world.cat_consumable[world.item_cat], pa.bool_()),
            "repurchase_days": pa.array(interval, pa.float64(), from_pandas=True),
            "trend_boost": pa.array(world.item_trend_boost, pa.float64()),
            "trend_peak": _date_array(world.item_trend_peak, ~trending),
            "trend_days": pa.array(world.item_trend_days, pa.float64(), mask=~trending),
        }
    )
    pq.write_table(item_table, truth_dir / ITEMS_FILE)
    habits = _scd_rows(closed_habits, habit_rows(world, np.arange(len(world.habit_user)), None))
    order = np.lexsort((habits["item_id"], habits["valid_from"], habits["user_id"]))
    habit_table = pa.table(
        {
            "user_id": pa.array(habits["user_id"][order], pa.int64()),
            "item_id": pa.array(habits["item_id"][order], pa.int64()),
            "interval_days": pa.array(habits["interval_days"][order], pa.float64()),
            "valid_from": _date_array(habits["valid_from"][order]),
            "valid_to": _date_array(habits["valid_to"][order]),
        }
    )
    pq.write_table(habit_table, truth_dir / HABITS_FILE)
    (truth_dir / PARAMS_FILE).write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
