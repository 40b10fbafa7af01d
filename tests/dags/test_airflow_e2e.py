"""End to end through a real local Airflow: `shoprec airflow up`, REST API, scheduler, UI in Chromium.

One Airflow serves the whole module; the tests run in file order: a successful run of a tiny shop,
its logs, tables and UI, then a run whose input validation fails at the gate.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
from deltalake import DeltaTable

from shoprec.config import Settings
from shoprec_airflow.local_airflow import LocalAirflow
from tests.artifacts import ARTIFACTS_DIR, report_artifact

pytestmark = pytest.mark.slow

SHOPREC = str(Path(sys.executable).with_name("shoprec"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DAG = "shoprec_daily"
GOOD_DAY, BAD_DAY = "2026-01-13", "2026-01-14"
TINY_PARAMS = {"train_days": 6, "batch_size": 256, "embedding_dim": 16, "epochs": 3}
RUN_TIMEOUT_S = 900


@dataclass
class Stack:
    """A started local Airflow and what the tests need to talk to it."""

    env: dict[str, str]
    settings: Settings
    airflow: LocalAirflow
    up_output: str
    password: str

    @property
    def url(self) -> str:
        return self.airflow.url

    def client(self) -> httpx.Client:
        """An API client logged in through `POST /auth/token`."""
        token = httpx.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": self.password}, timeout=30
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return httpx.Client(base_url=f"{self.url}/api/v2", headers=headers, timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _shoprec(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SHOPREC, *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("airflow-e2e") / "home"
    env = {**os.environ, "SHOPREC_HOME": str(home), "SHOPREC_AIRFLOW_PORT": str(_free_port())}
    env.pop("AIRFLOW_HOME", None)
    env.pop("AIRFLOW_CONFIG", None)
    demo = _shoprec(env, "demo-data", "--scale", "tiny", "--start", "2026-01-01", "--days", "14")
    assert demo.returncode == 0, demo.stderr
    settings = Settings(home=home, airflow_port=int(env["SHOPREC_AIRFLOW_PORT"]))
    up = _shoprec(env, "airflow", "up")
    try:
        assert up.returncode == 0, up.stderr
        airflow = LocalAirflow(settings)
        yield Stack(env, settings, airflow, up.stdout, airflow.password())
    finally:
        down = _shoprec(env, "airflow", "down")
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client


def _wait_for_dag(api: httpx.Client) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if api.get(f"/dags/{DAG}").status_code == 200:
            return
        time.sleep(2)
    raise AssertionError(f"{DAG} was not parsed within 180 s")


def _trigger_and_wait(api: httpx.Client, run_id: str, day: str, conf: dict) -> tuple[str, float]:
    started = time.monotonic()
    created = api.post(
        f"/dags/{DAG}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": f"{day}T00:00:00Z", "conf": conf},
    )
    assert created.status_code == 200, created.text
    deadline = started + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        state = api.get(f"/dags/{DAG}/dagRuns/{run_id}").json()["state"]
        if state in ("success", "failed"):
            return state, time.monotonic() - started
        time.sleep(3)
    raise AssertionError(f"run {run_id} did not finish within {RUN_TIMEOUT_S} s")


def _task_states(api: httpx.Client, run_id: str) -> dict[str, str]:
    instances = api.get(f"/dags/{DAG}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in instances}


def _task_log(api: httpx.Client, run_id: str, task_id: str, try_number: int = 1) -> str:
    response = api.get(
        f"/dags/{DAG}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return "\n".join(str(entry.get("event", "")) for entry in response.json()["content"])


def _published_run_dates(settings: Settings) -> set[str]:
    table = DeltaTable(str(settings.lake / "reco" / "user_recommendations"))
    return {
        str(d) for d in table.to_pyarrow_table(columns=["run_date"]).column("run_date").unique().to_pylist()
    }


def _listening_addresses(airflow: LocalAirflow) -> set[str]:
    addresses = set()
    for component in airflow.status():
        root = psutil.Process(component.pid)
        for process in [root, *root.children(recursive=True)]:
            for connection in process.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN:
                    addresses.add(connection.laddr.ip)
    return addresses


def test_up_prints_a_generated_password_once_and_keeps_it_private(stack: Stack) -> None:
    assert f"generated password for admin (shown once): {stack.password}" in stack.up_output
    assert stack.password != "admin"
    assert len(stack.password) >= 16
    mode = stat.S_IMODE(stack.airflow.passwords_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(stack.airflow.config_file.stat().st_mode) == 0o600
    again = _shoprec(stack.env, "airflow", "up")
    assert again.returncode == 0, again.stderr
    assert "already running" in again.stderr
    assert stack.password not in again.stdout


def test_everything_listens_on_loopback_only(stack: Stack) -> None:
    assert all(c.running for c in stack.airflow.status())
    assert _listening_addresses(stack.airflow) == {"127.0.0.1"}


def test_unauthenticated_api_calls_get_401(stack: Stack) -> None:
    for path in ("/api/v2/dags", f"/api/v2/dags/{DAG}/dagRuns", "/api/v2/config"):
        assert httpx.get(f"{stack.url}{path}", timeout=30).status_code == 401
    wrong = httpx.post(f"{stack.url}/auth/token", json={"username": "admin", "password": "admin"}, timeout=30)
    assert wrong.status_code == 401


def test_triggered_run_succeeds_and_publishes(stack: Stack, api: httpx.Client) -> None:
    idle = sum(c.rss_bytes for c in stack.airflow.status())
    _wait_for_dag(api)
    assert api.patch(f"/dags/{DAG}", json={"is_paused": False}).status_code == 200
    state, seconds = _trigger_and_wait(
        api, "e2e_good", GOOD_DAY, {"rebuild_from": "2026-01-01", **TINY_PARAMS}
    )
    states = _task_states(api, "e2e_good")
    assert state == "success", states
    assert states["evaluate_previous_day"] == "skipped"  # no recommendations for the day before yet
    assert states["train"] == "success"
    assert states["reuse_champion"] == "skipped"  # no champion yet
    assert GOOD_DAY in _published_run_dates(stack.settings)
    report_artifact(
        "airflow-e2e.json",
        json.dumps({"run_seconds": round(seconds, 1), "airflow_idle_rss_mib": round(idle / 2**20)}),
    )


def test_task_logs_are_readable_through_the_api(api: httpx.Client) -> None:
    log = _task_log(api, "e2e_good", "recommend")
    assert f"running: shoprec recommend --date {GOOD_DAY} --k 20" in log
    assert f"recommendations {GOOD_DAY} (model v1)" in log


def test_ui_grid_shows_the_successful_run(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    screenshot = ARTIFACTS_DIR / "airflow-grid-success.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{stack.url}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(stack.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/auth/" not in url, timeout=60_000)
            page.goto(f"{stack.url}/dags/{DAG}")
            expect(page.get_by_text("recommend", exact=True)).to_be_visible(timeout=60_000)
            expect(page.get_by_label("success").first).to_be_visible(timeout=60_000)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    report_artifact(screenshot.name)


def test_failing_validation_stops_at_the_gate_and_publishes_nothing(stack: Stack, api: httpx.Client) -> None:
    # The day's export arrives empty: ingest, clean and features succeed, the input suites must not.
    for export in (stack.settings.landing / "events" / f"date={BAD_DAY}").iterdir():
        export.write_text("")
    state, _ = _trigger_and_wait(api, "e2e_bad", BAD_DAY, TINY_PARAMS)
    states = _task_states(api, "e2e_bad")
    assert state == "failed", states
    assert states["features"] == "success"
    assert states["validate_inputs"] == "failed"
    assert {states[t] for t in ("examples", "train", "recommend")} == {"upstream_failed"}
    log = _task_log(api, "e2e_bad", "validate_inputs")
    assert f"validation failed for raw.events {BAD_DAY}" in log
    assert "partition_not_empty" in log
    assert BAD_DAY not in _published_run_dates(stack.settings)
    assert GOOD_DAY in _published_run_dates(stack.settings)
