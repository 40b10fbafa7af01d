"""shoprec checks: suite entries whose bounds depend on the data or the day, resolved to GE expectations.

A check validates its kwargs when the suite loads (`Check.check_kwargs`) and becomes an ordinary GE
expectation for one partition at run time (`Check.resolve`); `CHECKS` names them for the suite files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import TYPE_CHECKING, Any

from shoprec import inputs
from shoprec.catalog import Table
from shoprec.config import Settings
from shoprec.vocabulary import SUITE_CONSTANTS
from shoprec_quality.expectation_kwargs import SuiteError, check_columns

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@dataclass(frozen=True)
class Resolved:
    """A check made concrete for one partition: a GE expectation, or a note why it was skipped."""

    expectation: str
    kwargs: Mapping[str, Any] | None  # None = skipped
    note: str = ""


@dataclass(frozen=True)
class Context:
    """What a check may look at: the session, the table, the partition day and its rows."""

    spark: SparkSession
    settings: Settings
    table: Table
    day: date | None
    df: DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)

    def declared_quiet(self) -> bool:
        """Whether the partition is an event table's day that the source declared empty (`shoprec.inputs`)."""
        return (
            self.day is not None
            and self.table.name in inputs.QUIET_DAY_TABLES
            and self.day in inputs.empty_days(self.spark, self.settings, [self.day], declared=True)
        )


class Check:
    """A shoprec check: validates its kwargs when the suite loads, resolves to a GE expectation at run time."""

    expectation: str = ""
    needs_partition: bool = False
    kwargs_allowed: tuple[str, ...] = ()

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """Refuse unknown kwargs, and this check on an unpartitioned table when it needs partitions."""
        unknown = sorted(set(kwargs) - set(self.kwargs_allowed))
        if unknown:
            raise SuiteError(f"{where}: unknown kwargs {unknown}; allowed: {list(self.kwargs_allowed)}")
        if self.needs_partition and len(table.partition_by) != 1:
            raise SuiteError(f"{where}: needs a table partitioned by one date column")
        check_columns(kwargs, table, where)

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The GE expectation (name and kwargs) for this partition."""
        raise NotImplementedError


class PartitionNotEmpty(Check):
    """At least one row in the partition (the whole table when unpartitioned)."""

    expectation = "ExpectTableRowCountToBeBetween"

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """Row count >= 1."""
        return Resolved(self.expectation, {"min_value": 1})


class RowCountVsPrevious(Check):
    """Row count within [min_ratio, max_ratio] times that of the previous non-empty partition."""

    expectation = "ExpectTableRowCountToBeBetween"
    needs_partition = True
    kwargs_allowed = ("min_ratio", "max_ratio")

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """Ratios are positive numbers, min <= max."""
        super().check_kwargs(kwargs, table, where)
        low, high = kwargs.get("min_ratio", 0.5), kwargs.get("max_ratio", 2.0)
        if not all(isinstance(v, int | float) and v > 0 for v in (low, high)) or low > high:
            raise SuiteError(f"{where}: min_ratio and max_ratio must be positive with min <= max")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The band around the previous partition's count; skipped when there is no earlier partition."""
        from pyspark.sql import functions as F

        assert ctx.day is not None
        column = ctx.table.partition_by[0]
        # A Delta table has no empty partitions, so the latest earlier one is the previous non-empty one.
        previous = (
            ctx.spark.table(ctx.table.name)
            .where(F.col(column) < F.lit(ctx.day))
            .groupBy(column)
            .count()
            .orderBy(F.col(column).desc())
            .limit(1)
            .collect()
        )
        if not previous:
            return Resolved(self.expectation, None, "skipped: no earlier non-empty partition")
        day, count = previous[0][0], previous[0][1]
        low, high = kwargs.get("min_ratio", 0.5), kwargs.get("max_ratio", 2.0)
        return Resolved(
            self.expectation,
            {"min_value": math.ceil(count * low), "max_value": math.floor(count * high)},
            f"previous partition {day} has {count} rows",
        )


class Freshness(Check):
    """The newest row belongs to the partition day.

    With `column` (a TIMESTAMP of an event table): its maximum lies on the partition's UTC day. Without
    (as_of tables): the partition column's maximum is the day itself, i.e. the day's partition exists.
    """

    expectation = "ExpectColumnMaxToBeBetween"
    needs_partition = True
    kwargs_allowed = ("column",)

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """Max of the column between the day's first and last instant (or equal to the day)."""
        assert ctx.day is not None
        if "column" not in kwargs:
            column = ctx.table.partition_by[0]
            return Resolved(self.expectation, {"column": column, "min_value": ctx.day, "max_value": ctx.day})
        first, last = day_bounds(ctx.day)
        return Resolved(self.expectation, {"column": kwargs["column"], "min_value": first, "max_value": last})


