"""The tiny pipeline with its lake on object storage leaves the same tables as with a local lake.

Embedded Sail writes and reads the Delta tables in a bucket of a real S3 server on 127.0.0.1
(versitygw over a temporary folder, `infra/objectstore`); validation, recommend's scoring (pyarrow
over the scratch space in the bucket) and the lake commands (delta-rs) reach it through the same
`s3://` location and the standard AWS_* variables. Nothing of the lake is written on local disk.
"""

from __future__ import annotations

import pytest

from shoprec import catalog, storage
from tests.engines import pipeline
from tests.engines.conftest import BuiltLake
from tests.faults import runs

pytestmark = pytest.mark.objectstore


def test_every_validation_gate_passes_on_object_storage(object_store_built: BuiltLake) -> None:
    failures = {name: found for name, found in object_store_built.outcome.blocking_failures.items() if found}
    assert not failures


def test_the_steps_report_the_same_counts(object_store_built: BuiltLake, sail_built: BuiltLake) -> None:
    remote, local = object_store_built.outcome, sail_built.outcome
    assert remote.examples == local.examples
    for field in ("users", "cold_start_users", "candidates", "rows", "audience_rows", "model_version"):
        assert getattr(remote.published, field) == getattr(local.published, field), field


@pytest.mark.parametrize("table", list(catalog.TABLES))
def test_each_table_equals_the_local_lake_s(
    table: str, object_store_built: BuiltLake, sail_built: BuiltLake
) -> None:
    difference = pipeline.differences(catalog.get(table), sail_built.settings, object_store_built.settings)
    assert difference is None, difference


def test_the_lake_is_in_the_bucket_and_no_scratch_space_is_left(object_store_built: BuiltLake) -> None:
    settings = object_store_built.settings
    assert isinstance(settings.lake, storage.ObjectPath)
    assert (
        storage.kind(catalog.RECO_USER_RECOMMENDATIONS.location(settings.lake) / "_delta_log") == "directory"
    )
    assert storage.files(settings.lake / "_scratch") == {}
    assert not list((settings.locks / "scratch").glob("*"))
    assert not (settings.home / "lake").exists()


def test_lake_tables_and_lake_check_read_the_bucket(
    object_store_built: BuiltLake, sail_built: BuiltLake
) -> None:
    settings = object_store_built.settings
    listed = runs.run(settings, ["lake", "tables"])
    assert listed.returncode == 0, listed.stderr
    reference = runs.run(sail_built.settings, ["lake", "tables"])
    rows = {line.split()[0]: line.split()[1] for line in listed.stdout.splitlines()[1:]}
    assert rows == {line.split()[0]: line.split()[1] for line in reference.stdout.splitlines()[1:]}
    assert all(line.split()[-1].startswith(f"{settings.lake}/") for line in listed.stdout.splitlines()[1:])
    checked = runs.run(settings, ["lake", "check"])
    assert checked.returncode == 0, checked.stderr
