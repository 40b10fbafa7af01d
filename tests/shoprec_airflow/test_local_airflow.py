"""The local Airflow's files and process bookkeeping (the running stack is tested in tests/airflow)."""

from __future__ import annotations

import configparser
import json
import os
import stat
from pathlib import Path

import psutil

from shoprec.config import Settings
from shoprec_airflow.local_airflow import LocalAirflow


def test_configure_writes_private_config_bound_to_loopback(tmp_path: Path) -> None:
    stack = LocalAirflow(Settings(home=tmp_path, airflow_port=18080))
    password = stack.configure()
    assert password is not None
    assert len(password) >= 16
    for private in (stack.config_file, stack.passwords_file):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert json.loads(stack.passwords_file.read_text()) == {"admin": password}
    config = configparser.ConfigParser(interpolation=None)
    config.read(stack.config_file)
    assert config["api"]["host"] == "127.0.0.1"
    assert config["api"]["port"] == "18080"
    assert config["core"]["executor"] == "LocalExecutor"
    assert int(config["core"]["parallelism"]) <= 4
    assert config["core"]["dags_folder"] == str(Settings().dags)
    assert (
        config["database"]["sql_alchemy_conn"] == f"sqlite:///{tmp_path.resolve() / 'airflow' / 'airflow.db'}"
    )
    assert config["core"]["load_examples"] == "False"
    secrets = (config["core"]["fernet_key"], config["api_auth"]["jwt_secret"], config["api"]["secret_key"])
    assert all(len(s) >= 32 for s in secrets)


def test_configure_again_keeps_the_password_and_secrets(tmp_path: Path) -> None:
    stack = LocalAirflow(Settings(home=tmp_path))
    first = stack.configure()
    before = stack.config_file.read_text()
    assert stack.configure() is None  # printed once: only when generated
    assert stack.password() == first
    assert stack.config_file.read_text() == before


def test_down_never_signals_a_process_it_did_not_start(tmp_path: Path) -> None:
    stack = LocalAirflow(Settings(home=tmp_path))
    stack.configure()
    me = psutil.Process(os.getpid())
    # a PID file naming this very process, but with another start time (a reused PID)
    stack.run_dir.joinpath("scheduler.pid").write_text(
        json.dumps({"pid": me.pid, "create_time": me.create_time() - 1000})
    )
    assert [c.name for c in stack.status() if c.running] == []
    assert stack.stop() == []
    assert me.is_running()
    assert not stack.run_dir.joinpath("scheduler.pid").exists()
