"""The layers are visible and enforced: each package imports only the packages below it.

From the bottom: `shoprec` (the core) <- `shoprec_quality`, `shoprec_demo` <- `models` <- `jobs`
<- `shoprec_airflow`, `dags` <- `shoprec_cli`. Nothing below imports the CLI or the Airflow package.
Imports inside functions count too. Of the jobs, only the offline evaluation uses the demo package,
for its demo-only ceiling (`shoprec_demo.planted_ceiling`, when the demo truth files exist).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
OURS = {
    "shoprec",
    "shoprec_quality",
    "shoprec_demo",
    "models",
    "jobs",
    "shoprec_airflow",
    "dags",
    "shoprec_cli",
}
ALLOWED: dict[str, set[str]] = {
    "shoprec": {"shoprec"},
    "shoprec_quality": {"shoprec", "shoprec_quality"},
    "shoprec_demo": {"shoprec", "shoprec_demo"},
    "models": {"shoprec", "models"},
    "jobs": {"shoprec", "shoprec_quality", "shoprec_demo", "models", "jobs"},
    "shoprec_airflow": {"shoprec", "shoprec_airflow"},
    "dags": {"shoprec", "models", "shoprec_airflow"},
    "shoprec_cli": OURS - {"dags"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages of ours that a module imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_the_layers_below(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported - ALLOWED[package])
        for path in sorted((ROOT / package).rglob("*.py"))
        if (imported := imported_packages(path)) - ALLOWED[package]
    }
    assert offending == {}


def test_only_the_offline_evaluation_uses_the_demo_package_among_the_jobs() -> None:
    users = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "jobs").rglob("*.py")
        if "shoprec_demo" in imported_packages(path)
    )
    assert users == ["jobs/offline_eval.py"]


def test_nothing_below_imports_the_cli_or_the_airflow_package() -> None:
    below = [name for name in ALLOWED if name not in {"shoprec_cli", "shoprec_airflow", "dags"}]
    assert all("shoprec_cli" not in ALLOWED[name] for name in below)
    assert all("shoprec_airflow" not in ALLOWED[name] for name in below)


def test_every_package_has_a_layer() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "expectations"}
    assert packages == set(ALLOWED)
