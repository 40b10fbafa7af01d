"""Data validation: Great Expectations suites from `expectations/<table>.yaml`, run on one partition.

A suite file lists entries of two kinds, each with `severity: blocking|warning` and a `why:` note:

- `expectation: <GE 1.x class name>` with `kwargs:` passed to the class as they are;
- `check: <shoprec check>` with optional `kwargs:`, turned into an ordinary GE expectation at run
  time because its bounds depend on the data or the day (see `CHECKS`).

A run reads one partition through Spark (`spark.table(name).where(<partition predicate>)`, the whole
table when it is not partitioned), validates it with GE's Spark data source on the Spark Connect
DataFrame in a File Data Context under `SHOPREC_HOME/gx` (which also builds the Data Docs), and
appends one row per expectation to `ops.validation_results`.

GE is imported inside functions only: importing it takes seconds, and the CLI imports this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import math
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from shoprec import catalog, inputs
from shoprec import spark as engine
from shoprec.catalog import Table
from shoprec.config import Settings

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation
    from pyspark.sql import DataFrame, SparkSession

Severity = Literal["blocking", "warning"]
SEVERITIES: tuple[Severity, ...] = ("blocking", "warning")

# Where the suites live: `expectations/` at the repository root, next to the `shoprec` package.
SUITES_DIR = Path(__file__).resolve().parent.parent / "expectations"

# Kwargs of GE expectations that name columns; checked against the catalog when a suite loads.
_COLUMN_KWARGS = ("column", "column_A", "column_B")
_COLUMN_LIST_KWARGS = ("column_list",)
_SAMPLE_SIZE = 5
# A GE result as it appears in the CLI and in ops.validation_results is capped to this many characters.
_MAX_TEXT = 500


class ValidationError(ValueError):
    """A suite file is invalid, or a validation cannot run (unknown table, missing partition date)."""


@dataclass(frozen=True)
class Entry:
    """One suite entry: a GE expectation, or a shoprec check resolved to one at run time."""

    name: str  # GE class name (ExpectColumnValuesToNotBeNull) or check name (partition_not_empty)
    kwargs: Mapping[str, Any]
    severity: Severity
    why: str
    is_check: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the entry's kwargs name."""
        return _columns(self.kwargs)


@dataclass(frozen=True)
class Suite:
    """The expectations of one table, as loaded from its suite file."""

    table: Table
    path: Path
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class ExpectationResult:
    """The outcome of one suite entry on one partition."""

    expectation: str  # GE class name actually evaluated
    columns: tuple[str, ...]
    severity: Severity
    success: bool
    observed: str | None
    sample_bad_values: tuple[Any, ...] = ()
    check: str | None = None  # the shoprec check it came from, if any
    note: str = ""  # e.g. why a check was skipped

    @property
    def label(self) -> str:
        """`ExpectX`, or `ExpectX [check]` when a shoprec check produced it."""
        return f"{self.expectation} [{self.check}]" if self.check else self.expectation

    @property
    def target(self) -> str:
        """The label plus the columns: `ExpectX on a, b`."""
        return f"{self.label} on {', '.join(self.columns)}" if self.columns else self.label

    def describe(self) -> str:
        """One readable line: severity, expectation, columns, what was seen and sample bad values."""
        details = [f"column {', '.join(self.columns)}"] if self.columns else []
        if self.observed:
            details.append(f"observed {self.observed}")
        if self.sample_bad_values:
            details.append(f"bad values {_to_json(list(self.sample_bad_values))}")
        if self.note:
            details.append(self.note)
        head = f"{self.severity.upper()} {self.label}"
        return f"{head}: {'; '.join(details)}" if details else head


