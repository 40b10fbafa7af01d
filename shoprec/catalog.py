"""The table catalog: every Delta table shoprec reads or writes, declared exactly once.

A table has a name (`schema.table`), a schema whose every column carries a comment, partition
columns (declared last, so positional and by-name writes agree on every engine), and a
location under the lake root. Jobs look tables up here by name and never repeat a schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from shoprec.storage import Location

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Flat types only: Sail 0.7 cannot re-register an existing Delta table that has an ARRAY column.
_TYPES = re.compile(r"^(STRING|BIGINT|INT|DOUBLE|FLOAT|BOOLEAN|DATE|TIMESTAMP)$")


class CatalogError(ValueError):
    """A table declaration is invalid, or a table name is unknown."""


@dataclass(frozen=True)
class Column:
    """One column: name, Spark SQL type, comment shown to analysts, nullability."""

    name: str
    type: str
    comment: str
    nullable: bool = True

    def ddl(self, not_null: bool = True) -> str:
        """Return the column clause of CREATE TABLE (`not_null=False` leaves NOT NULL out)."""
        not_null = "" if self.nullable or not not_null else " NOT NULL"
        return f"{self.name} {self.type}{not_null} COMMENT {sql_string(self.comment)}"


@dataclass(frozen=True)
class Table:
    """A Delta table declaration; checks itself when built."""

    name: str
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = self.name.split(".")
        if len(parts) != 2 or not all(_NAME.match(p) for p in parts):
            raise CatalogError(
                f"table name {self.name!r} must look like 'schema.table' (lowercase, digits, _)"
            )
        if not self.description:
            raise CatalogError(f"table {self.name}: a description is required")
        names = [c.name for c in self.columns]
        for column in self.columns:
            if not _NAME.match(column.name):
                raise CatalogError(
                    f"table {self.name}: column name {column.name!r} is not lowercase snake_case"
                )
            if not _TYPES.match(column.type):
                raise CatalogError(
                    f"table {self.name}: column {column.name} has unsupported type {column.type!r}"
                )
            if not column.comment:
                raise CatalogError(f"table {self.name}: column {column.name} needs a comment")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise CatalogError(f"table {self.name}: duplicate columns {duplicates}")
        if self.partition_by and tuple(names[-len(self.partition_by) :]) != self.partition_by:
            raise CatalogError(
                f"table {self.name}: partition columns {list(self.partition_by)} must exist and be the last "
                f"columns (some engines move them to the end, which breaks positional writes)"
            )

    @property
    def schema(self) -> str:
        """The schema (database) part of the name."""
        return self.name.split(".")[0]

    @property
    def column_names(self) -> list[str]:
        """Column names in declared order."""
        return [c.name for c in self.columns]

    def location(self, lake: Location) -> Location:
        """Where the table's Delta log lives under the lake root."""
        return lake / self.schema / self.name.split(".")[1]

    def ddl(self, lake: Location, not_null: bool = True) -> str:
        """Return `CREATE TABLE IF NOT EXISTS … USING delta LOCATION …` for this table."""
        columns = ",\n  ".join(c.ddl(not_null) for c in self.columns)
        partitioned = f"\nPARTITIONED BY ({', '.join(self.partition_by)})" if self.partition_by else ""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.name} (\n  {columns}\n) USING delta{partitioned}\n"
            f"LOCATION {sql_string(str(self.location(lake)))}\nCOMMENT {sql_string(self.description)}"
        )


