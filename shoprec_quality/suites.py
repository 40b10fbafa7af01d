"""Suite files: `<suites>/<table>.yaml` parsed and checked against GE and the catalog.

A suite file lists entries of two kinds, each with `severity: blocking|warning` and a `why:` note:

- `expectation: <GE 1.x class name>` with `kwargs:` passed to the class as they are;
- `check: <shoprec check>` with optional `kwargs:`, turned into an ordinary GE expectation at run
  time because its bounds depend on the data or the day (see `shoprec_quality.checks`).

The suites shipped with shoprec are `expectations/` (`Settings.suites`, `SHOPREC_SUITES_DIR`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from shoprec import catalog
from shoprec.catalog import Table
from shoprec_quality.checks import CHECKS
from shoprec_quality.expectation_kwargs import SuiteError, build_expectation, check_columns, named_columns

Severity = Literal["blocking", "warning"]
SEVERITIES: tuple[Severity, ...] = ("blocking", "warning")


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
        return named_columns(self.kwargs)


@dataclass(frozen=True)
class Suite:
    """The expectations of one table, as loaded from its suite file."""

    table: Table
    path: Path
    entries: tuple[Entry, ...]


def suite_path(table_name: str, suites_dir: Path) -> Path:
    """The suite file of a table: `<suites_dir>/<schema>.<table>.yaml`."""
    return suites_dir / f"{table_name}.yaml"


def load_suite(path: Path) -> Suite:
    """Load and check a suite file against GE and the catalog.

    Raises:
        SuiteError: naming the file and the entry for an unknown expectation or check, a missing
            or invalid kwarg, a column the table does not declare, or a bad severity.
    """
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SuiteError(f"no suite file {path}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise SuiteError(f"{path}: expected a mapping with `table:` and a list `expectations:`")
    try:
        table = catalog.get(str(document.get("table")))
    except catalog.CatalogError as exc:
        raise SuiteError(f"{path}: {exc}") from None
    if path.name != f"{table.name}.yaml":
        raise SuiteError(f"{path}: holds the suite of {table.name}, so it must be named {table.name}.yaml")
    entries = tuple(
        _entry(raw, table, f"{path}: entry {number}")
        for number, raw in enumerate(document["expectations"], start=1)
    )
    if not entries:
        raise SuiteError(f"{path}: the suite has no expectations")
    return Suite(table, path, entries)


def _entry(raw: object, table: Table, where: str) -> Entry:
    """Parse one suite entry; `where` prefixes every error ("<file>: entry 3")."""
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: expected a mapping, got {raw!r}")
    unknown = sorted(set(raw) - {"expectation", "check", "kwargs", "severity", "why"})
    if unknown:
        raise SuiteError(f"{where}: unknown keys {unknown}")
    if ("expectation" in raw) == ("check" in raw):
        raise SuiteError(f"{where}: give exactly one of `expectation:` or `check:`")
    kwargs = raw.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise SuiteError(f"{where}: `kwargs:` must be a mapping")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise SuiteError(f"{where}: severity must be one of {list(SEVERITIES)}, got {severity!r}")
    why = raw.get("why")
    if not isinstance(why, str) or not why.strip():
        raise SuiteError(f"{where}: a `why:` note is required")
    if "check" in raw:
        name = str(raw["check"])
        where = f"{where} ({name})"
        if name not in CHECKS:
            raise SuiteError(f"{where}: unknown check; known checks: {', '.join(sorted(CHECKS))}")
        CHECKS[name].check_kwargs(kwargs, table, where)
    else:
        name = str(raw["expectation"])
        where = f"{where} ({name})"
        check_columns(kwargs, table, where)
        build_expectation(name, kwargs, where)  # fails early on unknown names and bad kwargs
    return Entry(name, kwargs, severity, why.strip(), is_check="check" in raw)
