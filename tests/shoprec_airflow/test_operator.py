"""The operator turns the real CLI's exit codes into task states: done, skipped, failed with the reason, retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from shoprec_airflow.operator import ShoprecOperator


def run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, arguments: list[str]) -> None:
    """Run the real `shoprec` command on an empty lake under the operator."""
    monkeypatch.setenv("SHOPREC_HOME", str(tmp_path / "home"))
    ShoprecOperator(task_id=arguments[0], arguments=arguments).execute({})


def test_exit_zero_is_success(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    run(monkeypatch, tmp_path, ["lake", "tables"])


def test_the_skipped_exit_code_skips_the_task(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowSkipException, match="shoprec evaluate: nothing to do"):
        run(monkeypatch, tmp_path, ["evaluate", "--date", "2026-01-02", "--skip-missing"])


def test_an_explained_failure_fails_without_retry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowFailException, match=r"shoprec evaluate failed: .*2026-01-02"):
        run(monkeypatch, tmp_path, ["evaluate", "--date", "2026-01-02"])


def test_any_other_exit_is_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AirflowException, match="shoprec evaluate exited with code 2") as caught:
        run(monkeypatch, tmp_path, ["evaluate", "--no-such-option"])
    assert not isinstance(caught.value, AirflowFailException | AirflowSkipException)
