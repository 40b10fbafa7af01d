"""Vendor a CRD's OpenAPI schema for offline validation (tests/infra), without its descriptions.

    python infra/k8s/schemas/vendor.py CRD.yaml VERSION OUT.json --source "owner/repo@tag:path"

Reads the CustomResourceDefinition, takes ``spec.versions[name == VERSION].schema.openAPIV3Schema``,
drops every ``description`` (most of the bytes) and writes it as JSON, with where it came from.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml


def strip(node: object) -> object:
    """The schema without descriptions (a property *named* description is kept)."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {name: strip(sub) for name, sub in value.items()}
            elif key != "description":
                out[key] = strip(value)
        return out
    if isinstance(node, list):
        return [strip(item) for item in node]
    return node


def main() -> None:
    """Write the stripped schema of one CRD version."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crd", type=Path)
    parser.add_argument("version")
    parser.add_argument("out", type=Path)
    parser.add_argument("--source", required=True, help="owner/repo@tag:path the CRD was read from")
    args = parser.parse_args()
    crd = yaml.safe_load(args.crd.read_text())
    (version,) = (v for v in crd["spec"]["versions"] if v["name"] == args.version)
    schema = {
        "x-source": args.source,
        "x-crd": crd["metadata"]["name"],
        "x-version": args.version,
        **strip(version["schema"]["openAPIV3Schema"]),
    }
    args.out.write_text(json.dumps(schema, sort_keys=True, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
