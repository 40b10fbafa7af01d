"""docs/analyst_first_hour.ipynb runs headless against `shoprec lake serve` and draws the daily funnel."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.analysts.conftest import ServedLake
from tests.artifacts import report_artifact

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOTEBOOK = DOCS / "analyst_first_hour.ipynb"


def test_the_notebook_needs_nothing_but_pyspark() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert not re.search(r"^\s*(import|from)\s+shoprec|^\s*!|subprocess", code, re.MULTILINE)  # no shoprec
    assert "CREATE " not in code.upper()
    assert 'spark.sql.session.timeZone", ' not in code  # no DDL, no zone set
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def test_the_first_hour_runs_and_ends_at_a_chart(
    served_lake: ServedLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("SPARK_REMOTE", served_lake.url)
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # the kernel lives far from UTC
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(DOCS)}}
    ).execute()  # raises CellExecutionError on the first failing cell

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    text = "\n".join(str(output.get("text", "")) for output in outputs)
    assert "session time zone: " in text
    assert "6 queries, as of " in text
    charts = [output["data"]["image/png"] for output in outputs if "image/png" in output.get("data", {})]
    assert len(charts) == 1
    report_artifact("analyst_first_hour_funnel.png").write_bytes(base64.b64decode(charts[0]))
    report_artifact("analyst_first_hour.ipynb").write_text(nbformat.writes(notebook))
