"""infra/k8s rendered with kustomize and validated offline in strict mode.

Core kinds: kubernetes-validate's bundled schemas (strict: unknown fields fail). Custom resources
(SparkApplication, PyTorchJob): the CRDs' own OpenAPI schemas vendored in infra/k8s/schemas (from the
operators' release tags, see each file's x-source), made strict the same way.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.infra.conftest import CRD_SCHEMAS, K8S, KUBERNETES_VERSION, crd_schema, render

CORE_GROUPS = ("v1", "apps/v1", "rbac.authorization.k8s.io/v1")


def named(rendered: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = (d for d in rendered if d["kind"] == kind and d["metadata"]["name"] == name)
    return found


def pod_template(template: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "check"}, "template": template}


def test_the_manifests_render_with_kustomize_into_the_shoprec_namespace(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = sorted({d["kind"] for d in rendered})
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Namespace",
        "PersistentVolumeClaim",
        "PyTorchJob",
        "Role",
        "RoleBinding",
        "Service",
        "ServiceAccount",
        "SparkApplication",
    ]
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {"shoprec"}
    for part in ("sail", "spark-connect", "training"):  # each part also renders on its own
        assert render(K8S / part)


def test_every_core_object_is_valid_in_strict_mode(rendered: list[dict[str, Any]]) -> None:
    core = [d for d in rendered if d["apiVersion"] in CORE_GROUPS]
    assert len(core) == len(rendered) - len(CRD_SCHEMAS)
    for doc in core:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_custom_resources_match_their_crd_schemas_strictly(rendered: list[dict[str, Any]]) -> None:
    custom = [d for d in rendered if d["apiVersion"] not in CORE_GROUPS]
    assert {(d["apiVersion"], d["kind"]) for d in custom} == set(CRD_SCHEMAS)
    for doc in custom:
        jsonschema.validate(doc, crd_schema(doc["apiVersion"], doc["kind"]))


def test_strict_validation_rejects_unknown_fields(rendered: list[dict[str, Any]]) -> None:
    deployment = copy.deepcopy(named(rendered, "Deployment", "sail-spark-server"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    job = copy.deepcopy(named(rendered, "PyTorchJob", "shoprec-train"))
    job["spec"]["elasticPolicy"]["rdzvBacknd"] = "c10d"
    with pytest.raises(jsonschema.ValidationError, match="rdzvBacknd"):
        jsonschema.validate(job, crd_schema(job["apiVersion"], job["kind"]))
    app = copy.deepcopy(named(rendered, "SparkApplication", "shoprec-spark-connect"))
    app["spec"]["driver"]["memroy"] = "8g"
    with pytest.raises(jsonschema.ValidationError, match="memroy"):
        jsonschema.validate(app, crd_schema(app["apiVersion"], app["kind"]))


def test_sail_runs_in_kubernetes_cluster_mode_with_its_worker_pod_template(
    rendered: list[dict[str, Any]],
) -> None:
    server = named(rendered, "Deployment", "sail-spark-server")["spec"]["template"]["spec"]
    (container,) = server["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SAIL_MODE"]["value"] == "kubernetes-cluster"
    assert env["SAIL_KUBERNETES__IMAGE"]["value"] == container["image"]  # workers run the server's image
    assert env["SAIL_KUBERNETES__WORKER_SERVICE_ACCOUNT_NAME"]["value"] == "sail-worker"
    ref = env["SAIL_KUBERNETES__WORKER_POD_TEMPLATE"]["valueFrom"]["configMapKeyRef"]
    config_map = named(rendered, "ConfigMap", ref["name"])  # the generated name, hash suffix included
    template = json.loads(config_map["data"][ref["key"]])
    kubernetes_validate.validate(pod_template(template), KUBERNETES_VERSION, strict=True)
    (worker,) = template["spec"]["containers"]
    assert worker["name"] == "worker"  # Sail merges the template into its container of this name
    assert worker["envFrom"] == container["envFrom"] == [{"secretRef": {"name": "shoprec-lake-s3"}}]
    role = named(rendered, "Role", "sail-server")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["pods"],
            "verbs": ["create", "get", "list", "watch", "delete", "deletecollection"],
        }
    ]


def test_the_spark_connect_server_is_a_spark_application_with_delta_and_s3(
    rendered: list[dict[str, Any]],
) -> None:
    spec = named(rendered, "SparkApplication", "shoprec-spark-connect")["spec"]
    assert spec["mainClass"] == "org.apache.spark.sql.connect.service.SparkConnectServer"
    assert spec["mainApplicationFile"].endswith(f"spark-connect_2.13-{spec['sparkVersion']}.jar")
    assert spec["restartPolicy"]["type"] == "Always"
    conf = spec["sparkConf"]
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.hadoop.fs.s3.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    service = named(rendered, "Service", "shoprec-spark-connect")["spec"]
    assert service["selector"].items() <= spec["driver"]["labels"].items()
    assert service["ports"][0]["port"] == int(conf["spark.connect.grpc.binding.port"])


def test_the_training_job_runs_the_entry_point_on_every_node(rendered: list[dict[str, Any]]) -> None:
    spec = named(rendered, "PyTorchJob", "shoprec-train")["spec"]
    worker = spec["pytorchReplicaSpecs"]["Worker"]
    kubernetes_validate.validate(pod_template(worker["template"]), KUBERNETES_VERSION, strict=True)
    (container,) = worker["template"]["spec"]["containers"]
    assert container["name"] == "pytorch"  # the container the training operator gives the PET_* environment
    # the arguments of the image's entry point, torchrun -m models.train
    assert container["args"] == ["--config", "$(SHOPREC_TRAIN_CONFIG)"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["SHOPREC_TRAIN_CONFIG"].startswith(env["SHOPREC_HOME"] + "/training/")
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["shoprec-home"] == env["SHOPREC_HOME"]
    gpus = int(container["resources"]["limits"]["nvidia.com/gpu"])
    assert int(spec["nprocPerNode"]) == gpus  # one rank per GPU
    elastic = spec["elasticPolicy"]
    assert elastic["rdzvBackend"] == "c10d"
    assert elastic["minReplicas"] == elastic["maxReplicas"] == worker["replicas"]  # a fixed world size
    claim = named(rendered, "PersistentVolumeClaim", "shoprec-home")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # every node mounts the run directory


def test_services_stay_inside_the_cluster_and_secrets_are_only_referenced(
    rendered: list[dict[str, Any]],
) -> None:
    assert not [d for d in rendered if d["kind"] == "Secret"]
    assert {d["spec"]["type"] for d in rendered if d["kind"] == "Service"} == {"ClusterIP"}
    text = json.dumps(rendered)
    for word in ("AWS_SECRET_ACCESS_KEY", "password", "PASSWORD"):
        assert word not in text
