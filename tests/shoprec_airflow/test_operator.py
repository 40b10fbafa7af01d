"""The operator turns the CLI's exit codes into task states: done, skipped, failed with the reason, retried."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from shoprec.vocabulary import SKIPPED_EXIT_CODE
from shoprec_airflow import operator
from shoprec_airflow.operator import ShoprecOperator


def fake_shoprec(folder: Path, output: str, code: int) -> str:
    script = folder / "shoprec"
    script.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, output: str, code: int) -> None:
    monkeypatch.setattr(operator, "shoprec_executable", lambda: fake_shoprec(tmp_path, output, code))
    ShoprecOperator(task_id="evaluate", arguments=["evaluate", "--date", "2026-01-02"]).execute({})


def test_exit_zero_is_success(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run(monkeypatch, tmp_path, "done", 0)


def test_the_skipped_exit_code_skips_the_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowSkipException, match="shoprec evaluate: nothing to do"):
        run(monkeypatch, tmp_path, "no recommendations", SKIPPED_EXIT_CODE)


def test_an_explained_failure_fails_without_retry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match="shoprec evaluate failed: no such day"):
        run(monkeypatch, tmp_path, "error: no such day", 1)


def test_any_other_exit_is_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowException, match="shoprec evaluate exited with code 3") as caught:
        run(monkeypatch, tmp_path, "crash", 3)
    assert not isinstance(caught.value, AirflowFailException | AirflowSkipException)
