"""Benchmark: build all feature tables for one day over 30 days of medium-scale history; prints JSON.

Phases run in separate processes so each peak memory (max RSS, the in-process Sail included) is its
own: setup (generate, ingest, clean); a first run of features for the day before the last, which
stores the per-day aggregates of every day of its window from clean.events (what a lake without
them costs once); the daily path: features for the last day, aggregating its events and reading
the stored aggregates of the 29 days before; a 7-day backfill; and DuckDB as a reference point:
the daily path's aggregations on the same inputs (the last day's clean.events and the stored
aggregates of the days before; results materialised, not written), and the full 30-day
recomputation from the events (from the landing JSON Lines, and from clean.events' Parquet files).
Usage: `python benchmarks/features_medium.py [--scale medium] [--days 30]`; one phase on an existing
lake: `--phase features --home DIR --start 2026-01-01 --days 22` (the last day is start + days - 1).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import common
from common import peak_rss_mb

DUCKDB_FEATURES = """
WITH ev AS (SELECT *, date_diff('day', event_date, DATE '{as_of}') AS age FROM events
            WHERE event_date BETWEEN DATE '{as_of}' - INTERVAL 29 DAY AND DATE '{as_of}'),
user_daily AS (
  SELECT user_id, {user_counts}, count(DISTINCT item_id) AS distinct_items_30d, min(age) AS days_since_last_event,
         sum(CASE WHEN event_type = 'purchase' THEN price ELSE 0 END) AS spend_30d
  FROM ev GROUP BY user_id),
item_daily AS (
  SELECT item_id, {user_counts}, count(DISTINCT user_id) AS users_30d FROM ev GROUP BY item_id),
user_category AS (
  SELECT user_id, category_id, sum(CASE event_type WHEN 'view' THEN 1 WHEN 'click' THEN 2 WHEN 'fav' THEN 3
         WHEN 'cart' THEN 4 ELSE 6 END * pow(0.5, age / 7.0)) AS affinity
  FROM ev WHERE category_id IS NOT NULL GROUP BY user_id, category_id),
session_items AS (SELECT DISTINCT event_date, session_id, item_id FROM ev),
pairs AS (
  SELECT a.item_id, b.item_id AS other_item_id, count(*) AS co_view_sessions
  FROM session_items a JOIN session_items b USING (event_date, session_id)
  WHERE a.item_id <> b.item_id GROUP BY 1, 2)
SELECT (SELECT count(*) FROM user_daily), (SELECT count(*) FROM item_daily),
       (SELECT count(*) FROM user_category), (SELECT count(*) FROM pairs)
"""


def _features(home: Path, first: date, last: date) -> dict[str, object]:
    from jobs import feature_aggregates, features
    from shoprec import engine

    settings = common.settings(home)
    with engine.session(settings, "benchmark-features") as spark:
        events = (
            spark.table("clean.events")
            .where(f"event_date BETWEEN DATE'{first - timedelta(days=29)}' AND DATE'{last}'")
            .count()
        )
        aggregated = feature_aggregates.days_to_refresh(spark, settings, first, last)
        aggregated_events = sum(
            spark.table("clean.events").where(f"event_date = DATE'{day}'").count() for day in aggregated
        )
        began = time.perf_counter()
        stats = features.run(spark, settings, first, last)
        seconds = time.perf_counter() - began
    return {
        "as_of_days": (last - first).days + 1,
        "events_in_window": events,
        "days_aggregated_from_events": len(aggregated),
        "events_aggregated": aggregated_events,
        "seconds": round(seconds, 1),
        "rows": stats.rows,
        "peak_rss_mb": peak_rss_mb(),
    }


KINDS = (
    ("view", "views"),
    ("click", "clicks"),
    ("cart", "carts"),
    ("fav", "favs"),
    ("purchase", "purchases"),
)
STORED = {  # DuckDB view name -> the per-day table the daily path reads
    "stored_users": "user_day_counts",
    "stored_items": "item_day_counts",
    "stored_user_categories": "user_category_day_counts",
    "stored_user_items": "user_item_day_counts",
    "stored_pairs": "item_pair_day_counts",
}
DUCKDB_DAY = """
CREATE TEMP TABLE day AS SELECT * FROM events WHERE event_date = DATE '{as_of}';
CREATE TEMP TABLE session_items AS SELECT event_date, session_id, item_id, bought FROM (
  SELECT event_date, session_id, item_id, max(CASE WHEN event_type = 'purchase' THEN 1 ELSE 0 END) AS bought,
         row_number() OVER (PARTITION BY event_date, session_id ORDER BY max(event_ts) DESC, item_id) AS position
  FROM day GROUP BY event_date, session_id, item_id) WHERE position <= 20;
