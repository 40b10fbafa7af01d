"""infra/helm: values for Airflow's official chart, validated against the part of its values schema they use.

infra/helm/airflow-values.schema.json is that part of the chart's chart/values.schema.json (its x-source
names the commit), with the same keys, types and additionalProperties: false.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from shoprec.config import Settings
from tests.infra.conftest import INFRA, KUBERNETES_VERSION

HELM = INFRA / "helm"
SCHEMA = json.loads((HELM / "airflow-values.schema.json").read_text())


def load(name: str) -> dict[str, Any]:
    return yaml.safe_load((HELM / name).read_text())


def merged(*names: str) -> dict[str, Any]:
    """Helm's merge of several -f files: maps merge key by key, anything else is replaced."""

    def merge(base: Any, over: Any) -> Any:
        if isinstance(base, dict) and isinstance(over, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
        return over

    out: dict[str, Any] = {}
    for name in names:
        out = merge(out, load(name))
    return out


@pytest.mark.parametrize(
    "files", [("airflow-values.yaml",), ("airflow-values.yaml", "airflow-values-gitbundle.yaml")]
)
def test_values_match_the_chart_schema(files: tuple[str, ...]) -> None:
    for name in files:
        jsonschema.validate(load(name), SCHEMA)
    jsonschema.validate(merged(*files), SCHEMA)


def test_the_schema_rejects_what_the_chart_rejects() -> None:
    values = load("airflow-values.yaml")
    for broken in (
        {**values, "executer": "KubernetesExecutor"},  # unknown top-level key
        {**values, "executor": "Kubernetes"},  # not an executor class name
        {**values, "data": {"metadataSecret": "x"}},  # unknown nested key
        {**values, "env": [{"name": "A"}]},  # env items need a value
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)


def test_kubernetes_executor_postgres_and_secrets_from_kubernetes_secrets() -> None:
    values = load("airflow-values.yaml")
    assert values["executor"] == "KubernetesExecutor"
    assert values["postgresql"] == {"enabled": False} and values["data"]["metadataSecretName"]
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName"):
        assert values[key]
    text = yaml.safe_dump(values)
    for literal in ("fernetKey:", "apiSecretKey:", "jwtSecret:", "metadataConnection", "pass:"):
        assert literal not in text  # secrets are referenced, never filled in
    assert not values["dags"]["gitSync"]["enabled"] and not values["dags"]["persistence"]["enabled"]


def test_shoprec_settings_reach_every_airflow_container() -> None:
    values = load("airflow-values.yaml")
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["SHOPREC_LAKE_DIR"].startswith("s3://")
    assert env["SHOPREC_SPARK_REMOTE"] == "sc://sail-spark-server.shoprec.svc.cluster.local:50051"
    Settings(spark_remote=env["SHOPREC_SPARK_REMOTE"], home=Path(env["SHOPREC_HOME"]))  # accepted by shoprec
    secrets = {s["envName"]: s["secretName"] for s in values["secret"]}
    assert secrets == {
        "AWS_ACCESS_KEY_ID": "shoprec-lake-s3",
        "AWS_SECRET_ACCESS_KEY": "shoprec-lake-s3",
        "AWS_REGION": "shoprec-lake-s3",
    }
    # the volumes and mounts are Kubernetes objects: check them strictly inside a pod
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "airflow-task"},
        "spec": {
            "volumes": values["volumes"],
            "containers": [
                {
                    "name": "base",
                    "image": f"{values['images']['airflow']['repository']}:{values['images']['airflow']['tag']}",
                    "env": values["env"],
                    "volumeMounts": values["volumeMounts"],
                }
            ],
        },
    }
    kubernetes_validate.validate(copy.deepcopy(pod), KUBERNETES_VERSION, strict=True)
    assert values["volumeMounts"][0]["mountPath"] == env["SHOPREC_HOME"]
    # the claim of infra/k8s/storage.yaml
    assert values["volumes"][0]["persistentVolumeClaim"]["claimName"] == "shoprec-home"


def test_the_git_bundle_overlay_reads_the_dags_from_git() -> None:
    values = merged("airflow-values.yaml", "airflow-values-gitbundle.yaml")
    (bundle,) = json.loads(values["config"]["dag_processor"]["dag_bundle_config_list"])
    assert bundle["classpath"] == "airflow.providers.git.bundles.git.GitDagBundle"
    assert bundle["kwargs"]["subdir"] == "dags"
    assert yaml.safe_load(values["extraEnvFrom"]) == [{"secretRef": {"name": "shoprec-airflow-connections"}}]
