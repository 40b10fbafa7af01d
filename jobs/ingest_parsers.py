"""Ingest's parsers: a landing day's lines or Parquet rows -> one STRING column per event field.

One concern: reading the landing formats (JSON Lines, with the lines `shoprec land` carried; the
public behaviour-log CSV; Parquet) into the parsed layout `(source_file, line_number, raw_line,
*fields, parse_reason, parse_detail[, parse_column])` that jobs/ingest.py types and checks. A line
that cannot be parsed keeps its raw text and gets a `parse_reason`; nothing is dropped but blank lines.
"""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from shoprec import landing


def _blank_dropped(lines: DataFrame) -> DataFrame:
    return lines.where(F.trim(F.col("value")) != "")


def parse_jsonl(lines: DataFrame, fields: list[str], *, carried: bool = False) -> DataFrame:
    """Parse JSON Lines into one STRING column per field; unreadable lines get `parse_reason`.

    Args:
        lines: (source_file, line_number, value) rows.
        fields: Keys to extract; numbers are kept as their JSON text.
        carried: Also recognise lines `shoprec land` carried (`land_reason`, `land_column`,
            `land_detail`, `raw_line`): they get the carried reason, detail and column
            (`parse_column`), and the source line they carry becomes their raw_line.

    Returns:
        (source_file, line_number, raw_line, *fields, parse_reason, parse_detail) rows, blank lines
        dropped, plus `parse_column` when `carried`.
    """
    land_keys = (
        [landing.CARRIED_REASON, landing.CARRIED_COLUMN, landing.CARRIED_DETAIL, landing.CARRIED_RAW_LINE]
        if carried
        else []
    )
    schema = ", ".join(f"{name} STRING" for name in [*fields, *land_keys])
    parsed = _blank_dropped(lines).select(
        "source_file",
        "line_number",
        F.col("value").alias("raw_line"),
        F.from_json("value", schema).alias("j"),
    )
    no_field = F.lit(True)
    for name in fields:
        no_field = no_field & F.col(f"j.{name}").isNull()
    # from_json yields all-null fields for malformed lines; only then pay for a full JSON validity check.
    unreadable = F.when(no_field, F.expr("try_parse_json(raw_line) IS NULL")).otherwise(F.lit(False))
    reason = F.when(unreadable, F.lit("unparseable_json"))
    detail = F.when(unreadable, F.lit("line is not a valid JSON object"))
    raw_line = F.col("raw_line")
    extra: list[Column] = []
    if carried:
        land_reason = F.col(f"j.{landing.CARRIED_REASON}")
        is_carried = land_reason.isNotNull() & (F.trim(land_reason) != "")
        reason = F.when(is_carried, land_reason).otherwise(reason)
        detail = F.when(is_carried, F.col(f"j.{landing.CARRIED_DETAIL}")).otherwise(detail)
        raw_line = F.when(
            is_carried, F.coalesce(F.col(f"j.{landing.CARRIED_RAW_LINE}"), F.col("raw_line"))
        ).otherwise(raw_line)
        extra = [F.when(is_carried, F.col(f"j.{landing.CARRIED_COLUMN}")).alias("parse_column")]
    return parsed.select(
        "source_file",
        "line_number",
        raw_line.alias("raw_line"),
        *[F.col(f"j.{name}").alias(name) for name in fields],
        reason.alias("parse_reason"),
        detail.alias("parse_detail"),
        *extra,
    )


def parse_behavior_log(lines: DataFrame) -> DataFrame:
    """Parse the public behaviour-log CSV (`user_id,item_id,category_id,behavior_type,timestamp`).

    pv/fav/cart/buy map to view/fav/cart/purchase; the epoch-seconds timestamp becomes a UTC
    timestamp; event_id is a hash of the line, so exact duplicate lines are caught as duplicates.
    The format has no session or price: those stay null.
    """
    parts = F.split(F.trim(F.col("value")), ",")
    behavior = F.lower(F.trim(F.get(parts, 3)))
    mapped = F.coalesce(
        *[F.when(behavior == F.lit(code), F.lit(name)) for code, name in landing.BEHAVIOR_TYPES.items()],
        behavior,
    )
    seconds = F.trim(F.get(parts, 4))
    wrong_width = F.size(parts) != 5
    return _blank_dropped(lines).select(
        "source_file",
        "line_number",
        F.col("value").alias("raw_line"),
        F.substring(F.sha2(F.trim(F.col("value")), 256), 1, 20).alias("event_id"),
        F.trim(F.get(parts, 0)).alias("user_id"),
        F.trim(F.get(parts, 1)).alias("item_id"),
        mapped.alias("event_type"),
        F.when(seconds.rlike(r"^\d{1,12}$"), F.timestamp_seconds(seconds.cast("bigint")).cast("string"))
        .otherwise(seconds)
        .alias("event_ts"),
        F.lit(None).cast("string").alias("session_id"),
        F.lit(None).cast("string").alias("price"),
        F.trim(F.get(parts, 2)).alias("category_id"),
        F.when(wrong_width, F.lit("wrong_field_count")).alias("parse_reason"),
        F.when(
            wrong_width,
            F.concat(F.lit("expected 5 comma-separated fields, found "), F.size(parts).cast("string")),
        ).alias("parse_detail"),
        F.lit(None).cast("string").alias("parse_column"),
    )


def parse_parquet(spark: SparkSession, files: list[Path], root: Path, fields: list[str]) -> DataFrame:
    """Read Parquet event files into the parsed layout; each row's JSON form stands in for its raw line."""
    frames = []
    for path in files:
        df = spark.read.parquet(str(path))
        values = [F.col(n).cast("string") if n in df.columns else F.lit(None).cast("string") for n in fields]
        frames.append(
            df.select(
                F.lit(str(path.relative_to(root))).alias("source_file"),
                F.monotonically_increasing_id().alias("_row"),
                F.to_json(F.struct(*[F.col(c) for c in df.columns])).alias("raw_line"),
                *[v.alias(n) for v, n in zip(values, fields, strict=True)],
            )
        )
    rows = frames[0]
    for frame in frames[1:]:
        rows = rows.unionByName(frame)
    order = Window.partitionBy("source_file").orderBy("_row")
    return rows.select(
        "source_file",
        F.row_number().over(order).cast("bigint").alias("line_number"),
        "raw_line",
        *fields,
        F.lit(None).cast("string").alias("parse_reason"),
        F.lit(None).cast("string").alias("parse_detail"),
        F.lit(None).cast("string").alias("parse_column"),
    )
