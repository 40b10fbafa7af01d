"""The `shoprec` console script, run as a user would: real processes, real Sail, real Delta."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
COMMANDS = [
    [],
    ["demo-data"],
    ["ingest"],
    ["clean"],
    ["features"],
    ["examples"],
    ["train"],
    ["models"],
    ["models", "list"],
    ["models", "show"],
    ["recommend"],
    ["evaluate"],
    ["validate"],
    ["sql"],
    ["lake"],
    ["lake", "serve"],
    ["lake", "tables"],
    ["lake", "ddl"],
    ["airflow"],
    ["airflow", "up"],
    ["airflow", "down"],
    ["airflow", "status"],
    ["airflow", "run"],
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_")}
    return {**clean, "SHOPREC_HOME": str(tmp_path / "home")}


def shoprec(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SHOPREC, *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(command: list[str], env: dict[str, str]) -> None:
    assert "Usage:" in shoprec(*command, "--help", env=env).stdout


@pytest.fixture
def ingested(env: dict[str, str]) -> dict[str, str]:
    shoprec(
        "demo-data",
        "--scale",
        "tiny",
        "--start",
        "2026-01-01",
        "--days",
        "2",
        "--corrupt-rate",
        "0.01",
        env=env,
    )
    result = shoprec("ingest", "--start", "2026-01-01", "--end", "2026-01-02", env=env)
    assert re.search(
        r"ingested 2026-01-01\.\.2026-01-02: read [\d,]+ = accepted [\d,]+ \+ rejected [\d,]+", result.stdout
    )
    assert "2026-01-02: read" in result.stderr  # per-day progress
    return env


def test_demo_ingest_and_query(ingested: dict[str, str]) -> None:
    query = "SELECT event_type, count(*) AS n FROM raw.events GROUP BY 1 ORDER BY 1"
    rows = [
        json.loads(line)
        for line in shoprec("sql", query, "--format", "json", env=ingested).stdout.splitlines()
    ]
    assert {r["event_type"] for r in rows} == {"view", "click", "cart", "fav", "purchase"}
    csv = shoprec("sql", query, "--format", "csv", env=ingested).stdout.splitlines()
    assert csv[0] == "event_type,n" and len(csv) == 6
    table = shoprec("sql", query, env=ingested).stdout
    assert "purchase" in table and "event_type" in table

    tables = shoprec("lake", "tables", env=ingested).stdout
    events_line = next(line for line in tables.splitlines() if line.startswith("raw.events "))
    total = sum(r["n"] for r in rows)
    assert f"{total:,}" in events_line


def test_sql_through_a_served_lake(ingested: dict[str, str]) -> None:
    server = subprocess.Popen(
        [SHOPREC, "lake", "serve", "--port", "0"],
        env=ingested,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = server.stdout.readline()
        match = re.match(r"serving the shoprec lake at (sc://127\.0\.0\.1:\d+)", first)
        assert match, first + server.stderr.read()
        remote = {**ingested, "SHOPREC_SPARK_REMOTE": match.group(1)}
        served = shoprec("sql", "SELECT count(*) AS n FROM raw.events", "--format", "json", env=remote).stdout
        embedded = shoprec(
            "sql", "SELECT count(*) AS n FROM raw.events", "--format", "json", env=ingested
        ).stdout
        assert json.loads(served)["n"] == json.loads(embedded)["n"] > 0
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["ingest"], 2, "give either --date or --start"),
        (["ingest", "--date", "2026-02-30"], 2, "'2026-02-30' is not a date like 2026-01-31"),
        (
            ["ingest", "--start", "2026-01-02", "--end", "2026-01-01"],
            2,
            "--end 2026-01-01 is before --start 2026-01-02",
        ),
        (["ingest", "--date", "2026-01-01"], 1, "error: no event files for 2026-01-01 in "),
        (["sql", "SELECT * FROM raw.nope"], 1, "error: "),
        (["demo-data", "--scale", "huge"], 1, "error: "),
    ],
)
def test_failures_exit_nonzero_with_one_line(
    args: list[str], code: int, message: str, env: dict[str, str]
) -> None:
    result = shoprec(*args, env=env, check=False)
    assert result.returncode == code
    assert message in result.stderr
    if code == 1:
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_bad_setting_is_one_line(env: dict[str, str]) -> None:
    result = shoprec("lake", "tables", env={**env, "SHOPREC_SPARK_REMOTE": "localhost:1"}, check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("error: invalid setting SHOPREC_SPARK_REMOTE: ")


def test_behavior_log_demo_round_trip(env: dict[str, str]) -> None:
    shoprec("demo-data", "--days", "1", "--format", "behavior-log", env=env)
    shoprec("ingest", "--date", "2026-01-01", env=env)
    query = "SELECT DISTINCT source_format FROM raw.events"
    assert shoprec("sql", query, "--format", "csv", env=env).stdout.splitlines() == [
        "source_format",
        "behavior-log",
    ]


def test_clean_and_features_commands(ingested: dict[str, str]) -> None:
    assert (
        "clean 2026-01-01..2026-01-02:"
        in shoprec("clean", "--start", "2026-01-01", "--end", "2026-01-02", env=ingested).stdout
    )
    built = shoprec("features", "--date", "2026-01-02", env=ingested).stdout
    assert re.match(
        r"features 2026-01-02\.\.2026-01-02: features\.user_daily [\d,]+, features\.item_daily [\d,]+",
        built,
    )
    query = "SELECT count(*) AS n FROM features.user_daily WHERE as_of_date = '2026-01-02'"
    assert json.loads(shoprec("sql", query, "--format", "json", env=ingested).stdout)["n"] > 0
