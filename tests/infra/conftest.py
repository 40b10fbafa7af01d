"""Shared helpers for the offline checks of infra/: rendered manifests, vendored schemas, strict CRD validation."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
KUBERNETES_VERSION = "1.37.0"  # the newest schemas kubernetes-validate ships offline
CRD_SCHEMAS = {
    ("sparkoperator.k8s.io/v1beta2", "SparkApplication"): K8S / "schemas" / "sparkapplication-v1beta2.json",
    ("kubeflow.org/v1", "PyTorchJob"): K8S / "schemas" / "pytorchjob-v1.json",
}


def render(path: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize PATH` as a list of objects."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is needed to render infra/k8s")
    out = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


@pytest.fixture(scope="session")
def rendered() -> list[dict[str, Any]]:
    """Every object of infra/k8s, rendered once."""
    return render(K8S)


def strict(schema: object) -> object:
    """A CRD schema that rejects unknown fields, as the API server's strict field validation does.

    Every object schema with properties and no additionalProperties (and no
    x-kubernetes-preserve-unknown-fields) gets additionalProperties: false.
    """
    if isinstance(schema, dict):
        out = {key: strict(value) for key, value in schema.items() if key != "properties"}
        if "properties" in schema:
            out["properties"] = {name: strict(sub) for name, sub in schema["properties"].items()}
            preserve = schema.get("x-kubernetes-preserve-unknown-fields")
            if "additionalProperties" not in schema and not preserve:
                out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    return schema


def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The vendored schema of a custom resource, made strict."""
    return strict(json.loads(CRD_SCHEMAS[(api_version, kind)].read_text()))  # type: ignore[return-value]
