"""Pair features of the ranking rows: the user's history with an item, bit-equal for equal histories."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta

from pyspark.sql import SparkSession

from jobs import ranking_rows
from shoprec.vocabulary import AFFINITY_WEIGHTS

F_DAY = date(2026, 3, 31)
# (event type, age in days): summed in the engine's order, some orders of these five differ in the last bit
HISTORY = [("view", 1), ("click", 4), ("view", 6), ("fav", 11), ("view", 13)]


def test_equal_histories_get_bit_equal_affinities_whatever_the_row_order(spark: SparkSession) -> None:
    orders = list(itertools.permutations(HISTORY))[:: 120 // 12][:12]  # 12 different orders
    sums = set()
    for order in orders:
        total = 0.0
        for kind, age in order:
            total += AFFINITY_WEIGHTS[kind] * math.pow(0.5, age / ranking_rows.ITEM_HALF_LIFE_DAYS)
        sums.add(total)
    assert len(sums) > 1  # the premise: an order-dependent sum would break the tie between these items
    rows = [
        (1, 100 + item, kind, F_DAY - timedelta(days=age))
        for item, order in enumerate(orders)
        for kind, age in order
    ]
    events = spark.createDataFrame(rows, "user_id long, item_id long, event_type string, event_date date")
    affinities = ranking_rows.item_affinities(events, F_DAY, F_DAY).toPandas()
    assert len(affinities) == 12
    assert affinities["ui_events_30d"].nunique() == 1  # bit-equal: ranked by item_id, as intended
    expected = sum(
        AFFINITY_WEIGHTS[kind] * 0.5 ** (age / ranking_rows.ITEM_HALF_LIFE_DAYS) for kind, age in HISTORY
    )
    assert math.isclose(affinities["ui_events_30d"].iloc[0], expected, rel_tol=1e-12)
