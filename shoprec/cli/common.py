"""What every CLI command shares: settings, parsing of dates, turning known failures into one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from pydantic import ValidationError

from shoprec.config import Settings

SKIPPED_EXIT_CODE = 99
"""Exit code of a command that had nothing to do (Airflow marks the task skipped)."""


class UserFacingError(Exception):
    """A failure to report as one line, without a traceback."""


def settings() -> Settings:
    """Read the settings once per command; invalid settings become a one-line error."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "settings"
        raise UserFacingError(f"invalid setting SHOPREC_{field.upper()}: {first['msg']}") from exc


def parse_date(value: str, option: str) -> date:
    """Parse a YYYY-MM-DD option value."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-01-31", param_hint=option) from None


def date_range(day: str | None, start: str | None, end: str | None) -> tuple[date, date]:
    """Resolve `--date D` or `--start D [--end D]` into (first, last) days, refusing other mixes."""
    if (day is None) == (start is None):
        raise typer.BadParameter("give either --date or --start (with --end)", param_hint="--date/--start")
    if day is not None and end is not None:
        raise typer.BadParameter("--end goes with --start, not with --date", param_hint="--end")
    first = parse_date(day, "--date") if day is not None else parse_date(start, "--start")  # type: ignore[arg-type]
    last = parse_date(end, "--end") if end else first
    if last < first:
        raise typer.BadParameter(f"--end {last} is before --start {first}", param_hint="--end")
    return first, last


DateOption = Annotated[str | None, typer.Option("--date", help="The UTC day to process (YYYY-MM-DD).")]
StartOption = Annotated[str | None, typer.Option(help="First day of a range (with --end).")]
EndOption = Annotated[str | None, typer.Option(help="Last day of a range, included.")]


@contextmanager
def reported(*errors: type[BaseException]) -> Iterator[None]:
    """Turn the given exception types (plus engine and catalog errors) into one-line user errors."""
    from pyspark.errors import PySparkException

    from shoprec.catalog import CatalogError
    from shoprec.spark import EngineError

    try:
        yield
    except (EngineError, CatalogError, PySparkException, *errors) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserFacingError(message) from exc


def echo_progress(line: str) -> None:
    """Progress goes to stderr so stdout stays clean for results."""
    typer.echo(line, err=True)
