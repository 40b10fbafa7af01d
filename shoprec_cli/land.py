"""`shoprec land`: public log files (any layout, any size) -> landing day folders that ingest reads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from shoprec.vocabulary import EventType
from shoprec_cli.common import UserFacingError, echo_progress, settings


def land(
    paths: Annotated[
        list[Path], typer.Argument(help="Source files (.gz text files too), landed in the order given.")
    ],
    source_format: Annotated[
        Literal["behavior-log", "jsonl", "parquet", "csv"] | None,
        typer.Option(
            "--format",
            help="Source layout; from the suffix when omitted (text files: behaviour log if the first line "
            "looks like one, else CSV with a header).",
        ),
    ] = None,
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            help="FIELD=COLUMN,… : which source column feeds each shoprec field (event_id, user_id, item_id, "
            "event_type, event_ts, session_id, price, category_id, quantity); unmapped fields use a column "
            "of their own name.",
        ),
    ] = None,
    event_types: Annotated[
        list[str] | None,
        typer.Option(
            "--event-types",
            help="TYPE=SOURCE,… : source values of each event type (repeat a type for several); values "
            "already equal to a type pass, others are rejected unknown_event_type.",
        ),
    ] = None,
    timestamp_unit: Annotated[
        Literal["s", "ms"], typer.Option(help="Unit of epoch-number timestamps.")
    ] = "s",
    timestamp_format: Annotated[
        str | None,
        typer.Option(help="strptime format of text timestamps (default: epoch numbers or ISO-8601)."),
    ] = None,
    year: Annotated[
        int | None,
        typer.Option(
            min=1, max=9999, help="Year of timestamps whose --timestamp-format has none (e.g. %m-%d)."
        ),
    ] = None,
    event_type: Annotated[
        EventType | None,
        typer.Option("--event-type", help="One event type for every row (sources without a type column)."),
    ] = None,
) -> None:
    """Stream log files into landing/events/date=D/, one folder per UTC day of each event.

    Landing a file again replaces what it landed. Lines that cannot be read are carried for ingest to reject.

    Days without events inside the range get markers, so ingest records them as empty days.
    """
    from jobs import land as job
    from jobs import land_options

    if year is not None and not timestamp_format:
        raise typer.BadParameter("--year fills in the year of a --timestamp-format", param_hint="--year")
    if year is not None and timestamp_format and ("%Y" in timestamp_format or "%y" in timestamp_format):
        raise typer.BadParameter("--timestamp-format already has a year", param_hint="--year")
    try:
        column_map = land_options.column_mapping(columns or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--columns") from None
    try:
        type_map = land_options.event_type_mapping(event_types or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--event-types") from None
    options = land_options.LandOptions(
        source_format=source_format,
        columns=column_map,
        event_types=type_map,
        timestamp_unit=timestamp_unit,
        timestamp_format=timestamp_format,
        year=year,
        event_type=event_type,
    )
    cfg = settings()
    try:
        result = job.land(paths, cfg.landing, options, progress=echo_progress)
    except (land_options.LandError, OSError) as exc:
        raise UserFacingError(str(exc)) from exc
    for line in result.summary_lines():
        echo_progress(line)
    first, last = result.ranges[0][0], result.ranges[-1][1]
    typer.echo(
        f"landed {result.landed:,} events + {result.carried:,} carried rejects from {len(result.sources)} "
        f"file(s) into {len(result.days):,} day(s) {first}..{last} under {cfg.landing / 'events'}"
    )