@dataclass(frozen=True)
class ValidationReport:
    """Every expectation's result for one table partition, plus where the Data Docs are."""

    run_id: str
    table: str
    partition: date | None
    results: tuple[ExpectationResult, ...]
    data_docs: Path | None
    seconds: float = field(default=0.0, compare=False)

    @property
    def blocking_failures(self) -> list[ExpectationResult]:
        """Failed blocking expectations (these fail the run)."""
        return [r for r in self.results if not r.success and r.severity == "blocking"]

    @property
    def warnings(self) -> list[ExpectationResult]:
        """Failed warning expectations (reported, never fail the run)."""
        return [r for r in self.results if not r.success and r.severity == "warning"]

    @property
    def blocking_failed(self) -> bool:
        """Whether any blocking expectation failed."""
        return bool(self.blocking_failures)

    @property
    def target(self) -> str:
        """`table partition`, or just the table name for unpartitioned tables."""
        return f"{self.table} {self.partition}" if self.partition else self.table

    def summary(self) -> str:
        """`raw.events 2026-01-01: 14 expectations, 0 blocking failures, 1 warning; data docs: …`."""
        warnings = len(self.warnings)
        return (
            f"{self.target}: {len(self.results)} expectations, {len(self.blocking_failures)} blocking "
            f"failure{'' if len(self.blocking_failures) == 1 else 's'}, {warnings} warning"
            f"{'' if warnings == 1 else 's'}; data docs: {self.data_docs}"
        )


# --- suite files ------------------------------------------------------------------------------


def suite_path(table_name: str, suites_dir: Path = SUITES_DIR) -> Path:
    """The suite file of a table: `<suites_dir>/<schema>.<table>.yaml`."""
    return suites_dir / f"{table_name}.yaml"


def load_suite(path: Path) -> Suite:
    """Load and check a suite file against GE and the catalog.

    Raises:
        ValidationError: naming the file and the entry for an unknown expectation or check, a missing
            or invalid kwarg, a column the table does not declare, or a bad severity.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValidationError(f"no suite file {path}") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise ValidationError(f"{path}: expected a mapping with `table:` and a list `expectations:`")
    try:
        table = catalog.get(str(document.get("table")))
    except catalog.CatalogError as exc:
        raise ValidationError(f"{path}: {exc}") from None
    if path.name != f"{table.name}.yaml":
        raise ValidationError(
            f"{path}: holds the suite of {table.name}, so it must be named {table.name}.yaml"
        )
    entries = tuple(
        _entry(raw, table, f"{path}: entry {number}")
        for number, raw in enumerate(document["expectations"], start=1)
    )
    if not entries:
        raise ValidationError(f"{path}: the suite has no expectations")
    return Suite(table, path, entries)


def _entry(raw: object, table: Table, where: str) -> Entry:
    """Parse one suite entry; `where` prefixes every error ("<file>: entry 3")."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{where}: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - {"expectation", "check", "kwargs", "severity", "why"})
    if unknown:
        raise ValidationError(f"{where}: unknown keys {unknown}")
    if ("expectation" in raw) == ("check" in raw):
        raise ValidationError(f"{where}: give exactly one of `expectation:` or `check:`")
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise ValidationError(f"{where}: `kwargs:` must be a mapping")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise ValidationError(f"{where}: severity must be one of {list(SEVERITIES)}, got {severity!r}")
    why = raw.get("why")
    if not isinstance(why, str) or not why.strip():
        raise ValidationError(f"{where}: a `why:` note is required")
    if "check" in raw:
        name = str(raw["check"])
        where = f"{where} ({name})"
        if name not in CHECKS:
            raise ValidationError(f"{where}: unknown check; known checks: {', '.join(sorted(CHECKS))}")
        CHECKS[name].check_kwargs(kwargs, table, where)
    else:
        name = str(raw["expectation"])
        where = f"{where} ({name})"
        _check_columns(kwargs, table, where)
        _build_expectation(name, kwargs, where)  # fails early on unknown names and bad kwargs
    return Entry(name, kwargs, severity, why.strip(), is_check="check" in raw)


def _check_columns(kwargs: Mapping[str, Any], table: Table, where: str) -> None:
    """Every column a kwarg names must be declared in the catalog."""
    named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    for key in _COLUMN_LIST_KWARGS:
        if key in kwargs:
            if not isinstance(kwargs[key], list):
                raise ValidationError(f"{where}: `{key}` must be a list of columns")
            named += kwargs[key]
    unknown = [c for c in named if c not in table.column_names]
    if unknown:
        raise ValidationError(f"{where}: column(s) {unknown} not in {table.name} (see shoprec/catalog.py)")


