"""Ingest job: one landing day -> raw.events, raw.items, raw.users, with every unusable row kept.

For each day it reads the day's event files (JSON Lines, Parquet or behaviour-log CSV, parsed by
`jobs.ingest_parsers`), checks every row (`jobs.rules`), drops exact duplicates (same event_id;
the first by file and line is kept), and replaces that day's partition of raw.events and raw.events_rejected, each in one
Delta commit. Counts must reconcile: read = accepted + rejected, also after the commit.
JSON lines that `shoprec land` carried (`land_reason`: a source line it could not convert) are
rejected with the carried reason; a day whose folder holds only `_no_events.*` markers is an
empty day (0 rows). Accepted events that carry a category_id also feed raw.items.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.ingest_parsers import parse_behavior_log, parse_jsonl, parse_parquet
from jobs.rules import FieldRule, Violation, check
from shoprec import catalog, engine, landing
from shoprec.config import Settings
from shoprec.dates import days_between
from shoprec.vocabulary import EVENT_TYPES

EVENT_RULES = (
    FieldRule("event_id", "string", required=True),
    FieldRule("user_id", "bigint", required=True),
    FieldRule("item_id", "bigint", required=True),
    FieldRule("event_type", "string", required=True, allowed=EVENT_TYPES),
    FieldRule("event_ts", "timestamp", required=True),
    FieldRule("session_id", "string"),
    FieldRule("price", "double", non_negative=True),
    FieldRule("category_id", "bigint"),
)
ITEM_RULES = (
    FieldRule("item_id", "bigint", required=True),
    FieldRule("category_id", "bigint"),
    FieldRule("brand_id", "bigint"),
    FieldRule("price", "double", non_negative=True),
    FieldRule("listed_date", "date"),
)
USER_RULES = (
    FieldRule("user_id", "bigint", required=True),
    FieldRule("signup_date", "date"),
    FieldRule("country", "string"),
    FieldRule("age_band", "string"),
)


class IngestError(RuntimeError):
    """A landing day cannot be ingested (no files, too many bad rows, counts that do not reconcile)."""


@dataclass(frozen=True)
class IngestStats:
    """What one landing day's ingest read and wrote."""

    day: date
    source_format: str
    files: int
    read: int
    accepted: int
    rejected: int
    duplicates: int
    items: int
    users: int
    catalog_rejected: int
    seconds: float
    reasons: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    empty_day: bool = False
    """No event files, only `_no_events.*` markers: a day without events, recorded with 0 rows."""

    def summary(self) -> str:
        """One line for logs and the CLI."""
        files = (
            "no events (empty-day marker)" if self.empty_day else f"{self.files} {self.source_format} file(s)"
        )
        return (
            f"{self.day}: read {self.read:,} = accepted {self.accepted:,} + rejected {self.rejected:,} "
            f"(duplicates {self.duplicates:,}) from {files}; "
            f"items {self.items:,}, users {self.users:,}, catalog rejected {self.catalog_rejected:,}; "
            f"{self.seconds:.1f} s"
        )


# ---------------------------------------------------------------- checks: parsed -> classified


def classify_events(parsed: DataFrame, day: date) -> DataFrame:
    """Type and check parsed events for landing `day`; mark exact duplicates of an earlier usable row.

    Args:
        parsed: Parsed event rows; a `parse_column` column, when present, names the column a parse
            problem is about (lines `shoprec land` carried).
        day: The landing day.

    Returns:
        Typed event columns plus source_file, line_number, raw_line, reason, column_name, detail;
        `reason` is null for rows to accept.
    """
    outside = Violation(
        F.to_date(F.col("event_ts")) != F.lit(day),
        "outside_day",
        "event_ts",
        F.concat(
            F.lit("event_ts "), F.col("event_ts").cast("string"), F.lit(f" is not on landing day {day}")
        ),
    )
    checked = check(parsed, EVENT_RULES, extra=[outside])
    if "parse_column" in parsed.columns:
        checked = checked.withColumn(
            "column_name", F.coalesce(F.col("parse_column"), F.col("column_name"))
        ).drop("parse_column")
    first_seen = Window.partitionBy("event_id", F.col("reason").isNull()).orderBy(
        "source_file", "line_number"
    )
    duplicate = F.col("reason").isNull() & (F.row_number().over(first_seen) > 1)
    return checked.withColumns(
        {
            "column_name": F.when(duplicate, F.lit("event_id")).otherwise(F.col("column_name")),
            "detail": F.when(
                duplicate,
                F.concat(F.lit("event_id '"), F.col("event_id"), F.lit("' already seen in this day")),
            ).otherwise(F.col("detail")),
            "reason": F.when(duplicate, F.lit("duplicate_event_id")).otherwise(F.col("reason")),
        }
    )


