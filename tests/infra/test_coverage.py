"""Every file of infra/ (besides infra/catalog, tested with the metastore) is checked by a test here."""

from __future__ import annotations

from tests.infra.conftest import INFRA

CHECKED = {
    "README.md": "the deployment guide (read, not validated)",
    "images/.hadolint.yaml": "test_images: hadolint's settings",
    "images/platform/Dockerfile": "test_images",
    "images/sail/Dockerfile": "test_images",
    "images/spark-connect/Dockerfile": "test_images",
    "images/spark-connect/pom.xml": "test_images: versions paired with the Dockerfile",
    "images/trainer/Dockerfile": "test_images",
    "k8s/kustomization.yaml": "test_k8s: rendered with kustomize",
    "k8s/namespace.yaml": "test_k8s",
    "k8s/storage.yaml": "test_k8s",
    "k8s/sail/kustomization.yaml": "test_k8s",
    "k8s/sail/rbac.yaml": "test_k8s",
    "k8s/sail/server.yaml": "test_k8s",
    "k8s/sail/worker-pod-template.json": "test_k8s: a strict PodTemplate",
    "k8s/spark-connect/kustomization.yaml": "test_k8s",
    "k8s/spark-connect/kustomizeconfig.yaml": "test_k8s: the image transformer reaches the SparkApplication",
    "k8s/spark-connect/rbac.yaml": "test_k8s",
    "k8s/spark-connect/service.yaml": "test_k8s",
    "k8s/spark-connect/sparkapplication.yaml": "test_k8s: the vendored CRD schema, strict",
    "k8s/training/kustomization.yaml": "test_k8s",
    "k8s/training/pytorchjob.yaml": "test_k8s: the vendored CRD schema, strict",
    "k8s/schemas/sparkapplication-v1beta2.json": "test_k8s: the schema the SparkApplication is checked with",
    "k8s/schemas/pytorchjob-v1.json": "test_k8s: the schema the PyTorchJob is checked with",
    "k8s/schemas/vendor.py": "the script that vendored them (ruff)",
    "helm/airflow-values.yaml": "test_helm",
    "helm/airflow-values-gitbundle.yaml": "test_helm",
    "helm/airflow-values.schema.json": "test_helm: the part of the chart's schema the values use",
    "spark/install.sh": "tests/engines: make spark-engine builds the environment the Spark tests run",
    "spark/serve.sh": "tests/engines: the Spark Connect server the Spark tests start",
    "spark/requirements.txt": "tests/engines: the pinned pyspark and delta-spark of that environment",
    "spark/pom.xml": "tests/engines: the Delta jars of that environment",
    "objectstore/install.sh": "tests/s3_server.py: make s3-server builds the S3 server the object-store tests start",
    "objectstore/serve.sh": "tests/s3_server.py: the S3 server the object-store tests start",
}


def test_every_infra_file_is_checked() -> None:
    files = {
        str(p.relative_to(INFRA))
        for p in INFRA.rglob("*")
        if p.is_file() and not p.is_relative_to(INFRA / "catalog") and "__pycache__" not in p.parts
    }
    assert files == set(CHECKED)


def test_the_readme_has_its_sections() -> None:
    headings = [line for line in (INFRA / "README.md").read_text().splitlines() if line.startswith("## ")]
    assert headings == ["## Engines", "## Deployment", "## Training on a cluster", "## What was verified"]