def _expectation_class(name: str, where: str) -> type[Expectation]:
    """The GE 1.x expectation class called `name`."""
    import great_expectations.expectations as gxe

    cls = getattr(gxe, name, None)
    if not (isinstance(cls, type) and issubclass(cls, gxe.Expectation)) or cls is gxe.Expectation:
        raise ValidationError(f"{where}: unknown Great Expectations expectation {name!r}")
    return cls


def _build_expectation(name: str, kwargs: Mapping[str, Any], where: str, **extra: Any) -> Expectation:
    """Instantiate a GE expectation; pydantic's complaints (missing, unknown, mistyped kwargs) become one line."""
    import pydantic.v1

    cls = _expectation_class(name, where)
    try:
        return cls(**kwargs, **extra)
    except (pydantic.v1.ValidationError, ValueError, TypeError) as exc:
        problems = (
            [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, pydantic.v1.ValidationError)
            else [str(exc)]
        )
        raise ValidationError(f"{where}: invalid kwargs: {'; '.join(problems)}") from None


# --- shoprec checks -----------------------------------------------------------------------------


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
            raise ValidationError(f"{where}: unknown kwargs {unknown}; allowed: {list(self.kwargs_allowed)}")
        if self.needs_partition and len(table.partition_by) != 1:
            raise ValidationError(f"{where}: needs a table partitioned by one date column")
        _check_columns(kwargs, table, where)

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
            raise ValidationError(f"{where}: min_ratio and max_ratio must be positive with min <= max")

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
            raise ValidationError(f"{where}: missing kwarg `column`")

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
            raise ValidationError(f"{where}: needs kwarg `column` and a table with an is_current column")

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
    """A SQL query over the rows (`{batch}`) that must return no row; `{day}` and run params are filled in.

    `skip_unless` names a run param; when it is false the check is skipped (e.g. an exclusion the
    run was told not to apply).
    """

    expectation = "UnexpectedRowsExpectation"
    kwargs_allowed = ("query", "skip_unless")

    def check_kwargs(self, kwargs: Mapping[str, Any], table: Table, where: str) -> None:
        """`query` is required and reads `{batch}`."""
        super().check_kwargs(kwargs, table, where)
        if "{batch}" not in str(kwargs.get("query", "")):
            raise ValidationError(f"{where}: needs kwarg `query` selecting from {{batch}}")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """The query with the day and params substituted (dates and numbers only, never user text)."""
        flag = kwargs.get("skip_unless")
        if flag is not None and not ctx.params.get(flag):
            return Resolved(self.expectation, None, f"skipped: run param {flag} is off")
        values = {k: v for k, v in ctx.params.items() if isinstance(v, int | float | date)}
        query = kwargs["query"].format(batch="{batch}", day=ctx.day, **values)
        return Resolved(self.expectation, {"unexpected_rows_query": query})


class DistinctCountAtLeast(Check):
    """At least `param` (a run param, e.g. the users that must be covered) distinct values of `column`."""

    expectation = "ExpectColumnUniqueValueCountToBeBetween"
    kwargs_allowed = ("column", "param")

    def resolve(self, ctx: Context, kwargs: Mapping[str, Any]) -> Resolved:
        """min_value = the run param; missing param fails loudly (the caller must say what to expect)."""
        name = kwargs["param"]
        if name not in ctx.params:
            raise ValidationError(f"{ctx.table.name}: check needs run param {name!r}")
        return Resolved(self.expectation, {"column": kwargs["column"], "min_value": int(ctx.params[name])})


