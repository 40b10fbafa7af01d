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
    ["land"],
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
    ["backtest"],
    ["validate"],
    ["sql"],
    ["lake"],
    ["lake", "serve"],
    ["lake", "tables"],
    ["lake", "ddl"],
    ["metastore"],
    ["metastore", "up"],
    ["metastore", "down"],
    ["metastore", "status"],
    ["metastore", "install"],
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
    assert csv[0] == "event_type,n"
    assert len(csv) == 6
    table = shoprec("sql", query, env=ingested).stdout
    assert "purchase" in table
    assert "event_type" in table

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
        (["sql", "SELECT 1 / 0 AS x"], 1, "error: shoprec sql: "),
        (["demo-data", "--scale", "huge"], 1, "error: "),
        (
            ["clean", "--start", "2026-01-01", "--end", "2026-01-02"],
            1,
            "error: raw.events has no rows for 2026-01-01 .. 2026-01-02 (2 days): "
            "run shoprec ingest --start 2026-01-01 --end 2026-01-02",
        ),
        (
            ["features", "--date", "2026-01-03"],
            1,
            "error: clean.events has no rows for 2026-01-03: run shoprec clean --date 2026-01-03",
        ),
    ],
)
def test_failures_exit_nonzero_with_one_line(
    args: list[str], code: int, message: str, env: dict[str, str]
) -> None:
    result = shoprec(*args, env=env, check=False)
    assert result.returncode == code
    assert message in result.stderr
    if code == 1:  # progress lines may precede it; the failure itself is one line, the last
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: "), result.stderr
        assert sum(line.startswith("error: ") for line in lines) == 1, result.stderr
        assert "Traceback" not in result.stderr


def test_debug_prints_the_traceback_before_the_error_line(env: dict[str, str]) -> None:
    result = shoprec("--debug", "features", "--date", "2026-01-03", env=env, check=False)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: clean.events has no rows for 2026-01-03")
    from_env = shoprec("features", "--date", "2026-01-03", env={**env, "SHOPREC_DEBUG": "1"}, check=False)
    assert "Traceback (most recent call last)" in from_env.stderr


def test_sql_says_when_it_cuts_a_result(ingested: dict[str, str]) -> None:
    cut = shoprec("sql", "SELECT event_id FROM raw.events", "--limit", "5", "--format", "csv", env=ingested)
    assert len(cut.stdout.splitlines()) == 1 + 5
    assert "result cut at 5 rows" in cut.stderr
    total = json.loads(
        shoprec("sql", "SELECT count(*) AS n FROM raw.events", "--format", "json", env=ingested).stdout
    )["n"]
    whole = shoprec("sql", "SELECT event_id FROM raw.events", "--limit", "0", "--format", "csv", env=ingested)
    assert len(whole.stdout.splitlines()) == 1 + total
    assert "cut" not in whole.stderr
    exact = shoprec("sql", "SELECT event_id FROM raw.events", "--limit", str(total), env=ingested)
    assert "cut" not in exact.stderr


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
