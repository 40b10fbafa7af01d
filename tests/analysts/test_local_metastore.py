"""The local Hive Metastore: one command away, on 127.0.0.1 only, stopping only what it started."""

from __future__ import annotations

import os
import re
from pathlib import Path

import psutil
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from shoprec.config import Settings
from shoprec.hive_metastore import LocalMetastore, answers
from shoprec_cli.metastore import app
from tests.network import free_port


def test_it_listens_on_loopback_only_and_keeps_no_password(metastore: LocalMetastore) -> None:
    status = metastore.status()
    assert status.running
    assert status.answering
    assert status.pid is not None
    ports = {
        c.laddr.port: c.laddr.ip
        for c in psutil.Process(status.pid).net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN
    }
    assert ports == {metastore.port: ports[metastore.port]}, "the metastore opened other listening ports"
    assert ports[metastore.port] in {"127.0.0.1", "::ffff:127.0.0.1"}
    site = (metastore.conf_dir / "metastore-site.xml").read_text()
    assert "ConnectionPassword" not in site
    assert "ConnectionUserName" not in site  # embedded Derby: no user


def test_up_status_down_through_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    for name in [k for k in os.environ if k.startswith("SHOPREC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SHOPREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHOPREC_METASTORE_PORT", str(port))
    runner = CliRunner()
    try:
        up = runner.invoke(app, ["up"])
        assert up.exit_code == 0, up.output
        assert f"Hive Metastore started at thrift://127.0.0.1:{port}" in up.output
        assert f"export SHOPREC_METASTORE_URI=thrift://127.0.0.1:{port}" in up.output
        assert answers(f"thrift://127.0.0.1:{port}")
        again = runner.invoke(app, ["up"])
        assert "already running" in again.output
        status = runner.invoke(app, ["status"])
        assert "hive-metastore running" in status.output
        assert "(answering)" in status.output
    finally:
        down = runner.invoke(app, ["down"])
    assert down.exit_code == 0
    assert "stopped: hive-metastore" in down.output
    assert not answers(f"thrift://127.0.0.1:{port}")
    assert "nothing was running" in runner.invoke(app, ["down"]).output
    assert "stopped" in runner.invoke(app, ["status"]).output


def test_down_leaves_a_process_it_did_not_start_alone(tmp_path: Path) -> None:
    stranger = psutil.Popen(["sleep", "30"])
    try:
        service = LocalMetastore(Settings(home=tmp_path / "home"))
        service.pid_file.parent.mkdir(parents=True)
        # a PID file whose start time does not match: the PID was reused by another process
        service.pid_file.write_text(f'{{"pid": {stranger.pid}, "create_time": 1.0}}')
        assert not service.stop()
        assert stranger.is_running()
    finally:
        stranger.kill()


def test_a_wrong_metastore_uri_is_explained() -> None:
    with pytest.raises(
        ValidationError, match=re.escape("must be a Hive Metastore Thrift URI like thrift://127.0.0.1:9083")
    ):
        Settings(metastore_uri="127.0.0.1:9083")
    assert Settings(metastore_uri="thrift://a:1,thrift://b:2").metastore_uri == "thrift://a:1,thrift://b:2"