CREATE TEMP VIEW user_days AS
  SELECT user_id, event_date, {day_kinds}, coalesce(sum(price) FILTER (WHERE event_type = 'purchase'), 0) AS spend
  FROM day GROUP BY user_id, event_date
  UNION ALL SELECT user_id, event_date, {kinds}, spend FROM stored_users;
CREATE TEMP VIEW item_days AS
  SELECT d.*, coalesce(s.sessions, 0) AS sessions
  FROM (SELECT item_id, event_date, {day_kinds}, sum(price) AS price_sum, count(price) AS priced_events
        FROM day GROUP BY item_id, event_date) d
  LEFT JOIN (SELECT item_id, count(*) AS sessions FROM session_items GROUP BY item_id) s USING (item_id)
  UNION ALL SELECT item_id, event_date, {kinds}, price_sum, priced_events, sessions FROM stored_items;
CREATE TEMP VIEW user_items AS
  SELECT user_id, item_id, event_date FROM day GROUP BY user_id, item_id, event_date
  UNION ALL SELECT user_id, item_id, event_date FROM stored_user_items;
CREATE TEMP VIEW user_category_days AS
  SELECT user_id, category_id, event_date, sum(CASE event_type WHEN 'view' THEN 1 WHEN 'click' THEN 2
         WHEN 'fav' THEN 3 WHEN 'cart' THEN 4 ELSE 6 END) AS affinity_weight
  FROM day WHERE category_id IS NOT NULL GROUP BY user_id, category_id, event_date
  UNION ALL SELECT user_id, category_id, event_date, affinity_weight FROM stored_user_categories;
CREATE TEMP VIEW pair_days AS
  SELECT a.item_id, b.item_id AS other_item_id, count(*) AS co_view_sessions,
         count(*) FILTER (WHERE a.bought = 1 AND b.bought = 1) AS co_buy_sessions
  FROM session_items a JOIN session_items b USING (session_id) WHERE a.item_id < b.item_id GROUP BY 1, 2
  UNION ALL SELECT item_id, other_item_id, co_view_sessions, co_buy_sessions FROM stored_pairs;
"""
DUCKDB_WINDOWS = """
CREATE TEMP TABLE user_daily AS
  SELECT * FROM (
    SELECT user_id, {windowed}, count(*) AS active_days_30d, min(age) AS days_since_last_event,
           sum(spend) AS spend_30d
    FROM (SELECT *, date_diff('day', event_date, DATE '{as_of}') AS age FROM user_days) GROUP BY user_id)
  JOIN (SELECT user_id, count(DISTINCT item_id) AS distinct_items_30d FROM user_items GROUP BY user_id)
  USING (user_id);
CREATE TEMP TABLE item_daily AS
  SELECT * FROM (
    SELECT item_id, {windowed}, sum(price_sum) / nullif(sum(priced_events), 0) AS event_price_30d
    FROM (SELECT *, date_diff('day', event_date, DATE '{as_of}') AS age FROM item_days) GROUP BY item_id)
  JOIN (SELECT item_id, count(DISTINCT user_id) FILTER (WHERE age < 7) AS users_7d,
               count(DISTINCT user_id) AS users_30d
        FROM (SELECT *, date_diff('day', event_date, DATE '{as_of}') AS age FROM user_items) GROUP BY item_id)
  USING (item_id);
