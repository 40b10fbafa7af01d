"""infra/catalog: the Kubernetes metastore matches the local one and stays inside the cluster."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CATALOG = Path(__file__).resolve().parents[2] / "infra" / "catalog"


def test_the_manifest_runs_the_metastore_version_of_the_local_stack() -> None:
    pom_version = re.search(r"<hive.version>([^<]+)</hive.version>", (CATALOG / "pom.xml").read_text())
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all((CATALOG / "hive-metastore.yaml").read_text())}
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert pom_version
    assert container["image"] == f"apache/hive:{pom_version.group(1)}"
    assert docs["Deployment"]["spec"]["replicas"] == 1  # embedded Derby: one writer
    assert docs["Service"]["spec"]["type"] == "ClusterIP"
    allowed = docs["NetworkPolicy"]["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed == {"shoprec/catalog-client": "true"}
    assert not [e for e in container["env"] if "PASSWORD" in e["name"].upper()]  # no default passwords
    assert "ConnectionPassword" not in docs["ConfigMap"]["data"]["hive-site.xml"]