class OnPartitionDay(Check):
    """Every value of a TIMESTAMP column lies on the partition's UTC day (event_date is consistent)."""

    expectation = "ExpectColumnValuesToBeBetween"
    needs_partition = True
    kwargs_allowed = ("column",)

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """`column` is required."""
        super().check_kwargs(kwargs, table, where)
        if "column" not in kwargs:
            raise SuiteError(f"{where}: missing kwarg `column`")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """Values between the day's first and last instant."""
        assert ctx.day is not None
        first, last = day_bounds(ctx.day)
        return Resolved(self.expectation, {"column": kwargs["column"], "min_value": first, "max_value": last})


class CurrentRowPerKey(Check):
    """Every key of an SCD-2 table has a current row: distinct keys == distinct keys among is_current rows.

    Paired with uniqueness of the key among `is_current` rows (a plain expectation with a
    row_condition), this makes exactly one current row per key.
    """

    expectation = "ExpectColumnUniqueValueCountToBeBetween"
    kwargs_allowed = ("column",)

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """`column` is required and the table has an is_current column."""
        super().check_kwargs(kwargs, table, where)
        if "column" not in kwargs or "is_current" not in table.column_names:
            raise SuiteError(f"{where}: needs kwarg `column` and a table with an is_current column")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The table's distinct keys must number exactly as many as the current rows' distinct keys."""
        column = kwargs["column"]
        current = ctx.df.where("is_current").select(column).distinct().count()
        return Resolved(
            self.expectation,
            {"column": column, "min_value": current, "max_value": current},
            f"{current} {column} value(s) have a current row",
        )


class UnexpectedRows(Check):
    """A SQL query over the rows (`{batch}`) that must return no row; `{day}`, run params and `SUITE_CONSTANTS` are filled in.

    `skip_unless` names a run param; when it is false the check is skipped (e.g. an exclusion the
    run was told not to apply).
    """

    expectation = "UnexpectedRowsExpectation"
    kwargs_allowed = ("query", "skip_unless")

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """`query` is required and reads `{batch}`."""
        super().check_kwargs(kwargs, table, where)
        if "{batch}" not in str(kwargs.get("query", "")):
            raise SuiteError(f"{where}: needs kwarg `query` selecting from {{batch}}")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The query with the day and params substituted (dates and numbers only, never user text)."""
        flag = kwargs.get("skip_unless")
        if flag is not None and not ctx.params.get(flag):
            return Resolved(self.expectation, None, f"skipped: run param {flag} is off")
        values = {k: v for k, v in ctx.params.items() if isinstance(v, int | float | date)}
        query = kwargs["query"].format(batch="{batch}", day=ctx.day, **{**SUITE_CONSTANTS, **values})
        return Resolved(self.expectation, {"unexpected_rows_query": query})


class UniqueKey(Check):
    """No two rows share their values of `column_list` (a compound key): one GROUP BY query.

    GE's ExpectCompoundColumnsToBeUnique gives the same verdict, but its Spark metric is a window
    count evaluated twice (the unexpected count, then the samples): 2 s each on the 3.6M staged
    recommendations of the medium shop, where this query takes 0.2 s. Each duplicated key comes
    back with its number of rows; the result's observed value counts them.
    """

    expectation = "UnexpectedRowsExpectation"
    kwargs_allowed = ("column_list",)

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """`column_list` is required: catalog columns (so safe to name in SQL)."""
        super().check_kwargs(kwargs, table, where)
        if not kwargs.get("column_list"):
            raise SuiteError(f"{where}: missing kwarg `column_list`")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The keys with more than one row."""
        key = ", ".join(f"`{column}`" for column in kwargs["column_list"])
        query = f"SELECT {key}, count(*) AS `rows` FROM {{batch}} GROUP BY {key} HAVING count(*) > 1"
        return Resolved(
            self.expectation, {"unexpected_rows_query": query}, "counts the keys that have more than one row"
        )


class DistinctCountAtLeast(Check):
    """At least `param` (a run param, e.g. the users that must be covered) distinct values of `column`."""

    expectation = "ExpectColumnUniqueValueCountToBeBetween"
    kwargs_allowed = ("column", "param")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """min_value = the run param; missing param fails loudly (the caller must say what to expect)."""
        name = kwargs["param"]
        if name not in ctx.params:
            raise SuiteError(f"{ctx.table.name}: check needs run param {name!r}")
        return Resolved(self.expectation, {"column": kwargs["column"], "min_value": int(ctx.params[name])})


CHECKS: dict[str, Check] = {
    "unexpected_rows": UnexpectedRows(),
    "distinct_count_at_least": DistinctCountAtLeast(),
    "unique_key": UniqueKey(),
    "partition_not_empty": PartitionNotEmpty(),
    "row_count_vs_previous": RowCountVsPrevious(),
    "freshness": Freshness(),
    "on_partition_day": OnPartitionDay(),
    "current_row_per_key": CurrentRowPerKey(),
}


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last instant of a UTC day, as naive datetimes in this process's local time.

    The PySpark client reads naive datetimes as local time, both in literals and in collected
    values, so this is what compares correctly with TIMESTAMP columns whatever the machine's zone.
    """
    start = datetime.combine(day, dtime(0), tzinfo=UTC)
    last = start + timedelta(days=1) - timedelta(microseconds=1)
    return start.astimezone().replace(tzinfo=None), last.astimezone().replace(tzinfo=None)
