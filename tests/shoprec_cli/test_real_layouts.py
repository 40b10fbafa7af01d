"""The whole chain on small logs in public layouts, as a new user runs it, through the command line.

land -> ingest -> clean -> features -> examples -> train -> recommend -> evaluate.

Each layout carries the sparsity of the real logs it imitates (no prices, no catalogue or user
exports, missing event types, users and items seen once, days without purchases, a stray event
years before the rest, millisecond or date-only timestamps). The logs are generated here from one
small simulated shop; no third-party data.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
FIRST = date(2024, 3, 1)
DAYS = 12
LAST = FIRST + timedelta(days=DAYS - 1)
RUN_DATE = LAST - timedelta(days=1)  # recommend here, judged on the last day


@dataclass(frozen=True)
class Event:
    user: int
    item: int
    kind: str  # view, click, cart, fav, purchase
    when: datetime
    price: float


def simulate(seed: int = 3) -> list[Event]:
    """A small shop: 60 users with a favourite group of items each, a funnel, repeat visits."""
    rng = np.random.default_rng(seed)
    groups = [list(range(100 + 10 * g, 110 + 10 * g)) for g in range(6)]
    events: list[Event] = []
    for day in range(DAYS):
        start = datetime(FIRST.year, FIRST.month, FIRST.day, tzinfo=UTC) + timedelta(days=day)
        for user in range(1, 61):
            if rng.random() > 0.55:
                continue
            group = groups[user % len(groups)]
            for _ in range(int(rng.integers(1, 5))):
                item = int(rng.choice(group)) if rng.random() < 0.8 else int(rng.integers(100, 160))
                when = start + timedelta(seconds=int(rng.integers(8 * 3600, 22 * 3600)))
                price = float(5 + item % 7)
                events.append(Event(user, item, "view", when, price))
                for kind, chance in (("click", 0.6), ("cart", 0.35), ("fav", 0.15), ("purchase", 0.5)):
                    if rng.random() < chance:
                        when += timedelta(minutes=2)
                        events.append(Event(user, item, kind, when, price))
                    elif kind != "fav":
                        break
    once = datetime(LAST.year, LAST.month, LAST.day, 12, tzinfo=UTC) - timedelta(days=3)
    events += [Event(900, 990, "view", once, 3.0), Event(901, 991, "purchase", once, 4.0)]  # seen once
    return sorted(events, key=lambda e: e.when)


def behavior_log(events: list[Event], folder: Path) -> tuple[Path, list[str]]:
    """The public behaviour log: `user_id,item_id,category_id,behavior_type,timestamp`.

    pv/fav/cart/buy, epoch seconds, no header, no clicks, no prices; one stray event two years early.
    """
    codes = {"view": "pv", "fav": "fav", "cart": "cart", "purchase": "buy"}
    path = folder / "UserBehavior.csv"
    stray = datetime(2022, 1, 5, 10, tzinfo=UTC)
    lines = [f"7,100,1,pv,{int(stray.timestamp())}"]
    lines += [
        f"{e.user},{e.item},{e.item // 10},{codes[e.kind]},{int(e.when.timestamp())}"
        for e in events
        if e.kind in codes
    ]
    path.write_text("\n".join(lines) + "\n")
    return path, ["--format", "behavior-log"]


def retailrocket(events: list[Event], folder: Path) -> tuple[Path, list[str]]:
    """RetailRocket's `timestamp,visitorid,event,itemid,transactionid`.

    Millisecond timestamps, view/addtocart/transaction; no clicks, favourites, categories or prices.
    """
    kinds = {"view": "view", "cart": "addtocart", "purchase": "transaction"}
    path = folder / "events.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["timestamp", "visitorid", "event", "itemid", "transactionid"])
        for n, e in enumerate(ev for ev in events if ev.kind in kinds):
            writer.writerow(
                [
                    int(e.when.timestamp() * 1000),
                    e.user,
                    kinds[e.kind],
                    e.item,
                    n if e.kind == "purchase" else "",
                ]
            )
    mapping = [
        "--format", "csv",
        "--columns", "event_ts=timestamp,user_id=visitorid,event_type=event,item_id=itemid",
        "--event-types", "view=view,cart=addtocart,purchase=transaction",
        "--timestamp-unit", "ms",
    ]  # fmt: skip
    return path, mapping


def invoices(events: list[Event], folder: Path) -> tuple[Path, list[str]]:
    """UCI Online Retail's invoice lines.

    Purchases only, with prices, string stock codes, guest checkouts, cancellations, no Sunday trading.
    """
    path = folder / "online_retail.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "InvoiceNo",
                "StockCode",
                "Description",
                "Quantity",
                "InvoiceDate",
                "UnitPrice",
                "CustomerID",
                "Country",
            ]
        )
        for n, e in enumerate(ev for ev in events if ev.kind == "purchase" and ev.when.weekday() != 6):
            invoice = f"{500000 + e.user * 100 + e.when.day}"
            customer = "" if n % 17 == 0 else f"{e.user}.0"
            stock = f"{e.item}A" if e.item % 3 == 0 else str(e.item)
            stamp = e.when.strftime("%Y-%m-%d %H:%M:%S")
            writer.writerow([invoice, stock, "THING", 2, stamp, e.price, customer, "United Kingdom"])
            if n % 13 == 0:
                writer.writerow(
                    [f"C{invoice}", stock, "THING", -1, stamp, e.price, customer, "United Kingdom"]
                )
    mapping = [
        "--format", "csv",
        "--columns", "user_id=CustomerID,item_id=StockCode,event_ts=InvoiceDate,price=UnitPrice,quantity=Quantity,session_id=InvoiceNo",
        "--event-type", "purchase",
    ]  # fmt: skip
    return path, mapping


def tmall(events: list[Event], folder: Path) -> tuple[Path, list[str]]:
    """Tmall 2014's `user_id,brand_id,type,visit_datetime`.

    0 click, 1 buy, 2 fav, 3 cart; dates like `3-4` without a year or a time; no views, no prices.
    """
    codes = {"click": "0", "purchase": "1", "fav": "2", "cart": "3"}
    path = folder / "t_alibaba_data.csv"
    lines = ["user_id,brand_id,type,visit_datetime"]
    lines += [
        f"{e.user},{e.item},{codes[e.kind]},{e.when.month}-{e.when.day}" for e in events if e.kind in codes
    ]
    path.write_text("\n".join(lines) + "\n")
    mapping = [
        "--format", "csv",
        "--columns", "item_id=brand_id,event_type=type,event_ts=visit_datetime",
        "--event-types", "click=0,purchase=1,fav=2,cart=3",
        "--timestamp-format", "%m-%d", "--year", str(FIRST.year),
    ]  # fmt: skip
    return path, mapping


LAYOUTS: dict[str, Callable[[list[Event], Path], tuple[Path, list[str]]]] = {
    "behavior-log": behavior_log,
    "retailrocket": retailrocket,
    "invoices": invoices,
    "tmall": tmall,
}


def shoprec(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SHOPREC, *args], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"shoprec {' '.join(args)}:\n{result.stderr[-3000:]}"
    return result


def sql(query: str, env: dict[str, str]) -> list[dict[str, object]]:
    out = shoprec("sql", query, "--format", "json", "--limit", "0", env=env).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_whole_chain_runs_on_each_public_layout(layout: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_")}
    env["SHOPREC_HOME"] = str(tmp_path / "home")
    path, mapping = LAYOUTS[layout](simulate(), tmp_path)

    landed = shoprec("land", *mapping, str(path), env=env)
    assert f"shoprec ingest --start {FIRST} --end {LAST}" in landed.stderr  # the stray event is not in it
    span = ["--start", str(FIRST), "--end", str(LAST)]
    shoprec("ingest", *span, "--max-reject-rate", "0.2", env=env)
    shoprec("clean", *span, env=env)
    shoprec("features", "--start", str(RUN_DATE - timedelta(days=4)), "--end", str(RUN_DATE), env=env)
    shoprec("examples", "--start", str(RUN_DATE - timedelta(days=3)), "--end", str(RUN_DATE), env=env)
    # one ranker: the layouts are under test here, the ensemble of small logs in tests/models
    train = ["--days", "3", "--batch-size", "16", "--epochs", "1", "--embedding-dim", "8", "--members", "1"]
    shoprec("train", "--date", str(RUN_DATE), *train, env=env)
    shoprec("recommend", "--date", str(RUN_DATE), env=env)
    evaluated = shoprec("evaluate", "--date", str(RUN_DATE), "--horizon", "1", env=env)
    assert "published" in evaluated.stdout

    active = sql(f"SELECT user_id FROM features.user_daily WHERE as_of_date = DATE '{RUN_DATE}'", env)
    listed = sql(
        f"SELECT user_id, count(*) AS n FROM reco.user_recommendations WHERE run_date = DATE '{RUN_DATE}' "
        "GROUP BY user_id",
        env,
    )
    assert {r["user_id"] for r in active} == {r["user_id"] for r in listed}  # every active user, no one else
    assert min(r["n"] for r in listed) >= 1
