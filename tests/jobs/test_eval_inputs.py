"""Offline evaluation's inputs (jobs/eval_inputs.py); reading them from a lake is tested with the evaluation."""

from __future__ import annotations

import pytest

from jobs import eval_inputs


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        (["7"], "7"),
        (["popularity", "7"], "7"),
        (["8", "popularity", "7"], "7,8"),
        (["popularity"], "popularity"),
    ],
)
def test_published_model_version_ignores_cold_start_rows(versions: list[str], expected: str) -> None:
    assert eval_inputs.published_model_version(versions) == expected
