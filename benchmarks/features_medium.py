"""Benchmark: build all feature tables for one day over 30 days of medium-scale history; prints JSON.

Phases run in separate processes so each peak memory (max RSS, the in-process Sail included) is its
own: setup (generate, ingest, clean), features for the last day, a 7-day backfill, and DuckDB doing
the same aggregations on the same events as a reference point (from the landing JSON Lines, and
from clean.events' Parquet files).
Usage: `python benchmarks/features_medium.py [--scale medium] [--days 30]`.
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


def _features(home: Path, first: date, last: date) -> dict[str, float]:
    from jobs import features
    from shoprec import engine

    settings = common.settings(home)
    with engine.session(settings, "benchmark-features") as spark:
        events = (
            spark.table("clean.events")
            .where(f"event_date BETWEEN DATE'{first - timedelta(days=29)}' AND DATE'{last}'")
            .count()
        )
        began = time.perf_counter()
        stats = features.run(spark, settings, first, last)
        seconds = time.perf_counter() - began
    return {
        "as_of_days": (last - first).days + 1,
        "events_in_window": events,
        "seconds": round(seconds, 1),
        "events_per_s": round(events / seconds),
        "rows": stats.rows,
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
    phases = ["setup", "features", "backfill", "duckdb_jsonl", "duckdb_parquet"]
    args = common.parser(__doc__, phases).parse_args()
    start, last = common.span(args)
    if args.phase:
        run = {
            "setup": lambda: common.demo_lake(args.home, args.scale, start, args.days),
            "features": lambda: _features(args.home, last, last),
            "backfill": lambda: _features(args.home, last - timedelta(days=6), last),
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
            "features_one_day": common.run_phase(__file__, args, home, "features"),
            "features_backfill_7_days": common.run_phase(__file__, args, home, "backfill"),
            "duckdb_reference": [
                common.run_phase(__file__, args, home, "duckdb_jsonl"),
                common.run_phase(__file__, args, home, "duckdb_parquet"),
            ],
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
