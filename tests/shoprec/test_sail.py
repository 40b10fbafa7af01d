"""The embedded Sail server's session lifetime: the knob shoprec's default relies on is Sail's own."""

from __future__ import annotations

import time

import pytest
from pyspark.sql import SparkSession

from shoprec import sail


def _idle_query(server_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, idle_seconds: float) -> int:
    for key, value in server_env.items():
        monkeypatch.setenv(key, value)
    server = sail.start_sail()
    host, port = server.listening_address
    spark = SparkSession.builder.remote(f"sc://{host}:{port}").create()
    try:
        spark.range(3).count()
        time.sleep(idle_seconds)
        return spark.range(3).count()
    finally:
        # pyspark-connect keeps the first session it opens as the process's active one, and some calls
        # (F.lit of a timestamp) ask it for settings: left open on a stopped server, it stalls later tests
        spark.stop()
        server.stop()


def test_shoprec_keeps_idle_sessions_longer_than_sails_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # Sail's own default drops a session idle for 900 s; shoprec's default keeps it for days
    assert int(sail.SERVER_DEFAULTS["SAIL_SPARK__SESSION_TIMEOUT_SECS"]) > 900
    assert _idle_query({}, monkeypatch, idle_seconds=3) == 3


def test_an_explicit_session_timeout_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Exception, match="is not running"):
        _idle_query({"SAIL_SPARK__SESSION_TIMEOUT_SECS": "1"}, monkeypatch, idle_seconds=6)