# ---------------------------------------------------------------- run


def _with(df: DataFrame, **values: object) -> DataFrame:
    """Add constant columns (the run's stamp: ingest time, day, format, entity)."""
    return df.withColumns({name: F.lit(value) for name, value in values.items()})


def _usable(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("reason").isNull())


def _unusable(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("reason").isNotNull())


def _partition_rows(spark: SparkSession, settings: Settings, table: catalog.Table, day: date) -> int:
    """Rows committed in the day's partition of `table` (read back from Delta, not from the plan)."""
    values = dict.fromkeys(table.partition_by, day)
    path = str(table.location(settings.lake))
    return spark.read.format("delta").load(path).where(engine.partition_predicate(table, values)).count()


def _union(frames: list[DataFrame], fallback: DataFrame) -> DataFrame:
    result = fallback
    for frame in frames:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def _ingest_catalogs(
    spark: SparkSession,
    settings: Settings,
    day: date,
    scratch: engine.Scratch,
    stamp: dict[str, object],
    derived_items: DataFrame | None,
) -> tuple[int, int, int]:
    """Replace the day's raw.items, raw.users and raw.catalog_rejected partitions; returns their row counts."""
    rejected: list[DataFrame] = []
    for kind, rules, table in (
        ("items", ITEM_RULES, catalog.RAW_ITEMS),
        ("users", USER_RULES, catalog.RAW_USERS),
    ):
        files = landing.day_files(settings.landing, kind, day)
        not_json = [p.name for p in files if landing.FORMAT_BY_SUFFIX[p.suffix] != "jsonl"]
        if not_json:
            raise IngestError(f"{kind} exports for {day} must be JSON Lines, found {not_json}")
        frames = []
        if files:
            parsed = parse_jsonl(
                engine.read_text_files(spark, files, settings.landing), [r.name for r in rules]
            )
            classified = scratch.materialize(check(parsed, rules), f"{kind}_classified")
            frames.append(_with(_usable(classified), source_format="jsonl"))
            rejected.append(_with(_unusable(classified), entity=kind))
        if kind == "items" and derived_items is not None:
            frames.append(derived_items)
        rows = _union(frames, engine.empty(spark, table))
        engine.replace_partition(_with(rows, export_date=day, **stamp), table, settings, {"export_date": day})
    rejected_rows = _union(rejected, engine.empty(spark, catalog.RAW_CATALOG_REJECTED))
    engine.replace_partition(
        _with(rejected_rows, export_date=day, **stamp),
        catalog.RAW_CATALOG_REJECTED,
        settings,
        {"export_date": day},
    )
    return (
        _partition_rows(spark, settings, catalog.RAW_ITEMS, day),
        _partition_rows(spark, settings, catalog.RAW_USERS, day),
        _partition_rows(spark, settings, catalog.RAW_CATALOG_REJECTED, day),
    )


def _parse_events(
    spark: SparkSession, settings: Settings, files: list[Path], fmt: landing.EventFormat
) -> DataFrame:
    fields = [r.name for r in EVENT_RULES]
    if fmt == "parquet" and files:
        return parse_parquet(spark, files, settings.landing, fields)
    lines = engine.read_text_files(spark, files, settings.landing)
    if fmt == "behavior-log":
        return parse_behavior_log(lines)
    return parse_jsonl(lines, fields, carried=True)


