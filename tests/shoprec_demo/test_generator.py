"""Tests for the deterministic demo data generator (tiny scale)."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from jobs import baselines
from jobs.ranking_metrics import ranking_metrics
from shoprec_demo import planted_ceiling
from shoprec_demo.generator import GenerationStats, generate
from shoprec_demo.scales import SCALES

START = date(2026, 1, 1)  # a Thursday
EVENT_KEYS = {"event_id", "user_id", "item_id", "event_type", "event_ts", "session_id", "price"}
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HEX16_RE = re.compile(r"^[0-9a-f]{16}$")
BEHAVIOR_COLUMNS = ["user_id", "item_id", "category_id", "behavior_type", "timestamp"]
TRUTH_ITEM_COLUMNS = ["item_id", "category_id", "brand_id", "popularity", "listed_date"]
TRUTH_ITEM_EXTRA_COLUMNS = ["consumable", "repurchase_days", "trend_boost", "trend_peak", "trend_days"]
World = tuple[Path, Path, GenerationStats, list[str]]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _day_files(landing: Path, day: date) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for sub in ("events", "items", "users"):
        folder = landing / sub / f"date={day.isoformat()}"
        out.update({f"{sub}/{k}": v for k, v in _files(folder).items()})
    return out


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _events(landing: Path) -> pd.DataFrame:
    frames = []
    for folder in sorted((landing / "events").iterdir()):
        for f in sorted(folder.glob("events-*.jsonl")):
            df = pd.DataFrame(_read_jsonl(f))
            df["partition"] = folder.name.removeprefix("date=")
            df["file"] = f.name
            frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    df["ts"] = pd.to_datetime(df["event_ts"], format="%Y-%m-%dT%H:%M:%S.%fZ", utc=True)
    return df


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("demo")
    messages: list[str] = []
    stats = generate(
        root / "landing", root / "truth", scale="tiny", start=START, days=7, seed=3, progress=messages.append
    )
    return root / "landing", root / "truth", stats, messages


@pytest.fixture(scope="module")
def events(world: World) -> pd.DataFrame:
    return _events(world[0])


def test_scales() -> None:
    assert set(SCALES) == {"tiny", "small", "medium", "large"}
    sizes = [SCALES[s].n_users for s in ("tiny", "small", "medium", "large")]
    assert sizes == sorted(sizes)
    assert SCALES["tiny"].n_categories == 8


def test_stats_and_progress(world: World, events: pd.DataFrame) -> None:
    landing, _, stats, messages = world
    assert stats.days == 7
    assert stats.events == len(events)
    assert stats.corrupt_lines == 0
    assert stats.seconds > 0
    assert len(messages) == 7
    assert re.fullmatch(r"2026-01-01: [\d,]+ events", messages[0])
    users = sum(len(_read_jsonl(p)) for p in (landing / "users").glob("*/users.jsonl"))
    assert stats.users == users
    # tiny is ~10k events per 30 days
    assert 1_000 < stats.events < 5_000


def test_layout_and_keys(world: World, events: pd.DataFrame) -> None:
    landing, truth, _, _ = world
    days = [(START + timedelta(days=d)).isoformat() for d in range(7)]
    for sub in ("events", "items", "users"):
        assert sorted(p.name for p in (landing / sub).iterdir()) == [f"date={d}" for d in days]
    for d in days:
        assert (landing / "events" / f"date={d}" / "events-00000.jsonl").is_file()
    for f in (landing / "events").rglob("*.jsonl"):
        for line in f.read_text().splitlines():
            assert set(json.loads(line)) == EVENT_KEYS
    assert events["event_id"].str.fullmatch(HEX16_RE).all()
    assert events["event_id"].is_unique
    assert events["session_id"].str.fullmatch(HEX16_RE).all()
    assert events["event_ts"].str.fullmatch(TS_RE).all()
    assert set(events["event_type"]) == {"view", "click", "cart", "fav", "purchase"}
    assert (events["price"] > 0).all()
    assert ((events["price"] * 100).round(6) % 1 == 0).all()
    assert pd.api.types.is_integer_dtype(events["user_id"])
    assert pd.api.types.is_integer_dtype(events["item_id"])
    # a session belongs to one user and one day
    assert (events.groupby("session_id")["user_id"].nunique() == 1).all()
    assert (events.groupby("session_id")["partition"].nunique() == 1).all()
    # sorted by timestamp within each file
    for _, g in events.groupby(["partition", "file"]):
        assert g["ts"].is_monotonic_increasing

    for f in (landing / "items").rglob("items.jsonl"):
        for row in _read_jsonl(f):
            assert set(row) == {"item_id", "category_id", "brand_id", "price", "listed_date"}
            assert row["price"] > 0
    for f in (landing / "users").rglob("users.jsonl"):
        for row in _read_jsonl(f):
            assert set(row) == {"user_id", "signup_date", "country", "age_band"}
            assert re.fullmatch(r"[A-Z]{2}", row["country"])
            assert row["age_band"] in {"18-24", "25-34", "35-44", "45-54", "55+"}

    prefs = pq.read_table(truth / "preferences.parquet").to_pandas()
    assert list(prefs.columns) == ["user_id", "category_id", "weight", "valid_from", "valid_to"]
    sums = prefs.groupby(["user_id", "valid_from"])["weight"].sum()
    assert sums.sub(1.0).abs().max() < 1e-9
    current = prefs[prefs["valid_to"].isna()]
    assert current["user_id"].nunique() == world[2].users
    items = pq.read_table(truth / "items.parquet").to_pandas()
    assert list(items.columns) == [*TRUTH_ITEM_COLUMNS, *TRUTH_ITEM_EXTRA_COLUMNS]
    assert len(items) == world[2].items
    assert items["consumable"].any()
    assert not items["consumable"].all()
    assert items["repurchase_days"].notna().eq(items["consumable"]).all()
    trending = items["trend_boost"] > 0
    assert items["trend_peak"].notna().eq(trending).all()
    assert items["trend_days"].notna().eq(trending).all()
    habits = pq.read_table(truth / "habits.parquet").to_pandas()
    assert list(habits.columns) == ["user_id", "item_id", "interval_days", "valid_from", "valid_to"]
    assert set(habits["item_id"]) <= set(items.loc[items["consumable"], "item_id"])
    params = json.loads((truth / "params.json").read_text())
    assert params["scale"] == "tiny"
    assert params["seed"] == 3
    assert params["start"] == "2026-01-01"
    assert params["days"] == 7
    assert "click_given_view" in params["funnel"]
    assert 0 < params["storewide_share"] < 1


def test_events_within_day_and_sessions_increasing(events: pd.DataFrame) -> None:
    assert (events["ts"].dt.strftime("%Y-%m-%d") == events["partition"]).all()
    for _, g in events.groupby("session_id"):
        assert g["ts"].is_monotonic_increasing
        assert g["ts"].is_unique


def test_funnel(events: pd.DataFrame) -> None:
    counts = events["event_type"].value_counts()
    assert counts["purchase"] <= counts["cart"] <= counts["click"] <= counts["view"]
    assert counts["fav"] <= counts["click"]
    assert counts["purchase"] > 0
    first = events.groupby(["session_id", "item_id", "event_type"])["ts"].min().unstack()
    for later, earlier in (("purchase", "cart"), ("cart", "click"), ("fav", "click"), ("click", "view")):
        rows = first[first[later].notna()]
        assert rows[earlier].notna().all(), f"{later} without {earlier}"
        assert (rows[earlier] < rows[later]).all()


def test_new_users_items_and_validity(world: World, events: pd.DataFrame) -> None:
    landing, _, _, _ = world
    users = pd.concat(
        [pd.DataFrame(_read_jsonl(p)).assign(partition=p.parent.name[5:]) for p in landing.glob("users/*/*")]
    )
    assert users["user_id"].is_unique
    first_day = users[users["partition"] == START.isoformat()]
    assert len(first_day) == SCALES["tiny"].n_users
    assert (first_day["signup_date"] <= START.isoformat()).all()
    later = users[users["partition"] > START.isoformat()]
    assert len(later) > 0
    assert (later["signup_date"] == later["partition"]).all()

    item_rows = pd.concat(
        [pd.DataFrame(_read_jsonl(p)).assign(partition=p.parent.name[5:]) for p in landing.glob("items/*/*")]
    ).sort_values(["partition", "item_id"])
    listed = item_rows.groupby("item_id")["listed_date"].first()
    assert len(item_rows[item_rows["partition"] == START.isoformat()]) == SCALES["tiny"].n_items
    assert (listed > START.isoformat()).sum() > 0
    new_rows = item_rows[item_rows["listed_date"] > START.isoformat()]
    first_seen = new_rows.groupby("item_id")["partition"].min()
    assert (first_seen == new_rows.groupby("item_id")["listed_date"].min()).all()

    ev = events.merge(users[["user_id", "signup_date"]], on="user_id", how="left")
    ev = ev.merge(listed.rename("listed_date"), left_on="item_id", right_index=True, how="left")
    assert ev["signup_date"].notna().all()
    assert ev["listed_date"].notna().all()
    assert (ev["signup_date"] <= ev["partition"]).all()
    assert (ev["listed_date"] <= ev["partition"]).all()
    assert (ev["partition"] > START.isoformat())[ev["signup_date"] > START.isoformat()].all()

    # the event price is the item's latest price published up to that day
    prices = item_rows[["item_id", "price"]].assign(price_day=pd.to_datetime(item_rows["partition"]))
    merged = pd.merge_asof(
        ev.assign(price_day=pd.to_datetime(ev["partition"])).sort_values("price_day"),
        prices.sort_values("price_day"),
        on="price_day",
        by="item_id",
        suffixes=("", "_item"),
    )
    assert len(merged) == len(ev)
    assert (merged["price"] == merged["price_item"]).all()


def test_preferences_learnable(world: World, events: pd.DataFrame) -> None:
    _, truth, _, _ = world
    prefs = pq.read_table(truth / "preferences.parquet").to_pandas()
    items = pq.read_table(truth / "items.parquet").to_pandas()
    views = events[events["event_type"] == "view"].merge(items[["item_id", "category_id"]], on="item_id")
    views["day"] = pd.to_datetime(views["partition"]).dt.date
    m = views.merge(prefs, on=["user_id", "category_id"], how="left")
    valid = (m["valid_from"] <= m["day"]) & (m["valid_to"].isna() | (m["day"] < m["valid_to"]))
    m["hit"] = valid
    # one row per view: hit if any planted preference row matches
    per_view = m.groupby("event_id").agg(user_id=("user_id", "first"), hit=("hit", "any"))
    share = per_view.groupby("user_id")["hit"].mean()
    assert share.mean() > 0.7
    # purchases happen more often in preferred categories than views do
    buys = events[events["event_type"] == "purchase"].merge(items[["item_id", "category_id"]], on="item_id")
    current = prefs[prefs["valid_to"].isna()]
    top = current.groupby("user_id")["category_id"].apply(set)
    buy_hit = [c in top.get(u, set()) for u, c in zip(buys["user_id"], buys["category_id"], strict=True)]
    assert sum(buy_hit) / len(buy_hit) > 0.7


def test_determinism_and_prefix_stability(tmp_path: Path) -> None:
    kwargs = {"scale": "tiny", "start": START, "seed": 11, "corrupt_rate": 0.05}
    generate(tmp_path / "a" / "landing", tmp_path / "a" / "truth", days=3, **kwargs)
    generate(tmp_path / "b" / "landing", tmp_path / "b" / "truth", days=3, **kwargs)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    generate(tmp_path / "c" / "landing", tmp_path / "c" / "truth", days=1, **kwargs)
    generate(tmp_path / "d" / "landing", tmp_path / "d" / "truth", days=2, **kwargs)
    day1, day2 = START, START + timedelta(days=1)
    assert _day_files(tmp_path / "a" / "landing", day1) == _day_files(tmp_path / "c" / "landing", day1)
    assert _day_files(tmp_path / "a" / "landing", day2) == _day_files(tmp_path / "d" / "landing", day2)
    generate(tmp_path / "e" / "landing", tmp_path / "e" / "truth", days=3, **{**kwargs, "seed": 12})
    assert _day_files(tmp_path / "a" / "landing", day2) != _day_files(tmp_path / "e" / "landing", day2)


def test_rerun_replaces_day_files(tmp_path: Path) -> None:
    landing, truth = tmp_path / "landing", tmp_path / "truth"
    generate(landing, truth, start=START, days=2)
    before = _files(landing)
    stale = landing / "events" / "date=2026-01-02" / "events-00007.jsonl"
    stale.write_text("stale\n")
    other = landing / "events" / "date=2025-12-31"
    other.mkdir()
    (other / "events-00000.jsonl").write_text("keep\n")
    generate(landing, truth, start=START, days=2)
    assert not stale.exists()
    assert (other / "events-00000.jsonl").read_text() == "keep\n"
    after = _files(landing)
    del after["events/date=2025-12-31/events-00000.jsonl"]
    assert after == before


def _classify(line: str, day: str) -> str:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return "truncated_json"
    if not isinstance(row.get("user_id"), int) or not isinstance(row.get("item_id"), int):
        return "missing_id"
    if row["event_type"] not in {"view", "click", "cart", "fav", "purchase"}:
        return "unknown_event_type"
    ts = row["event_ts"]
    if not isinstance(ts, str) or not TS_RE.fullmatch(ts):
        return "bad_timestamp"
    try:
        datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return "bad_timestamp"
    if row["price"] < 0:
        return "negative_price"
    if not ts.startswith(day):
        return "wrong_day"
    return "ok"


def test_corruption(tmp_path: Path) -> None:
    clean = generate(tmp_path / "clean", tmp_path / "t1", start=START, days=3, seed=5)
    dirty = generate(tmp_path / "dirty", tmp_path / "t2", start=START, days=3, seed=5, corrupt_rate=0.2)
    assert dirty.events == clean.events
    assert 0.1 * clean.events < dirty.corrupt_lines < 0.3 * clean.events
    kinds: Counter[str] = Counter()
    bad = 0
    for d in range(3):
        day = (START + timedelta(days=d)).isoformat()
        clean_lines = (tmp_path / "clean" / "events" / f"date={day}" / "events-00000.jsonl").read_text()
        dirty_lines = (tmp_path / "dirty" / "events" / f"date={day}" / "events-00000.jsonl").read_text()
        clean_list = clean_lines.splitlines()
        clean_set = set(clean_list)
        kept: list[str] = []
        seen: set[str] = set()
        for line in dirty_lines.splitlines():
            kind = _classify(line, day)
            if kind == "ok" and line in seen:
                kind = "duplicate"
            if kind == "ok":
                assert line in clean_set
                kept.append(line)
                seen.add(line)
            else:
                kinds[kind] += 1
                bad += 1
        # valid events are unchanged (a duplicate may precede its original, so compare as multisets)
        assert sorted(kept) == sorted(clean_list)
    assert bad == dirty.corrupt_lines
    assert set(kinds) == {
        "truncated_json",
        "missing_id",
        "unknown_event_type",
        "bad_timestamp",
        "negative_price",
        "wrong_day",
        "duplicate",
    }


def test_behavior_log(tmp_path: Path, world: World) -> None:
    stats = generate(
        tmp_path / "landing", tmp_path / "truth", start=START, days=7, seed=3, event_format="behavior-log"
    )
    frames = []
    for f in sorted((tmp_path / "landing" / "events").glob("*/events-*.csv")):
        first = f.read_text().splitlines()[0]
        assert re.fullmatch(r"\d+,\d+,\d+,(pv|fav|cart|buy),\d+", first)
        frames.append(pd.read_csv(f, header=None, names=BEHAVIOR_COLUMNS).assign(partition=f.parent.name[5:]))
    assert not list((tmp_path / "landing" / "events").rglob("*.jsonl"))
    df = pd.concat(frames)
    assert stats.events == len(df)
    assert set(df["behavior_type"]) == {"pv", "fav", "cart", "buy"}
    day = pd.to_datetime(df["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%d")
    assert (day == df["partition"]).all()
    # same simulation as the JSONL export, minus clicks
    jsonl = _events(world[0])
    expected = jsonl["event_type"].map({"view": "pv", "fav": "fav", "cart": "cart", "purchase": "buy"})
    assert Counter(expected.dropna()) == Counter(df["behavior_type"])
    items = pq.read_table(tmp_path / "truth" / "items.parquet").to_pandas().set_index("item_id")
    assert (df["category_id"].to_numpy() == items.loc[df["item_id"], "category_id"].to_numpy()).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "huge"}, "unknown scale 'huge'"),
        ({"days": 0}, "days must be an integer >= 1"),
        ({"corrupt_rate": 0.6}, r"corrupt_rate must be within \[0, 0.5\]"),
        ({"corrupt_rate": -0.1}, r"corrupt_rate must be within \[0, 0.5\]"),
        ({"event_format": "parquet"}, "unknown event_format"),
        ({"event_format": "behavior-log", "corrupt_rate": 0.1}, "only supported with event_format='jsonl'"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args = {"start": START, "days": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(tmp_path / "landing", tmp_path / "truth", **args)
    assert not (tmp_path / "landing").exists()


# --- the shop's shape on the small scale: popularity head, restocking, weekly pattern, trends ----------

SMALL_DAYS = 14  # 2026-01-01 (Thursday) .. 2026-01-14: two weekends


@dataclass(frozen=True)
class Small:
    events: pd.DataFrame  # the behaviour log (no clicks) with its landing day
    items: pd.DataFrame  # the truth files
    habits: pd.DataFrame
    preferences: pd.DataFrame


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Small:
    """Two weeks of the small shop as a behaviour log, with its truth."""
    root = tmp_path_factory.mktemp("small")
    generate(
        root / "landing",
        root / "truth",
        scale="small",
        start=START,
        days=SMALL_DAYS,
        event_format="behavior-log",
    )
    frames = [
        pd.read_csv(f, header=None, names=BEHAVIOR_COLUMNS).assign(day=f.parent.name[5:])
        for f in sorted((root / "landing" / "events").glob("*/events-*.csv"))
    ]
    truth = {
        name: pq.read_table(root / "truth" / f"{name}.parquet").to_pandas()
        for name in ("items", "habits", "preferences")
    }
    return Small(events=pd.concat(frames, ignore_index=True), **truth)


def _head_share(events: pd.DataFrame, n_items: int) -> float:
    counts = events["item_id"].value_counts()
    return counts.head(n_items // 100).sum() / counts.sum()


def test_a_small_head_of_items_takes_a_large_share(small: Small) -> None:
    events, items = small.events, small.items
    views, buys = events[events["behavior_type"] == "pv"], events[events["behavior_type"] == "buy"]
    for frame in (views, buys):
        assert 0.15 < _head_share(frame, len(items)) < 0.5  # the top 1% of the catalogue
    # the head is storewide: the 20 most viewed items come from many categories
    top = views["item_id"].value_counts().head(20).index
    assert items.set_index("item_id").loc[top, "category_id"].nunique() >= 8
    # while users keep to their categories: most of a user's purchases are in few categories
    per_user = buys.groupby("user_id")["category_id"].agg(["nunique", "size"])
    repeat_buyers = per_user[per_user["size"] >= 4]
    assert (repeat_buyers["nunique"] / repeat_buyers["size"]).mean() < 0.7


def test_views_follow_the_truths_attractiveness(small: Small) -> None:
    events, items = small.events, small.items
    views = events[events["behavior_type"] == "pv"]["item_id"].value_counts()
    old = items[pd.to_datetime(items["listed_date"]) < pd.Timestamp(START) - pd.Timedelta(days=60)]
    steady = old[old["trend_boost"] == 0].assign(
        views=lambda f: views.reindex(f["item_id"]).fillna(0).to_numpy()
    )
    assert steady["popularity"].corr(steady["views"], method="spearman") > 0.6


def test_consumables_are_bought_again_by_the_same_user(small: Small) -> None:
    events, items, habits = small.events, small.items, small.habits
    buys = events[events["behavior_type"] == "buy"].merge(items[["item_id", "consumable"]], on="item_id")
    buys = buys.sort_values("timestamp")
    buys["again"] = buys.duplicated(["user_id", "item_id"])
    repeat_share = buys.groupby("consumable")["again"].mean()
    assert repeat_share[True] > 0.05
    assert repeat_share[False] == 0  # durables are bought once
    # at the user's own interval: the gaps between purchases of a habit's item match its interval
    again = buys[buys["consumable"]].copy()
    again["gap"] = again.groupby(["user_id", "item_id"])["timestamp"].diff() / 86_400
    gaps = again.dropna(subset=["gap"]).merge(habits, on=["user_id", "item_id"])
    ratio = (gaps["gap"] / gaps["interval_days"]).median()
    assert len(gaps) > 100
    assert 0.7 < ratio < 1.3
    # the repeats are the planted habits
    repeated = again.dropna(subset=["gap"])[["user_id", "item_id"]].drop_duplicates()
    planted = repeated.merge(habits[["user_id", "item_id"]].drop_duplicates(), how="inner")
    assert len(planted) > 0.8 * len(repeated)


def test_weekends_are_busier(small: Small) -> None:
    events = small.events
    per_day = events.groupby("day").size()
    weekday = pd.to_datetime(per_day.index).dayofweek
    assert len(per_day) == SMALL_DAYS
    assert per_day[weekday >= 5].mean() > 1.15 * per_day[weekday <= 3].mean()


def test_trending_items_rise_and_fade(small: Small) -> None:
    events, items = small.events, small.items
    views = events[events["behavior_type"] == "pv"].groupby(["item_id", "day"]).size().rename("views")
    trending = items[(items["trend_boost"] > 5) & items["trend_peak"].notna()]
    days = pd.Series(pd.to_datetime(sorted(events["day"].unique())))
    near = far = near_days = far_days = 0
    for item in trending.itertuples():
        listed = pd.Timestamp(item.listed_date)
        distance = ((days - pd.Timestamp(item.trend_peak)).dt.days.abs() / item.trend_days)[days >= listed]
        keys = [(item.item_id, d.date().isoformat()) for d in days[distance.index]]
        counts = views.reindex(keys, fill_value=0).to_numpy()
        near += counts[(distance <= 0.5).to_numpy()].sum()
        near_days += int((distance <= 0.5).sum())
        far += counts[(distance >= 2.5).to_numpy()].sum()
        far_days += int((distance >= 2.5).sum())
    assert near_days > 20
    assert far_days > 20
    assert near / near_days > 3 * far / far_days


def test_popularity_is_a_fair_opponent_and_the_truth_a_ceiling(small: Small) -> None:
    events, items = small.events, small.items
    history = events.assign(
        event_type=events["behavior_type"].map(
            {"pv": "view", "fav": "fav", "cart": "cart", "buy": "purchase"}
        ),
        event_date=pd.to_datetime(events["day"]).dt.date,
    )
    run_date = START + timedelta(days=SMALL_DAYS - 2)
    later = history[history["event_date"] > run_date]
    target = later[later["event_type"].isin(["cart", "purchase"])][["user_id", "item_id"]].drop_duplicates()
    users = np.sort(target["user_id"].unique())
    past = history[history["event_date"] <= run_date]
    bought = baselines.bought_recently(past, run_date, users)
    popular = baselines.ranking_lists(baselines.popularity_ranking(past, run_date, 30), users, 20, bought)
    catalogue = items.loc[items["listed_date"] <= run_date, "item_id"].to_numpy()
    planted = planted_ceiling.planted_lists(
        small.preferences, items, catalogue, users, bought, run_date + timedelta(days=1), 20
    )
    popularity_recall = ranking_metrics(popular, target, 20)["recall"]
    planted_recall = ranking_metrics(baselines.filled(planted, popular, 20), target, 20)["recall"]
    assert planted_recall > 1.5 * popularity_recall > 0.3 * planted_recall