CREATE TEMP TABLE user_category AS
  SELECT *, affinity / sum(affinity) OVER (PARTITION BY user_id) AS affinity_share,
         row_number() OVER (PARTITION BY user_id ORDER BY affinity DESC, category_id) AS category_rank
  FROM (SELECT user_id, category_id, sum(affinity_weight * pow(0.5, age / 7.0)) AS affinity
        FROM (SELECT *, date_diff('day', event_date, DATE '{as_of}') AS age FROM user_category_days)
        GROUP BY user_id, category_id);
CREATE TEMP TABLE item_cooccurrence AS
  WITH once AS (SELECT item_id, other_item_id, sum(co_view_sessions) AS co_view, sum(co_buy_sessions) AS co_buy
                FROM pair_days GROUP BY item_id, other_item_id),
  both_ways AS (SELECT * FROM once UNION ALL SELECT other_item_id, item_id, co_view, co_buy FROM once),
  sessions AS (SELECT item_id, sum(sessions) AS n FROM item_days WHERE sessions > 0 GROUP BY item_id),
  scored AS (SELECT p.*, least(1.0, co_view / sqrt(a.n * b.n)) AS score
             FROM both_ways p JOIN sessions a ON a.item_id = p.item_id JOIN sessions b ON b.item_id = p.other_item_id)
  SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY item_id ORDER BY score DESC, co_buy DESC, other_item_id)
                 AS pair_rank FROM scored) WHERE pair_rank <= 50;
