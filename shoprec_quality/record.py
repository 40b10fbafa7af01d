"""Recording validations: one row per expectation in ops.validation_results."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec_quality.report import ValidationReport, bounded_text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


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
            bounded_text(" ".join(p for p in (r.observed or "", r.note) if p)) or None,
            bounded_text(list(r.sample_bad_values)) if r.sample_bad_values else None,
            # Naive local time: how the PySpark client reads datetimes (see day_bounds).
            validated_at.astimezone().replace(tzinfo=None),
        )
        for r in report.results
    ]
    engine.append(spark.createDataFrame(rows, engine.spark_schema(table)), table, settings)
