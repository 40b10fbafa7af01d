"""Plain PySpark clients in any time zone see every table through `shoprec lake serve`, with no DDL.

Three zones, and a client that sets none: each finds, describes and queries every table, and
reads the same instants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from deltalake import DeltaTable

from shoprec import catalog
from tests.analysts.conftest import (
    FIRST_FEATURE_DAY,
    LATER_FEATURE_DAY,
    ZONES,
    ServedLake,
    run_plain_client,
)
from tests.conftest import FEATURES_AS_OF

CLIENTS = (*ZONES, None)  # None: the process in this machine's zone, the session in the server's default


@pytest.fixture(scope="module")
def explored(served_lake: ServedLake) -> dict[str | None, dict[str, Any]]:
    """What each plain client saw, by the time zone it lived in."""
    return {zone: run_plain_client(served_lake.url, zone) for zone in CLIENTS}


def test_the_clients_really_lived_in_their_zones(explored: dict[str | None, dict[str, Any]]) -> None:
    for zone in ZONES:
        assert explored[zone]["session_time_zone"] == zone
    assert {explored[zone]["process_time_zone"] for zone in ZONES} == {"UTC", "CST", "PST"}


@pytest.mark.parametrize("zone", CLIENTS)
def test_every_table_is_listed_by_name(explored: dict[str | None, dict[str, Any]], zone: str | None) -> None:
    seen = explored[zone]
    assert set(catalog.schemas()) <= set(seen["schemas"])
    assert set(catalog.TABLES) <= set(seen["tables"])


@pytest.mark.parametrize("zone", CLIENTS)
def test_every_column_comes_with_its_comment(
    explored: dict[str | None, dict[str, Any]], zone: str | None, served_lake: ServedLake
) -> None:
    for name, table in catalog.TABLES.items():
        described = explored[zone]["comments"][name]
        assert described["columns"] == {c.name: c.comment for c in table.columns}, name
        assert described["comment"] == table.description
        assert described["location"].removeprefix("file:").rstrip("/") == str(
            table.location(served_lake.settings.lake)
        )


def test_the_same_instants_in_every_zone(
    explored: dict[str | None, dict[str, Any]], served_lake: ServedLake
) -> None:
    truth = (
        DeltaTable(str(catalog.TABLES["raw.events"].location(served_lake.settings.lake)))
        .to_pyarrow_table(columns=["event_id", "event_ts"])
        .sort_by("event_id")
        .slice(0, 20)
        .to_pylist()
    )
    expected = [
        {
            "event_id": row["event_id"],
            "micros": _micros(row["event_ts"]),
            "utc": row["event_ts"].astimezone(UTC).isoformat(),
        }
        for row in truth
    ]
    assert len(expected) == 20
    for zone in CLIENTS:
        assert explored[zone]["instants"] == expected, zone


def test_every_documented_query_answers_the_same_in_every_zone(
    explored: dict[str | None, dict[str, Any]],
) -> None:
    answers = explored["UTC"]["queries"]
    for name, rows in answers.items():
        if name != "buyers_going_quiet":  # a tiny shop may have no such buyer on the day
            assert rows, f"{name} returned no rows"
    for zone in CLIENTS:
        assert explored[zone]["queries"] == answers, zone


def test_a_table_reads_as_of_an_earlier_version(
    explored: dict[str | None, dict[str, Any]], served_lake: ServedLake
) -> None:
    location = str(catalog.TABLES["features.user_daily"].location(served_lake.settings.lake))
    earlier = DeltaTable(location, version=1).to_pyarrow_table(columns=["as_of_date"])
    expected = {}
    for day in earlier.column("as_of_date").to_pylist():
        expected[str(day)] = expected.get(str(day), 0) + 1
    assert min(expected) == FIRST_FEATURE_DAY.isoformat()
    assert max(expected) == FEATURES_AS_OF.isoformat()
    assert LATER_FEATURE_DAY.isoformat() in {
        str(d)
        for d in DeltaTable(location)
        .to_pyarrow_table(columns=["as_of_date"])
        .column("as_of_date")
        .to_pylist()
    }
    for zone in CLIENTS:
        assert explored[zone]["user_daily_as_of_version"] == expected, zone


def _micros(instant: datetime) -> int:
    delta = instant - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
