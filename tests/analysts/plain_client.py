"""An analyst's plain PySpark client: pyspark-client only, no shoprec, no DDL.

Run as a script (the tests start it in a process whose TZ is the zone under test):

    python plain_client.py < plan.json > result.json

The plan names the Spark Connect URL, the session time zone to ask for (null: the server's
default, what a client gets when it sets nothing), the queries to run, and the Delta version to
read as of. The result holds what the analyst would look at: schemas, tables, column comments,
query results, a few event instants, and a table as of an earlier version.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC
from typing import Any

from pyspark.sql import SparkSession


def main() -> None:
    """Read the plan from stdin, run it, print the result as JSON."""
    plan = json.load(sys.stdin)
    builder = SparkSession.builder.remote(plan["url"]).appName("plain-analyst-client")
    if plan.get("session_time_zone"):
        builder = builder.config("spark.sql.session.timeZone", plan["session_time_zone"])
    spark = builder.getOrCreate()
    try:
        print(json.dumps(explore(spark, plan), default=str))
    finally:
        spark.stop()


def explore(spark: SparkSession, plan: dict[str, Any]) -> dict[str, Any]:
    """Everything an analyst's first hour touches, as plain data."""
    schemas = sorted(row[0] for row in spark.sql("SHOW SCHEMAS").collect())
    tables = sorted(
        f"{row.database}.{row.tableName}"
        for schema in schemas
        for row in spark.sql(f"SHOW TABLES IN {schema}").collect()
        if not row.isTemporary
    )
    comments = {table: describe(spark, table) for table in tables}
    queries = {
        name: [row.asDict() for row in spark.sql(sql).collect()] for name, sql in plan["queries"].items()
    }
    events = spark.sql(
        "SELECT event_id, event_ts, unix_micros(event_ts) AS micros FROM raw.events ORDER BY event_id LIMIT 20"
    ).collect()
    instants = [
        {
            "event_id": row.event_id,
            "micros": row.micros,
            # collect() gives a naive datetime in this process's local zone: make it an instant again
            "utc": row.event_ts.astimezone(UTC).isoformat(),
        }
        for row in events
    ]
    version = plan["as_of_version"]
    as_of = spark.sql(
        f"SELECT as_of_date, count(*) AS n FROM features.user_daily VERSION AS OF {version} GROUP BY as_of_date"
    ).collect()
    return {
        "session_time_zone": spark.conf.get("spark.sql.session.timeZone"),
        "process_time_zone": time.tzname[0],
        "schemas": schemas,
        "tables": tables,
        "comments": comments,
        "queries": queries,
        "instants": instants,
        "user_daily_as_of_version": {str(row.as_of_date): row.n for row in as_of},
    }


def describe(spark: SparkSession, table: str) -> dict[str, Any]:
    """Column comments and table details from `DESCRIBE TABLE EXTENDED`."""
    columns: dict[str, str | None] = {}
    details: dict[str, str] = {}
    in_columns = True
    for row in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect():
        if not row.col_name or row.col_name.startswith("#"):
            in_columns = False
        elif in_columns:
            columns[row.col_name] = row.comment
        else:
            details[row.col_name] = row.data_type
    return {"columns": columns, "comment": details.get("Comment"), "location": details.get("Location")}


if __name__ == "__main__":
    main()