def sql_string(value: str) -> str:
    """Quote a value as a Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _c(name: str, type_: str, comment: str, *, nullable: bool = True) -> Column:
    return Column(name, type_, comment, nullable)


_INGESTED_AT = _c(
    "ingested_at", "TIMESTAMP", "When the ingest run that wrote this row started (UTC).", nullable=False
)
_SOURCE_FILE = _c("source_file", "STRING", "Landing file the row came from, relative to the landing root.")

RAW_EVENTS = Table(
    "raw.events",
    "Behaviour events as exported, typed and checked; one partition per UTC event day. "
    "Exact duplicates (same event_id) are dropped here and kept in raw.events_rejected.",
    (
        _c("event_id", "STRING", "Unique id of the event in the source system.", nullable=False),
        _c("user_id", "BIGINT", "User who acted.", nullable=False),
        _c("item_id", "BIGINT", "Item acted on.", nullable=False),
        _c("event_type", "STRING", "One of view, click, cart, fav, purchase.", nullable=False),
        _c("event_ts", "TIMESTAMP", "When the event happened (UTC).", nullable=False),
        _c("session_id", "STRING", "Browsing session id from the source; null when the format has none."),
        _c("price", "DOUBLE", "Item price shown at event time; null when the source has none."),
        _c("category_id", "BIGINT", "Item category when the source carries it (behaviour-log format)."),
        _c("source_format", "STRING", "Landing format: jsonl, parquet or behavior-log.", nullable=False),
        _SOURCE_FILE,
        _c("line_number", "BIGINT", "1-based line (or row) number within source_file."),
        _INGESTED_AT,
        _c(
            "event_date",
            "DATE",
            "UTC calendar day of event_ts; the landing day it was exported for.",
            nullable=False,
        ),
    ),
    partition_by=("event_date",),
)

_REJECTED_COLUMNS = (
    _SOURCE_FILE,
    _c("line_number", "BIGINT", "1-based line (or row) number within source_file."),
    _c("raw_line", "STRING", "The rejected line exactly as read (rows of binary formats as JSON)."),
    _c("reason", "STRING", "Machine-readable rejection reason, e.g. unparseable_json, negative_price."),
    _c("column_name", "STRING", "Column the reason is about; null for whole-row problems."),
    _c("detail", "STRING", "Human-readable explanation including the offending value."),
)

RAW_EVENTS_REJECTED = Table(
    "raw.events_rejected",
    "Landing event rows that could not be used, with the reason; read = accepted + rejected per day.",
    (
        *_REJECTED_COLUMNS,
        _c("event_id", "STRING", "The row's event_id when one could be read."),
        _c("source_format", "STRING", "Landing format: jsonl, parquet or behavior-log.", nullable=False),
        _INGESTED_AT,
        _c("event_date", "DATE", "Landing day the file was exported for.", nullable=False),
    ),
    partition_by=("event_date",),
)

RAW_ITEMS = Table(
    "raw.items",
    "Item catalog export rows (new or changed items) per export day; clean.items keeps the latest.",
    (
        _c("item_id", "BIGINT", "Item id.", nullable=False),
        _c("category_id", "BIGINT", "Leaf category of the item."),
        _c("brand_id", "BIGINT", "Brand of the item; null when unknown."),
        _c("price", "DOUBLE", "List price on the export day; null when unknown."),
        _c("listed_date", "DATE", "Day the item was first listed; null when unknown."),
        _c(
            "source_format",
            "STRING",
            "jsonl for catalog exports, behavior-log when derived from events.",
            nullable=False,
        ),
        _SOURCE_FILE,
        _INGESTED_AT,
        _c("export_date", "DATE", "Day of the catalog export.", nullable=False),
    ),
    partition_by=("export_date",),
)

RAW_USERS = Table(
    "raw.users",
    "User registry export rows (new or changed users) per export day; clean.users keeps the latest.",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("signup_date", "DATE", "Day the user signed up."),
        _c("country", "STRING", "ISO-3166 alpha-2 country code."),
        _c("age_band", "STRING", "Self-declared age band, e.g. 25-34."),
        _SOURCE_FILE,
        _INGESTED_AT,
        _c("export_date", "DATE", "Day of the registry export.", nullable=False),
    ),
    partition_by=("export_date",),
)

RAW_CATALOG_REJECTED = Table(
    "raw.catalog_rejected",
    "Item and user export rows that could not be used, with the reason.",
    (
        _c("entity", "STRING", "items or users.", nullable=False),
        *_REJECTED_COLUMNS,
        _INGESTED_AT,
        _c("export_date", "DATE", "Day of the export.", nullable=False),
    ),
    partition_by=("export_date",),
)

OPS_INGEST_RUNS = Table(
    "ops.ingest_runs",
    "One row per ingest run and landing day: files, counts and outcome (an append-only audit log).",
    (
        _c("run_id", "STRING", "Unique id of the ingest run.", nullable=False),
        _c("event_date", "DATE", "Landing day ingested.", nullable=False),
        _c("source_format", "STRING", "Landing format of the event files."),
        _c("files", "BIGINT", "Number of event files read."),
        _c("read_rows", "BIGINT", "Non-blank event lines read."),
        _c("accepted_rows", "BIGINT", "Rows written to raw.events."),
        _c("rejected_rows", "BIGINT", "Rows written to raw.events_rejected (duplicates included)."),
        _c("duplicate_rows", "BIGINT", "Of the rejected rows, exact duplicates (same event_id)."),
        _c("items_rows", "BIGINT", "Rows written to raw.items for this day."),
        _c("users_rows", "BIGINT", "Rows written to raw.users for this day."),
        _c("catalog_rejected_rows", "BIGINT", "Rows written to raw.catalog_rejected for this day."),
        _c("started_at", "TIMESTAMP", "Run start (UTC).", nullable=False),
        _c("seconds", "DOUBLE", "Wall-clock duration of the day's ingest."),
    ),
)

_AS_OF = _c(
    "as_of_date", "DATE", "Features computed from events on or before this UTC day only.", nullable=False
)
_EVENT_TYPE_COLUMNS = ("views", "clicks", "carts", "favs", "purchases")
WINDOWS = (1, 7, 30)


def _windowed_counts(subject: str) -> tuple[Column, ...]:
    """`<type>_<w>d` counts per event type and window, e.g. views_7d."""
    return tuple(
        _c(
            f"{kind}_{w}d",
            "BIGINT",
            f"{kind.capitalize()} by the {subject} in the {w} day(s) ending on as_of_date.",
        )
        for kind in _EVENT_TYPE_COLUMNS
        for w in WINDOWS
    )


CLEAN_EVENTS = Table(
    "clean.events",
    "Events ready for features: from raw.events, de-duplicated across files and days, category joined "
    "from the item catalog, sessions present for every event.",
    (
        _c("event_id", "STRING", "Unique event id.", nullable=False),
        _c("user_id", "BIGINT", "User who acted.", nullable=False),
        _c("item_id", "BIGINT", "Item acted on.", nullable=False),
        _c("category_id", "BIGINT", "Item category (from the event, else the catalog as of the event day)."),
        _c("event_type", "STRING", "One of view, click, cart, fav, purchase.", nullable=False),
        _c("event_ts", "TIMESTAMP", "When the event happened (UTC).", nullable=False),
        _c(
            "session_id",
            "STRING",
            "Source session id; for sources without one, user id + start of a 30-minute-inactivity session.",
            nullable=False,
        ),
        _c(
            "price",
            "DOUBLE",
            "Item price at event time (event's own, else the catalog's as of the event day).",
        ),
        _c("event_date", "DATE", "UTC calendar day of event_ts.", nullable=False),
    ),
    partition_by=("event_date",),
)

CLEAN_ITEMS = Table(
    "clean.items",
    "Item attributes as slowly changing history: one row per item and period; is_current marks the latest.",
    (
        _c("item_id", "BIGINT", "Item id.", nullable=False),
        _c("category_id", "BIGINT", "Leaf category."),
        _c("brand_id", "BIGINT", "Brand; null when unknown."),
        _c("price", "DOUBLE", "List price during the period; null when unknown."),
        _c("listed_date", "DATE", "Day the item was first listed (from the catalog)."),
        _c("first_seen_date", "DATE", "First export day that carried the item.", nullable=False),
        _c("valid_from", "DATE", "First day these attributes hold.", nullable=False),
        _c("valid_to", "DATE", "Day these attributes stopped holding (exclusive); null while current."),
        _c("is_current", "BOOLEAN", "True for the latest attributes of the item.", nullable=False),
    ),
)

CLEAN_USERS = Table(
    "clean.users",
    "User attributes as slowly changing history: one row per user and period; is_current marks the latest.",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("signup_date", "DATE", "Day the user signed up."),
        _c("country", "STRING", "ISO-3166 alpha-2 country code."),
        _c("age_band", "STRING", "Self-declared age band."),
        _c("first_seen_date", "DATE", "First export day that carried the user.", nullable=False),
        _c("valid_from", "DATE", "First day these attributes hold.", nullable=False),
        _c("valid_to", "DATE", "Day these attributes stopped holding (exclusive); null while current."),
        _c("is_current", "BOOLEAN", "True for the latest attributes of the user.", nullable=False),
    ),
)

USER_DAILY = Table(
    "features.user_daily",
    "Per user and as_of_date: behaviour over the last 1/7/30 days (users with an event in the last 30 days).",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        *_windowed_counts("user"),
        _c("distinct_items_30d", "BIGINT", "Distinct items the user interacted with in 30 days."),
        _c("distinct_categories_30d", "BIGINT", "Distinct categories the user interacted with in 30 days."),
        _c("active_days_30d", "BIGINT", "Days with at least one event in the last 30 days."),
        _c(
            "days_since_last_event",
            "BIGINT",
            "as_of_date minus the day of the user's last event (0 = that day).",
        ),
        _c(
            "days_since_last_purchase", "BIGINT", "Days since the last purchase within 30 days; null if none."
        ),
        _c(
            "click_rate_30d",
            "DOUBLE",
            "clicks_30d / views_30d (0 when the user has no views), in [0, 1]; null when the shop's "
            "30-day window has no views or no clicks.",
        ),
        _c(
            "cart_rate_30d",
            "DOUBLE",
            "carts_30d / clicks_30d (views_30d in logs without clicks; 0 when that is 0), capped to [0, 1]; "
            "null when the shop's window has no carts or no views and clicks.",
        ),
        _c(
            "purchase_rate_30d",
            "DOUBLE",
            "purchases_30d / views_30d (clicks_30d in logs without views; 0 when that is 0), capped to "
            "[0, 1]; null when the shop's window has no purchases or no views and clicks.",
        ),
        _c(
            "spend_30d",
            "DOUBLE",
            "Sum of known prices of purchases in 30 days; null when the shop's window has no prices.",
        ),
        _c("avg_price_paid_30d", "DOUBLE", "spend_30d / purchases_30d; null without purchases."),
        *(
            _c(
                f"top_category_{k}",
                "BIGINT",
                f"The user's rank-{k} category by 30-day affinity; null if fewer.",
            )
            for k in (1, 2, 3)
        ),
        _AS_OF,
    ),
    partition_by=("as_of_date",),
)

ITEM_DAILY = Table(
    "features.item_daily",
    "Per item and as_of_date: popularity over 1/7/30 days, smoothed rates, trend and price "
    "(items with an event in the last 30 days).",
    (
        _c("item_id", "BIGINT", "Item id.", nullable=False),
        _c("category_id", "BIGINT", "Item category as of as_of_date."),
        _c("brand_id", "BIGINT", "Item brand as of as_of_date."),
        *_windowed_counts("item's users"),
        _c("users_7d", "BIGINT", "Distinct users who interacted with the item in 7 days."),
        _c("users_30d", "BIGINT", "Distinct users who interacted with the item in 30 days."),
        _c(
            "click_rate_30d",
            "DOUBLE",
            "Smoothed click-through rate: (clicks + prior) / (views + prior weight); null when the shop's "
            "window has no views or no clicks.",
        ),
        _c(
            "conversion_rate_30d",
            "DOUBLE",
            "Smoothed purchases per view (per click in logs without views), same smoothing; null when the "
            "shop's window has no purchases or no views and clicks.",
        ),
        _c(
            "trend_7d_vs_30d",
            "DOUBLE",
            "Daily interactions (all event types) in 7 days over those in 30 days (+1 smoothing); >1 rising.",
        ),
        _c("price", "DOUBLE", "Catalog price as of as_of_date (else the last event price)."),
        _c("days_since_listed", "BIGINT", "as_of_date minus listed_date; null when unknown."),
        _AS_OF,
    ),
    partition_by=("as_of_date",),
)

USER_CATEGORY = Table(
    "features.user_category",
    "Per user, category and as_of_date: affinity from event-type-weighted interactions decaying with "
    "a 7-day half-life over 30 days.",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("category_id", "BIGINT", "Category id.", nullable=False),
        _c(
            "affinity",
            "DOUBLE",
            "Sum of weight(event type) * 0.5^(age in days / 7): view 1, click 2, fav 3, cart 4, purchase 6.",
        ),
        _c("affinity_share", "DOUBLE", "affinity / the user's total affinity, in [0, 1]."),
        _c("category_rank", "BIGINT", "1 = the user's strongest category."),
        _c("events_30d", "BIGINT", "The user's events in this category in 30 days."),
        _c("purchases_30d", "BIGINT", "The user's purchases in this category in 30 days."),
        _AS_OF,
    ),
    partition_by=("as_of_date",),
)

ITEM_COOCCURRENCE = Table(
    "features.item_cooccurrence",
    "Item pairs seen (viewed/clicked) or bought in the same sessions over 30 days; top 50 partners per item.",
    (
        _c("item_id", "BIGINT", "The anchor item.", nullable=False),
        _c("other_item_id", "BIGINT", "An item that co-occurred with it.", nullable=False),
        _c("co_view_sessions", "BIGINT", "Sessions in 30 days that viewed or clicked both items."),
        _c("co_buy_sessions", "BIGINT", "Sessions in 30 days that bought both items."),
        _c(
            "score",
            "DOUBLE",
            "Shared sessions over sqrt(sessions of each item) in 30 days: co_view_sessions / sqrt(n_a * n_b), in [0, 1].",
        ),
        _c("pair_rank", "BIGINT", "1 = the anchor item's strongest partner."),
        _AS_OF,
    ),
    partition_by=("as_of_date",),
)

_EVENT_DATE = _c("event_date", "DATE", "UTC day of the events summed in the row.", nullable=False)
_DAY_AGGREGATE = (
    "Written by `shoprec features` for each day it runs and for days of its 30-day look-back that lack "
    "them; the stored input of the feature windows (features of D sum the rows of D-29..D)."
)


def _day_counts(subject: str) -> tuple[Column, ...]:
    """`<type>` counts per event type of one day, e.g. views."""
    return tuple(
        _c(kind, "BIGINT", f"{kind.capitalize()} by the {subject} on event_date.", nullable=False)
        for kind in _EVENT_TYPE_COLUMNS
    )


USER_DAY_COUNTS = Table(
    "features.user_day_counts",
    f"Per user and event day: the day's events by type and spend (users with an event that day). {_DAY_AGGREGATE} "
    "Written after the other per-day tables: a day present here has all of them.",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        *_day_counts("user"),
        _c("spend", "DOUBLE", "Sum of the known prices of the user's purchases that day; 0 when none."),
        _c("priced_purchases", "BIGINT", "The user's purchases that day with a known price."),
        _EVENT_DATE,
    ),
    partition_by=("event_date",),
)

ITEM_DAY_COUNTS = Table(
    "features.item_day_counts",
    f"Per item and event day: the day's events by type, event prices and sessions (items with an event that "
    f"day). {_DAY_AGGREGATE}",
    (
        _c("item_id", "BIGINT", "Item id.", nullable=False),
        *_day_counts("item's users"),
        _c("price_sum", "DOUBLE", "Sum of the known event prices of the item that day; null when none."),
        _c("priced_events", "BIGINT", "Events of the item that day with a known price."),
        _c(
            "sessions",
            "BIGINT",
            "Sessions that day holding the item among their 20 most recent items (co-occurrence's denominator).",
        ),
        _EVENT_DATE,
    ),
    partition_by=("event_date",),
)

USER_CATEGORY_DAY_COUNTS = Table(
    "features.user_category_day_counts",
    f"Per user, category and event day: the day's type-weighted interactions (events with a category). "
    f"{_DAY_AGGREGATE}",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("category_id", "BIGINT", "Category id.", nullable=False),
        _c(
            "affinity_weight",
            "DOUBLE",
            "Sum of weight(event type) that day: view 1, click 2, fav 3, cart 4, purchase 6 (before decay).",
        ),
        _c("events", "BIGINT", "The user's events in the category that day."),
        _c("purchases", "BIGINT", "The user's purchases in the category that day."),
        _EVENT_DATE,
    ),
    partition_by=("event_date",),
)

USER_ITEM_DAY_COUNTS = Table(
    "features.user_item_day_counts",
    f"Per user, item and event day: the user's events on the item that day (the input of distinct items per "
    f"user and distinct users per item). {_DAY_AGGREGATE}",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("item_id", "BIGINT", "Item id.", nullable=False),
        _c("events", "BIGINT", "The user's events on the item that day."),
        _EVENT_DATE,
    ),
    partition_by=("event_date",),
)

ITEM_PAIR_DAY_COUNTS = Table(
    "features.item_pair_day_counts",
    f"Per unordered item pair and event day: sessions of that day holding both items among their 20 most "
    f"recent items, and those buying both; each pair once, item_id < other_item_id. {_DAY_AGGREGATE}",
    (
        _c("item_id", "BIGINT", "The pair's smaller item id.", nullable=False),
        _c("other_item_id", "BIGINT", "The pair's larger item id.", nullable=False),
        _c("co_view_sessions", "BIGINT", "Sessions that day holding both items."),
        _c("co_buy_sessions", "BIGINT", "Sessions that day buying both items."),
        _EVENT_DATE,
    ),
    partition_by=("event_date",),
)

CANDIDATE_SOURCES = ("revisit", "co_viewed", "item_knn", "top_category", "trending", "popular")
"""Candidate sources in priority order (best first); see jobs/candidates.py."""

TRAINING_EXAMPLES = Table(
    "training.examples",
    "Ranking examples per label_date, drawn from the candidate sets retrieval built the day before (as served): "
    "candidates the user interacted with that day (positives) and a sample of the others (negatives), with "
    "point-in-time features as of the day before. Dense values are raw (normalised at training time); missing "
    "values are filled as documented.",
    (
        _c("user_id", "BIGINT", "User id.", nullable=False),
        _c("item_id", "BIGINT", "Candidate item id.", nullable=False),
        _c(
            "label",
            "INT",
            "1 = the user clicked, carted, favourited or bought the candidate on label_date; 0 = a candidate "
            "they did not.",
            nullable=False,
        ),
        _c(
            "label_event",
            "STRING",
            "Strongest interaction on label_date: purchase, cart, fav, click; 'negative' for negatives.",
            nullable=False,
        ),
        _c(
            "weight",
            "DOUBLE",
            "Training weight: purchase 4, cart/fav 2, click 1, negatives 1.",
            nullable=False,
        ),
        _c("category_id", "BIGINT", "Item category as of features_date (0 when unknown).", nullable=False),
        _c("brand_id", "BIGINT", "Item brand as of features_date (0 when unknown).", nullable=False),
        _c(
            "recent_items",
            "STRING",
            "Up to 10 distinct items the user interacted with in the 7 days up to features_date, most recent first, space-separated; '' when none.",
            nullable=False,
        ),
        *(
            _c(
                f"top_category_{k}",
                "BIGINT",
                f"User's rank-{k} category as of features_date (0 when none).",
                nullable=False,
            )
            for k in (1, 2, 3)
        ),
        _c(
            "u_views_7d",
            "BIGINT",
            "User views in the 7 days up to features_date (0 for users without features).",
            nullable=False,
        ),
        _c("u_clicks_7d", "BIGINT", "User clicks in 7 days.", nullable=False),
        _c("u_carts_7d", "BIGINT", "User add-to-carts in 7 days.", nullable=False),
        _c("u_purchases_30d", "BIGINT", "User purchases in 30 days.", nullable=False),
        _c("u_distinct_items_30d", "BIGINT", "Distinct items the user touched in 30 days.", nullable=False),
        _c("u_active_days_30d", "BIGINT", "User's active days in 30 days.", nullable=False),
        _c(
            "u_days_since_last_event",
            "BIGINT",
            "Days since the user's last event; 31 when none in 30 days.",
            nullable=False,
        ),
        _c("u_click_rate_30d", "DOUBLE", "User clicks per view in 30 days, in [0, 1].", nullable=False),
        _c("u_purchase_rate_30d", "DOUBLE", "User purchases per view in 30 days, in [0, 1].", nullable=False),
        _c("u_spend_30d", "DOUBLE", "User spend in 30 days.", nullable=False),
        _c("i_views_7d", "BIGINT", "Item views in 7 days (0 for items without features).", nullable=False),
        _c("i_clicks_7d", "BIGINT", "Item clicks in 7 days.", nullable=False),
        _c("i_purchases_7d", "BIGINT", "Item purchases in 7 days.", nullable=False),
        _c("i_users_7d", "BIGINT", "Distinct users of the item in 7 days.", nullable=False),
        _c(
            "i_click_rate_30d",
            "DOUBLE",
            "Item smoothed click rate in 30 days; without features the prior (the day's catalogue-wide rate).",
            nullable=False,
        ),
        _c(
            "i_conversion_rate_30d",
            "DOUBLE",
            "Item smoothed conversion rate in 30 days; without features the prior (catalogue-wide rate).",
            nullable=False,
        ),
        _c(
            "i_trend_7d_vs_30d",
            "DOUBLE",
            "Item daily views in 7 days over those in 30 days; 1 when no features.",
            nullable=False,
        ),
        _c("i_price", "DOUBLE", "Item price as of features_date; 0 when unknown.", nullable=False),
        _c(
            "i_days_since_listed",
            "BIGINT",
            "Days since the item was listed as of features_date; 0 when unknown or listed later.",
            nullable=False,
        ),
        _c(
            "uc_affinity_share",
            "DOUBLE",
            "Share of the user's affinity in the item's category, in [0, 1]; 0 when none.",
            nullable=False,
        ),
        _c(
            "uc_category_rank",
            "BIGINT",
            "Rank of the item's category among the user's categories; 0 when the user never touched it.",
            nullable=False,
        ),
        _c("uc_purchases_30d", "BIGINT", "User purchases in the item's category in 30 days.", nullable=False),
        _c(
            "ui_cooc_score",
            "DOUBLE",
            "Highest co-occurrence score between the item and the user's recent items, in [0, 1]; 0 when none.",
            nullable=False,
        ),
        _c(
            "ui_seen_7d",
            "BIGINT",
            "Events of the user on this very item in the 7 days up to features_date.",
            nullable=False,
        ),
        _c(
            "ui_events_30d",
            "DOUBLE",
            "The user's past interactions with this very item in the 30 days up to features_date: "
            "sum of weight(event type) * 0.5^(age / 7 days), weights as for category affinity; 0 when none.",
            nullable=False,
        ),
        _c(
            "ui_purchases_365d",
            "BIGINT",
            "The user's purchases of this very item in the 365 days up to features_date.",
            nullable=False,
        ),
        _c(
            "ui_days_since_purchase",
            "BIGINT",
            "features_date minus the day of the user's last purchase of the item; 366 when none in 365 days.",
            nullable=False,
        ),
        _c(
            "ui_days_since_event",
            "BIGINT",
            "features_date minus the day of the user's last event on the item; 31 when none in 30 days.",
            nullable=False,
        ),
        _c(
            "ui_knn_score",
            "DOUBLE",
            "Item-kNN score against the user's whole 30-day history: sum over the user's items of their "
            "affinity (as ui_events_30d) times their co-occurrence score with this item; 0 when none.",
            nullable=False,
        ),
        _c(
            "ui_source_score",
            "DOUBLE",
            "Score of the best candidate source that proposed the pair, in [0, 1].",
            nullable=False,
        ),
        *(
            _c(
                f"ui_src_{source}",
                "INT",
                f"1 when the {source} source proposed the pair, else 0.",
                nullable=False,
            )
            for source in CANDIDATE_SOURCES
        ),
        _c("features_date", "DATE", "as_of_date of the features used (label_date - 1).", nullable=False),
        _c("label_date", "DATE", "Day whose interactions give the labels.", nullable=False),
    ),
    partition_by=("label_date",),
)

_RECO_COLUMNS = (
    _c("user_id", "BIGINT", "User the items are recommended to.", nullable=False),
    _c("rank", "INT", "1 = best; ranks 1..K without gaps per user.", nullable=False),
    _c(
        "item_id",
        "BIGINT",
        "Recommended item (never one the user bought in the last 30 days).",
        nullable=False,
    ),
    _c(
        "score",
        "DOUBLE",
        "Ranking score in [0, 1]: the model's interaction probability; for cold-start rows the item's "
        "popularity share scaled to [0, 1].",
        nullable=False,
    ),
    _c(
        "model_version",
        "STRING",
        "Registered ranker version that scored the row ('popularity' for cold-start rows).",
        nullable=False,
    ),
    _c(
        "reason",
        "STRING",
        "Why the item was a candidate: co_viewed:<item_id>, top_category:<category_id>, "
        "trending:<category_id>, popular, or cold_start:popular / cold_start:trending.",
        nullable=False,
    ),
    _c("generated_at", "TIMESTAMP", "When the run that produced the set started (UTC).", nullable=False),
)
_RUN_DATE = _c(
    "run_date", "DATE", "Features as of this day; recommendations are for the following day.", nullable=False
)

RECO_USER_RECOMMENDATIONS = Table(
    "reco.user_recommendations",
    "Top-K recommendations per user and run_date. Each run_date is one complete, validated set written "
    "in a single Delta commit; earlier run_dates are kept as history.",
    (*_RECO_COLUMNS, _RUN_DATE),
    partition_by=("run_date",),
)

RECO_LATEST = Table(
    "reco.latest",
    "The newest complete run of reco.user_recommendations (same columns), replaced in one commit per run.",
    (*_RECO_COLUMNS, _RUN_DATE),
)

RECO_ITEM_AUDIENCES = Table(
    "reco.item_audiences",
    "Per item and run_date, the users most likely to interact with it (campaign targeting).",
    (
        _c("item_id", "BIGINT", "Item to promote.", nullable=False),
        _c("rank", "INT", "1 = the user most likely to interact with the item.", nullable=False),
        _c("user_id", "BIGINT", "Targeted user.", nullable=False),
        _c("score", "DOUBLE", "The ranker's interaction probability for (user, item).", nullable=False),
        _c("model_version", "STRING", "Registered ranker version that scored the pair.", nullable=False),
        _c("generated_at", "TIMESTAMP", "When the run started (UTC).", nullable=False),
        _RUN_DATE,
    ),
    partition_by=("run_date",),
)

RECO_CANDIDATES = Table(
    "reco.candidates",
    "Per run_date, every (user, item) candidate retrieval proposed to the ranker for an active user, after "
    "exclusions and the per-user cap: what the ranker could choose from (for candidate recall and analysis).",
    (
        _c("user_id", "BIGINT", "Active user.", nullable=False),
        _c("item_id", "BIGINT", "Candidate item.", nullable=False),
        _c(
            "source", "STRING", "The best source that proposed the pair (by source priority).", nullable=False
        ),
        _c(
            "sources",
            "STRING",
            "Every source that proposed the pair, comma-separated, sorted.",
            nullable=False,
        ),
        _c("source_score", "DOUBLE", "The best source's score for the pair, in [0, 1]."),
        _c("reason", "STRING", "The best source's reason, as published with the pair.", nullable=False),
        _RUN_DATE,
    ),
    partition_by=("run_date",),
)

OPS_EVAL_METRICS = Table(
    "ops.eval_metrics",
    "Offline evaluation of a run_date's recommendations against what users did in the following days, with "
    "baselines computed in the same run on the same users (one row per run_date, horizon, method and k; "
    "reruns replace a run_date's rows of a horizon).",
    (
        _c("run_date", "DATE", "Run whose recommendations are evaluated.", nullable=False),
        _c("eval_date", "DATE", "First day whose events are targets (run_date + 1).", nullable=False),
        _c(
            "horizon_days",
            "INT",
            "Days after run_date whose events are targets (1 = the next day).",
            nullable=False,
        ),
        _c(
            "method",
            "STRING",
            "published (the platform's recommendations), a baseline (popularity, recent_popularity, item_knn, "
            "cooccurrence, buy_again), or planted_ceiling (ranking by the demo data's hidden true preferences; "
            "demo data only).",
            nullable=False,
        ),
        _c("k", "INT", "Cut-off of the top-K metrics.", nullable=False),
        _c(
            "target",
            "STRING",
            "Event types counted as relevant in the horizon, e.g. purchase+cart.",
            nullable=False,
        ),
        _c(
            "users",
            "BIGINT",
            "Users evaluated: recommended on run_date and with a target event in the horizon.",
        ),
        _c("precision", "DOUBLE", "Mean over users of relevant items in the top K / K."),
        _c(
            "recall",
            "DOUBLE",
            "Mean over users of relevant items in the top K / relevant items (capped at K).",
        ),
        _c("ndcg", "DOUBLE", "Mean normalised discounted cumulative gain at K (binary relevance)."),
        _c("map", "DOUBLE", "Mean average precision at K."),
        _c("hit_rate", "DOUBLE", "Share of users with at least one relevant item in the top K."),
        _c("coverage", "DOUBLE", "Distinct recommended items / items in the catalogue on run_date."),
        _c("novelty", "DOUBLE", "Mean -log2(popularity share) of recommended items; higher = less obvious."),
        _c(
            "lift",
            "DOUBLE",
            "On published rows: NDCG@K over the best baseline's NDCG@K (planted ceiling excluded); else null.",
        ),
        _c("model_version", "STRING", "Ranker version behind the published rows (null for baselines)."),
        _c("evaluated_at", "TIMESTAMP", "When the evaluation ran (UTC).", nullable=False),
    ),
)

OPS_CANDIDATE_RECALL = Table(
    "ops.candidate_recall",
    "Per run_date, horizon and candidate source: the share of users' targets that retrieval proposed at all "
    "(reco.candidates), the ceiling of any ranking of them.",
    (
        _c("run_date", "DATE", "Run whose candidate set is evaluated.", nullable=False),
        _c("eval_date", "DATE", "First day whose events are targets (run_date + 1).", nullable=False),
        _c("horizon_days", "INT", "Days after run_date whose events are targets.", nullable=False),
        _c("source", "STRING", "A candidate source, or 'all' for the whole set.", nullable=False),
        _c("target", "STRING", "Event types counted as relevant, e.g. purchase+cart.", nullable=False),
        _c("users", "BIGINT", "Users evaluated (as in ops.eval_metrics)."),
        _c("recall", "DOUBLE", "Mean over users of their targets found in the source's candidates."),
        _c("candidates_per_user", "DOUBLE", "The source's candidates per evaluated user."),
        _c("evaluated_at", "TIMESTAMP", "When the evaluation ran (UTC).", nullable=False),
    ),
)

OPS_VALIDATION_RESULTS = Table(
    "ops.validation_results",
    "One row per expectation evaluated by `shoprec validate` (an append-only audit log).",
    (
        _c("run_id", "STRING", "Id of the validation run.", nullable=False),
        _c("table_name", "STRING", "Validated table.", nullable=False),
        _c("partition_value", "STRING", "Validated partition (e.g. 2026-01-31); null for whole tables."),
        _c("expectation", "STRING", "Great Expectations expectation type.", nullable=False),
        _c("column_name", "STRING", "Column(s) the expectation is about."),
        _c("severity", "STRING", "blocking (fails the run) or warning.", nullable=False),
        _c("success", "BOOLEAN", "Whether the expectation held.", nullable=False),
        _c("observed", "STRING", "Observed value or unexpected count, as text."),
        _c("sample_bad_values", "STRING", "A few unexpected values, as JSON."),
        _c("validated_at", "TIMESTAMP", "When the run started (UTC).", nullable=False),
    ),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        RAW_EVENTS,
        RAW_EVENTS_REJECTED,
        RAW_ITEMS,
        RAW_USERS,
        RAW_CATALOG_REJECTED,
        CLEAN_EVENTS,
        CLEAN_ITEMS,
        CLEAN_USERS,
        USER_DAILY,
        ITEM_DAILY,
        USER_CATEGORY,
        ITEM_COOCCURRENCE,
        USER_DAY_COUNTS,
        ITEM_DAY_COUNTS,
        USER_CATEGORY_DAY_COUNTS,
        USER_ITEM_DAY_COUNTS,
        ITEM_PAIR_DAY_COUNTS,
        TRAINING_EXAMPLES,
        RECO_USER_RECOMMENDATIONS,
        RECO_LATEST,
        RECO_ITEM_AUDIENCES,
        RECO_CANDIDATES,
        OPS_INGEST_RUNS,
        OPS_EVAL_METRICS,
        OPS_CANDIDATE_RECALL,
        OPS_VALIDATION_RESULTS,
    )
}

RANKER_MODEL = "shoprec_ranker"
"""The registered model (MLflow) that ranks recommendations; its `champion` alias serves."""


def get(name: str) -> Table:
    """Look a table up by `schema.table`; unknown names fail with the list of known ones."""
    try:
        return TABLES[name]
    except KeyError:
        raise CatalogError(f"unknown table {name!r}; known tables: {', '.join(sorted(TABLES))}") from None


def schemas(tables: Iterable[Table] | None = None) -> list[str]:
    """Distinct schema names of the given tables (all tables by default), in first-seen order."""
    return list(dict.fromkeys(t.schema for t in (tables or TABLES.values())))