CHECKS: dict[str, Check] = {
    "unexpected_rows": UnexpectedRows(),
    "distinct_count_at_least": DistinctCountAtLeast(),
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


# --- running a suite ----------------------------------------------------------------------------


def validate(
    spark: SparkSession,
    settings: Settings,
    table_name: str,
    day: date | None = None,
    suites_dir: Path = SUITES_DIR,
    *,
    rows: DataFrame | None = None,
    params: Mapping[str, Any] | None = None,
) -> ValidationReport:
    """Validate one partition of a table against its suite and record the results.

    Args:
        spark: A session with the catalog tables registered.
        settings: Where the lake and the GE context (`<home>/gx`) live.
        table_name: `schema.table`, as in the catalog.
        day: The partition to validate; must be None for unpartitioned tables.
        suites_dir: Folder of the suite files.
        rows: Validate these rows as the day's partition instead of reading the table (a staged result
            checked before it is published).
        params: Run parameters some checks need (e.g. how many users must be covered).

    Returns:
        The per-expectation results; `blocking_failed` says whether the gate is closed.
    """
    started = time.perf_counter()
    validated_at = datetime.now(UTC)
    table = catalog.get(table_name)
    df = _partition(spark, table, day) if rows is None else rows
    suite = load_suite(suite_path(table.name, suites_dir))
    ctx = Context(spark, settings, table, day, df, dict(params or {}))
    if rows is None and ctx.declared_quiet():
        note = f"skipped: the source declared no events on {day} (a quiet day; see shoprec.inputs)"
        resolved = [Resolved(entry.name, None, note) for entry in suite.entries]
    else:
        resolved = [_resolve(ctx, entry) for entry in suite.entries]
    run_id = uuid.uuid4().hex
    with engine.active_session(spark):  # GE's query expectations run on the active session
        results, docs = _run_ge(settings, table, day, df, suite.entries, resolved, run_id)
    report = ValidationReport(
        run_id, table.name, day, tuple(results), docs, seconds=time.perf_counter() - started
    )
    record(spark, settings, report, validated_at)
    return report


def _partition(spark: SparkSession, table: Table, day: date | None) -> DataFrame:
    """The rows to validate: the day's partition, or the whole table when unpartitioned."""
    if not table.partition_by:
        if day is not None:
            raise ValidationError(f"{table.name} is not partitioned; validate it without a date")
        return spark.table(table.name)
    if day is None:
        raise ValidationError(f"{table.name} is partitioned by {table.partition_by[0]}; give a date")
    return spark.table(table.name).where(engine.partition_predicate(table, {table.partition_by[0]: day}))


def _resolve(ctx: Context, entry: Entry) -> Resolved:
    """A plain expectation as it is; a check made concrete for this partition."""
    if not entry.is_check:
        return Resolved(entry.name, entry.kwargs)
    return CHECKS[entry.name].resolve(ctx, entry.kwargs)


@contextlib.contextmanager
def _quiet_ge() -> Iterator[None]:
    """Silence GE's loggers (progress, deprecation chatter) for the duration of a run."""
    logger = logging.getLogger("great_expectations")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise GE runs sharing one context folder: they rewrite the same config and Data Docs index."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".shoprec.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_ge(
    settings: Settings,
    table: Table,
    day: date | None,
    df: DataFrame,
    entries: Sequence[Entry],
    resolved: Sequence[Resolved],
    run_id: str,
) -> tuple[list[ExpectationResult], Path | None]:
    """Run the resolved expectations through a GE checkpoint; return results in suite order and the docs index."""
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    runnable = [
        _build_expectation(r.expectation, r.kwargs, f"{table.name}: entry {i}", meta=_meta(i, e))
        for i, (e, r) in enumerate(zip(entries, resolved, strict=True), start=1)
        if r.kwargs is not None
    ]
    home = settings.home.resolve()
    with _quiet_ge(), _locked(home / "gx"):
        context = gx.get_context(mode="file", project_root_dir=home)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch = _batch_definition(context, table)
        suite = context.suites.add_or_update(gx.ExpectationSuite(table.name, expectations=runnable))
        definition = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=table.name, data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=table.name,
                validation_definitions=[definition],
                actions=[gx.checkpoint.UpdateDataDocsAction(name="data_docs")],
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
            )
        )
        outcome = checkpoint.run(
            batch_parameters={"dataframe": df},
            run_id=RunIdentifier(run_name=f"{table.name} {day or 'all'} {run_id[:8]}"),
        )
        docs = _docs_index(context)
    by_index = {
        r.expectation_config.meta["shoprec_entry"]: r
        for validation in outcome.run_results.values()
        for r in validation.results
    }
    results = [
        _result(entry, res, by_index.get(i))
        for i, (entry, res) in enumerate(zip(entries, resolved, strict=True), start=1)
    ]
    return results, docs


