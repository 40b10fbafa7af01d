"""Synthetic training.examples with planted structure, written as a real Delta table with delta-rs.

Every user prefers one category; positives are mostly items of that category, negatives are uniform.
A model that learns user x category interactions (embeddings) separates them; popularity does not.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from shoprec import catalog

ARROW = {
    "BIGINT": pa.int64(),
    "INT": pa.int32(),
    "DOUBLE": pa.float64(),
    "STRING": pa.string(),
    "DATE": pa.date32(),
}
N_USERS, N_ITEMS, N_CATEGORIES = 200, 300, 6


def schema() -> pa.Schema:
    """Arrow schema of training.examples as the catalog declares it."""
    return pa.schema([pa.field(c.name, ARROW[c.type]) for c in catalog.TRAINING_EXAMPLES.columns])


def examples(label_date: date, rows: int, seed: int = 0) -> pa.Table:
    """`rows` examples for one label date: 1 positive per 4 rows, positives in the user's category."""
    world = np.random.default_rng(1234)  # the same shop for every date
    preferred = world.integers(1, N_CATEGORIES + 1, N_USERS + 1)
    item_category = world.integers(1, N_CATEGORIES + 1, N_ITEMS + 1)
    popularity = world.integers(0, 50, N_ITEMS + 1)
    rng = np.random.default_rng(seed * 100_003 + label_date.toordinal())
    users = rng.integers(1, N_USERS + 1, rows)
    label = (rng.random(rows) < 0.25).astype(np.int32)
    items = rng.integers(1, N_ITEMS + 1, rows)
    for i in np.flatnonzero(label):  # positives: an item of the user's category 90% of the time
        if rng.random() < 0.9:
            items[i] = rng.choice(np.flatnonzero(item_category == preferred[users[i]]))
    data: dict[str, object] = {}
    for column in catalog.TRAINING_EXAMPLES.columns:
        kind = column.type
        if kind == "BIGINT":
            data[column.name] = rng.integers(0, 20, rows)
        elif kind == "DOUBLE":
            data[column.name] = rng.random(rows)
        elif kind == "INT":  # the candidate-source flags
            data[column.name] = rng.integers(0, 2, rows)
    data.update(
        user_id=users,
        item_id=items,
        label=label,
        label_event=np.where(label == 1, "click", "negative"),
        weight=np.ones(rows),
        category_id=item_category[items],
        brand_id=items % 17 + 1,
        recent_items=[" ".join(map(str, rng.integers(1, N_ITEMS + 1, k))) for k in rng.integers(0, 4, rows)],
        top_category_1=preferred[users],
        top_category_2=np.zeros(rows, dtype=np.int64),
        top_category_3=np.zeros(rows, dtype=np.int64),
        i_views_7d=popularity[items],
        features_date=[label_date - timedelta(days=1)] * rows,
        label_date=[label_date] * rows,
    )
    return pa.table({f.name: pa.array(data[f.name], f.type) for f in schema()}, schema=schema())


def write_examples(location: Path, dates: list[date], rows: int, seed: int = 0) -> None:
    """Write (replace) the examples of `dates` into a Delta table at `location`."""
    for day in dates:
        write_deltalake(
            str(location),
            examples(day, rows, seed),
            mode="overwrite",
            partition_by=["label_date"],
            predicate=f"label_date = '{day.isoformat()}'",
        )
