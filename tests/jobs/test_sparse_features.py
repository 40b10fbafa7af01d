"""Features on sparse real-world logs: absent event types and prices give nulls by rule, never a crash."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import clean, features, ingest
from shoprec import catalog, lake
from shoprec.config import Settings
from tests.conftest import event, write_landing

START = date(2026, 3, 1)
DAYS = 3
AS_OF = START + timedelta(days=DAYS - 1)


def _build(spark: SparkSession, settings: Settings, rows_by_day: dict[date, list[dict[str, object]]]) -> None:
    for day, rows in rows_by_day.items():
        write_landing(settings, day, rows)
    last = max(rows_by_day)
    list(ingest.run(spark, settings, START, last))
    clean.run(spark, settings, START, last)
    features.run(spark, settings, AS_OF)


def _as_of(table: catalog.Table, settings: Settings) -> pd.DataFrame:
    return lake.to_pandas(table, settings, filters=[("as_of_date", "=", AS_OF)]).set_index(
        table.column_names[0]
    )


def _ts(day: date, hour: int) -> str:
    return f"{day}T{hour:02d}:00:00Z"


def test_log_without_clicks_favs_or_prices(spark: SparkSession, settings: Settings) -> None:
    """A pv/cart/buy log without prices (the public behaviour-log case): no division by zero, rates on views."""
    rows: dict[date, list[dict[str, object]]] = {}
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        kinds = ["view", "view", "view", "view", "cart", "purchase"]
        rows[day] = [
            event(f"e{offset}-{i}", 1, 10 + i % 2, kind, _ts(day, 8 + i), "s1", None)
            for i, kind in enumerate(kinds)
        ] + [event(f"f{offset}", 2, 10, "view", _ts(day, 20), "s2", None)]
    _build(spark, settings, rows)

    users = _as_of(catalog.USER_DAILY, settings)
    assert users["click_rate_30d"].isna().all()  # the log has no clicks at all: no rate, not a fake 0
    assert users.loc[1, "cart_rate_30d"] == pytest.approx(3 / 12)  # carts per view (no click stage)
    assert users.loc[1, "purchase_rate_30d"] == pytest.approx(3 / 12)
    assert users.loc[2, "cart_rate_30d"] == 0.0  # the stage exists in the log, this user never reached it
    assert users["spend_30d"].isna().all()  # no prices anywhere in the window
    assert users["avg_price_paid_30d"].isna().all()

    items = _as_of(catalog.ITEM_DAILY, settings)
    assert items["click_rate_30d"].isna().all()
    assert items["conversion_rate_30d"].notna().all()
    assert items["price"].isna().all()
    assert items["category_id"].isna().all()  # no catalogue export, no category in the log
    assert lake.to_pandas(catalog.USER_CATEGORY, settings).empty


def test_purchases_only_invoice_log(spark: SparkSession, settings: Settings) -> None:
    """An invoice export: purchases with prices and nothing else; funnel rates are undefined, money is not."""
    rows = {
        START + timedelta(days=offset): [
            event(
                f"p{offset}-{u}",
                u,
                20 + u,
                "purchase",
                _ts(START + timedelta(days=offset), 9),
                f"inv{u}",
                2.5,
            )
            for u in (1, 2)
        ]
        for offset in range(DAYS)
    }
    _build(spark, settings, rows)

    users = _as_of(catalog.USER_DAILY, settings)
    for column in ("click_rate_30d", "cart_rate_30d", "purchase_rate_30d"):
        assert users[column].isna().all(), column
    assert users.loc[1, "spend_30d"] == pytest.approx(7.5)
    assert users.loc[1, "avg_price_paid_30d"] == pytest.approx(2.5)

    items = _as_of(catalog.ITEM_DAILY, settings)
    assert items["click_rate_30d"].isna().all()
    assert items["conversion_rate_30d"].isna().all()  # purchases but no exposure stage
    assert items.loc[21, "price"] == pytest.approx(2.5)
    assert items.loc[21, "trend_7d_vs_30d"] == pytest.approx(
        (3 / 7 + 1) / (3 / 30 + 1)
    )  # on all interactions
