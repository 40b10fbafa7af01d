"""What every CLI command shares: settings, parsing of dates, turning known failures into one line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated

import typer
from pydantic import ValidationError

from shoprec.config import Settings


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
    """Turn the given exception types (plus engine and catalog errors) into one-line user errors.

    Engine failures name the command they happened in (`shoprec features: features.item_daily:
    division by zero`); the table is named by the engine module where the failing write or step is known.
    """
    from pyspark.errors import PySparkException

    from shoprec.catalog import CatalogError
    from shoprec.engine_errors import EngineError, first_line

    try:
        yield
    except (EngineError, PySparkException) as exc:
        raise UserFacingError(f"{_command()}: {first_line(exc)}") from exc
    except (CatalogError, *errors) as exc:
        raise UserFacingError(first_line(exc)) from exc


_running = ["shoprec"]


def set_running(command: str) -> None:
    """Remember which command this process runs (the root callback calls it), for error messages."""
    _running[0] = f"shoprec {command}"


def _command() -> str:
    """The running command, e.g. `shoprec features`."""
    return _running[0]


def echo_progress(line: str) -> None:
    """Progress goes to stderr so stdout stays clean for results."""
    typer.echo(line, err=True)