"""


def _duckdb_incremental(home: Path, as_of: date) -> dict[str, object]:
    """DuckDB doing the daily path's work on its inputs: the day's clean.events and the stored days before.

    The day's per-day aggregates are computed from its events (as `shoprec features` does), combined
    with the stored aggregates of the 29 days before, and the four tables' aggregations (windowed
    counts, distinct users and items, decayed affinity ranked per user, co-occurrence scored and
    trimmed to 50 partners) are materialised in memory; nothing is written.
    """
    import duckdb
    from deltalake import DeltaTable

    settings = common.settings(home)
    day_kinds = ", ".join(f"count(*) FILTER (WHERE event_type = '{kind}') AS {name}" for kind, name in KINDS)
    kinds = ", ".join(name for _, name in KINDS)
    windowed = ", ".join(
        f"coalesce(sum({name}) FILTER (WHERE age < {w}), 0) AS {name}_{w}d"
        for _, name in KINDS
        for w in (1, 7, 30)
    )
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute("SET enable_progress_bar = false")  # it writes to stdout, where the JSON line goes
    began = time.perf_counter()
    day_files = [
        uri
        for uri in DeltaTable(str(settings.lake / "clean" / "events")).file_uris()
        if f"event_date={as_of.isoformat()}/" in uri
    ]
    con.execute(
        f"CREATE VIEW events AS SELECT * FROM read_parquet({_sql_list(day_files)}, hive_partitioning = true)"
    )
    for view, table in STORED.items():
        files = DeltaTable(str(settings.lake / "features" / table)).file_uris()
        con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_list(files)}, hive_partitioning = true) "
            f"WHERE event_date BETWEEN DATE '{as_of - timedelta(days=29)}' AND DATE '{as_of - timedelta(days=1)}'"
        )
    con.execute(DUCKDB_DAY.format(as_of=as_of, day_kinds=day_kinds, kinds=kinds))
    con.execute(DUCKDB_WINDOWS.format(as_of=as_of, windowed=windowed))
    rows = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("user_daily", "item_daily", "user_category", "item_cooccurrence")
    }
    seconds = time.perf_counter() - began
    return {
        "source": "day_events_and_stored_aggregates",
        "seconds": round(seconds, 1),
        "rows": rows,
        "peak_rss_mb": peak_rss_mb(),
    }


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _duckdb(home: Path, as_of: date, source: str) -> dict[str, float]:
    import duckdb
    from deltalake import DeltaTable

    settings = common.settings(home)
    counts = ", ".join(
        f"count(*) FILTER (WHERE event_type = '{kind}' AND age < {w}) AS {name}_{w}d"
        for kind, name in (
            ("view", "views"),
            ("click", "clicks"),
            ("cart", "carts"),
            ("fav", "favs"),
            ("purchase", "purchases"),
        )
        for w in (1, 7, 30)
    )
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute("SET enable_progress_bar = false")  # it writes to stdout, where the JSON line goes
    began = time.perf_counter()
    if source == "landing_jsonl":
        files = [str(p) for p in sorted((settings.landing / "events").glob("date=*/*.jsonl"))]
        con.execute(
            f"CREATE VIEW raw AS SELECT * FROM read_json({_sql_list(files)}, columns = {{event_id: 'VARCHAR', "
            "user_id: 'BIGINT', item_id: 'BIGINT', event_type: 'VARCHAR', event_ts: 'TIMESTAMP', "
            "session_id: 'VARCHAR', price: 'DOUBLE'})"
        )
        items = DeltaTable(str(settings.lake / "clean" / "items")).to_pyarrow_table(
            columns=["item_id", "category_id", "is_current"]
        )
        con.register("items", items)
        con.execute(
            "CREATE VIEW events AS SELECT r.*, CAST(r.event_ts AS DATE) AS event_date, i.category_id FROM raw r "
            "LEFT JOIN items i ON i.item_id = r.item_id AND i.is_current"
        )
    else:
        files = DeltaTable(str(settings.lake / "clean" / "events")).file_uris()
        con.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet({_sql_list(files)}, hive_partitioning = true)"
        )
    result = con.execute(DUCKDB_FEATURES.format(as_of=as_of, user_counts=counts)).fetchall()[0]
    seconds = time.perf_counter() - began
    return {
        "source": source,
        "seconds": round(seconds, 1),
        "rows": dict(
            zip(
                ("user_daily", "item_daily", "user_category", "cooccurrence_pairs_untrimmed"),
                result,
                strict=True,
            )
        ),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    phases = [
        "setup",
        "first_run",
        "features",
        "backfill",
        "duckdb_incremental",
        "duckdb_jsonl",
        "duckdb_parquet",
    ]
    args = common.parser(__doc__, phases).parse_args()
    start, last = common.span(args)
    if args.phase:
        run = {
            "setup": lambda: common.demo_lake(args.home, args.scale, start, args.days),
            "first_run": lambda: _features(args.home, last - timedelta(days=1), last - timedelta(days=1)),
            "features": lambda: _features(args.home, last, last),
            "backfill": lambda: _features(args.home, last - timedelta(days=6), last),
            "duckdb_incremental": lambda: _duckdb_incremental(args.home, last),
            "duckdb_jsonl": lambda: _duckdb(args.home, last, "landing_jsonl"),
            "duckdb_parquet": lambda: _duckdb(args.home, last, "clean_events_parquet"),
        }[args.phase]
        print(json.dumps(run()))
        return
    with tempfile.TemporaryDirectory(prefix="shoprec-bench-") as tmp:
        home = Path(tmp)
        report = {
            "benchmark": "features",
            "scale": args.scale,
            "history_days": args.days,
            "as_of": last.isoformat(),
            "machine": common.machine(),
            "setup": common.run_phase(__file__, args, home, "setup"),
            "features_first_run_day_before": common.run_phase(__file__, args, home, "first_run"),
            "features_one_day": common.run_phase(__file__, args, home, "features"),
            "duckdb_one_day_same_inputs": common.run_phase(__file__, args, home, "duckdb_incremental"),
            "features_backfill_7_days": common.run_phase(__file__, args, home, "backfill"),
            "duckdb_full_recomputation": [
                common.run_phase(__file__, args, home, "duckdb_jsonl"),
                common.run_phase(__file__, args, home, "duckdb_parquet"),
            ],
        }
    one_day, duckdb_day = report["features_one_day"], report["duckdb_one_day_same_inputs"]
    report["features_over_duckdb_one_day"] = round(one_day["seconds"] / max(duckdb_day["seconds"], 1e-9), 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