def ingest_day(
    spark: SparkSession,
    settings: Settings,
    day: date,
    *,
    event_format: landing.EventFormat | None = None,
    max_reject_rate: float = 0.05,
    run_id: str | None = None,
) -> IngestStats:
    """Ingest one landing day; replaces the day's partitions so reruns leave the same tables.

    Args:
        spark: A session from `shoprec.engine.session`.
        settings: Where the landing files and the lake are.
        day: The UTC landing day.
        event_format: Format of the event files; detected from their suffixes when None.
        max_reject_rate: Above this share of rejected event rows (duplicates and cancellations, see
            `landing.LEGITIMATE_REJECT_REASONS`, not counted), raw.events is left untouched and the run
            fails (the rejected rows are still written, so nothing is lost).
        run_id: Id recorded in ops.ingest_runs; a new one when None.

    Returns:
        Counts read and written, rejection reasons and the first few rejected rows.

    A day with no event files but `_no_events.*` markers (written by `shoprec land` for days without
    events inside a landed range) is ingested as an empty day: 0 rows, and its ops.ingest_runs row.

    Raises:
        IngestError: No event files (nor markers), too many rejected rows, or counts that do not reconcile.
    """
    started = time.monotonic()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    files = landing.day_files(settings.landing, "events", day)
    empty_day = not files and bool(landing.empty_day_markers(settings.landing, day))
    if not files and not empty_day:
        raise IngestError(f"no event files for {day} in {landing.day_dir(settings.landing, 'events', day)}")
    fmt = event_format or (landing.detect_format(files) if files else "jsonl")
    stamp: dict[str, object] = {"ingested_at": started_at}
    with engine.scratch(spark, settings) as scratch:
        classified = scratch.materialize(
            classify_events(_parse_events(spark, settings, files, fmt), day), "events"
        )
        reasons = {
            row["reason"] or "": row["n"]
            for row in classified.groupBy("reason").agg(F.count(F.lit(1)).alias("n")).collect()
        }
        accepted = reasons.pop("", 0)
        rejected = sum(reasons.values())
        read = accepted + rejected
        samples = [
            f"{r['source_file']}:{r['line_number']} [{r['reason']}] {r['detail']}"
            for r in _unusable(classified).orderBy("source_file", "line_number").limit(5).collect()
        ]
        event_stamp = {"source_format": fmt, "event_date": day, **stamp}
        partition = {"event_date": day}
        engine.replace_partition(
            _with(_unusable(classified), **event_stamp), catalog.RAW_EVENTS_REJECTED, settings, partition
        )
        # duplicates (at-least-once exports) and cancellations are normal data, not bad rows
        bad = rejected - sum(reasons.get(r, 0) for r in landing.LEGITIMATE_REJECT_REASONS)
        if read and bad / read > max_reject_rate:
            raise IngestError(
                f"{day}: {bad:,} of {read:,} event rows rejected ({bad / read:.1%} > "
                f"{max_reject_rate:.0%}); raw.events left unchanged, rows kept in raw.events_rejected. "
                f"First: {samples[0] if samples else '-'}"
            )
        engine.replace_partition(
            _with(_usable(classified), **event_stamp), catalog.RAW_EVENTS, settings, partition
        )
        committed = _partition_rows(spark, settings, catalog.RAW_EVENTS, day)
        committed_rejected = _partition_rows(spark, settings, catalog.RAW_EVENTS_REJECTED, day)
        if (committed, committed_rejected) != (accepted, rejected):
            raise IngestError(
                f"{day}: counts do not reconcile: read {read:,} but committed accepted {committed:,} + "
                f"rejected {committed_rejected:,} (expected {accepted:,} + {rejected:,})"
            )
        # events that carry their item's category (behaviour logs, landed public logs) feed raw.items,
        # so a log without a catalogue export still has its items and categories
        derived_items = _with(
            _usable(classified)
            .where(F.col("category_id").isNotNull())
            .select("item_id", "category_id")
            .distinct(),
            source_format=fmt,
            source_file=None,
        )
        items, users, catalog_rejected = _ingest_catalogs(spark, settings, day, scratch, stamp, derived_items)
    stats = IngestStats(
        day=day,
        source_format=fmt,
        files=len(files),
        read=read,
        accepted=accepted,
        rejected=rejected,
        duplicates=reasons.get("duplicate_event_id", 0),
        items=items,
        users=users,
        catalog_rejected=catalog_rejected,
        seconds=time.monotonic() - started,
        reasons=dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        samples=samples,
        empty_day=empty_day,
    )
    _record_run(spark, settings, stats, run_id or uuid.uuid4().hex, started_at)
    return stats


def _record_run(
    spark: SparkSession, settings: Settings, stats: IngestStats, run_id: str, started_at: datetime
) -> None:
    row = {
        "run_id": run_id,
        "event_date": stats.day,
        "source_format": stats.source_format,
        "files": stats.files,
        "read_rows": stats.read,
        "accepted_rows": stats.accepted,
        "rejected_rows": stats.rejected,
        "duplicate_rows": stats.duplicates,
        "items_rows": stats.items,
        "users_rows": stats.users,
        "catalog_rejected_rows": stats.catalog_rejected,
        "started_at": started_at,
        "seconds": round(stats.seconds, 3),
    }
    engine.append(
        spark.createDataFrame([row], engine.spark_schema(catalog.OPS_INGEST_RUNS)),
        catalog.OPS_INGEST_RUNS,
        settings,
    )


def run(
    spark: SparkSession,
    settings: Settings,
    start: date,
    end: date | None = None,
    *,
    event_format: landing.EventFormat | None = None,
    max_reject_rate: float = 0.05,
) -> Iterator[IngestStats]:
    """Ingest every landing day from start to end (inclusive), yielding each day's stats as it finishes."""
    run_id = uuid.uuid4().hex
    for day in days_between(start, end or start):
        yield ingest_day(
            spark, settings, day, event_format=event_format, max_reject_rate=max_reject_rate, run_id=run_id
        )
