"""Files tests leave for people to look at (screenshots, measurements) under test-artifacts/."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "test-artifacts"
REPORTED: list[Path] = []


def report_artifact(name: str, content: str | None = None) -> Path:
    """Write `content` to test-artifacts/<name> (when given) and list the file in pytest's summary."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / name
    if content is not None:
        path.write_text(content + "\n")
    REPORTED.append(path)
    return path