def _batch_definition(context: Any, table: Table) -> Any:
    """The table's whole-DataFrame batch definition in the `shoprec` Spark data source, created once."""
    try:
        source = context.data_sources.get("shoprec")
    except KeyError:
        source = context.data_sources.add_spark("shoprec")
    try:
        asset = source.get_asset(table.name)
    except LookupError:
        asset = source.add_dataframe_asset(table.name)
    try:
        return asset.get_batch_definition("partition")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("partition")


def _meta(index: int, entry: Entry) -> dict[str, Any]:
    """Meta stored with the GE expectation: maps results back to entries, shows severity in Data Docs."""
    return {"shoprec_entry": index, "severity": entry.severity, "why": entry.why, "check": entry.name}


def _docs_index(context: Any) -> Path | None:
    """Path of the local Data Docs index.html, if the site was built."""
    for site in context.get_docs_sites_urls():
        url = site.get("site_url") or ""
        if url.startswith("file://"):
            return Path(url.removeprefix("file://"))
    return None


def _result(entry: Entry, resolved: Resolved, ge_result: Any | None) -> ExpectationResult:
    """One entry's result from GE's, or a success note when the check was skipped."""
    columns = _columns(resolved.kwargs or entry.kwargs)
    check = entry.name if entry.is_check else None
    if ge_result is None:  # skipped: nothing to evaluate on this partition
        return ExpectationResult(
            resolved.expectation, columns, entry.severity, True, None, check=check, note=resolved.note
        )
    result = ge_result.result or {}
    info = ge_result.exception_info or {}
    if info.get("raised_exception"):
        observed = f"error: {info.get('exception_message')}"
    elif "observed_value" in result:
        observed = _text(result["observed_value"])
    elif "unexpected_count" in result:
        observed = f"{result['unexpected_count']} of {result.get('element_count')} rows unexpected"
    else:
        observed = None
    return ExpectationResult(
        resolved.expectation,
        columns,
        entry.severity,
        bool(ge_result.success),
        observed,
        _samples(result) if not ge_result.success else (),
        check=check,
        note=resolved.note,
    )


def _columns(kwargs: Mapping[str, Any]) -> tuple[str, ...]:
    """The columns an expectation's kwargs name, in kwarg order."""
    named = [kwargs[k] for k in _COLUMN_KWARGS if k in kwargs]
    for key in _COLUMN_LIST_KWARGS:
        named += kwargs.get(key, [])
    return tuple(named)


def _samples(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """A few distinct unexpected values, JSON-friendly (tuples of pair expectations become lists)."""
    counts = result.get("partial_unexpected_counts")
    values = [c["value"] for c in counts] if counts else list(result.get("partial_unexpected_list") or [])
    distinct: list[Any] = []
    for value in values:
        value = json.loads(_to_json(value))
        if value not in distinct:
            distinct.append(value)
    return tuple(distinct[:_SAMPLE_SIZE])


def _to_json(value: Any) -> str:
    """JSON text of a value; dates and other objects as their str()."""
    return json.dumps(value, default=str)


def _text(value: Any) -> str:
    """A value as bounded text."""
    text = value if isinstance(value, str) else _to_json(value)
    return text[:_MAX_TEXT]


# --- recording ----------------------------------------------------------------------------------


def record(spark: SparkSession, settings: Settings, report: ValidationReport, validated_at: datetime) -> None:
    """Append one row per expectation to ops.validation_results (one Delta commit)."""
    table = catalog.get("ops.validation_results")
    rows = [
        (
            report.run_id,
            report.table,
            report.partition.isoformat() if report.partition else None,
            r.label,
            ",".join(r.columns) or None,
            r.severity,
            r.success,
            _text(" ".join(p for p in (r.observed or "", r.note) if p)) or None,
            _text(list(r.sample_bad_values)) if r.sample_bad_values else None,
            # Naive local time: how the PySpark client reads datetimes (see day_bounds).
            validated_at.astimezone().replace(tzinfo=None),
        )
        for r in report.results
    ]
    engine.append(spark.createDataFrame(rows, engine.spark_schema(table)), table, settings)
