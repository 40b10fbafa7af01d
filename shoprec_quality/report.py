"""What a validation found: one result per suite entry, and the report of one table partition."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from shoprec_quality.suites import Severity

# A GE result as it appears in the CLI and in ops.validation_results is capped to this many characters.
_MAX_TEXT = 500


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
            details.append(f"bad values {to_json(list(self.sample_bad_values))}")
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


def to_json(value: Any) -> str:
    """JSON text of a value; dates and other objects as their str()."""
    return json.dumps(value, default=str)


def bounded_text(value: Any) -> str:
    """A value as bounded text."""
    text = value if isinstance(value, str) else to_json(value)
    return text[:_MAX_TEXT]
