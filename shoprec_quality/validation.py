"""Running a table's suite on one partition with Great Expectations, and recording the results.

A run reads one partition through Spark (`spark.table(name).where(<partition predicate>)`, the whole
table when it is not partitioned), validates it with GE's Spark data source on the Spark Connect
DataFrame in a File Data Context under `SHOPREC_HOME/gx` (which also builds the Data Docs), and
appends one row per expectation to `ops.validation_results` (`shoprec_quality.record`).

GE is imported inside functions only: importing it takes seconds, and the CLI imports this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoprec import catalog, engine
from shoprec.catalog import Table
from shoprec.config import Settings
from shoprec_quality.checks import CHECKS, Context, Resolved
from shoprec_quality.expectation_kwargs import SuiteError, build_expectation, named_columns
from shoprec_quality.record import record
from shoprec_quality.report import ExpectationResult, ValidationReport, bounded_text, to_json
from shoprec_quality.suites import Entry, load_suite, suite_path

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

_SAMPLE_SIZE = 5


def validate(
    spark: SparkSession,
    settings: Settings,
    table_name: str,
    day: date | None = None,
    suites_dir: Path | None = None,
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
        suites_dir: Folder of the suite files; default `settings.suites`.
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
    suite = load_suite(suite_path(table.name, suites_dir or settings.suites))
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
            raise SuiteError(f"{table.name} is not partitioned; validate it without a date")
        return spark.table(table.name)
    if day is None:
        raise SuiteError(f"{table.name} is partitioned by {table.partition_by[0]}; give a date")
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
        build_expectation(r.expectation, r.kwargs, f"{table.name}: entry {i}", meta=_meta(i, e))
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
    columns = named_columns(resolved.kwargs or {}) or named_columns(entry.kwargs)
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
        observed = bounded_text(result["observed_value"])
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


def _samples(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """A few distinct unexpected values, JSON-friendly (tuples of pair expectations become lists)."""
    counts = result.get("partial_unexpected_counts")
    values = [c["value"] for c in counts] if counts else list(result.get("partial_unexpected_list") or [])
    distinct: list[Any] = []
    for value in values:
        value = json.loads(to_json(value))
        if value not in distinct:
            distinct.append(value)
    return tuple(distinct[:_SAMPLE_SIZE])
