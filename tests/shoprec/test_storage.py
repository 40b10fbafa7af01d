"""Lake locations, local or on an object store, and the file operations shoprec does there outside Spark."""

from __future__ import annotations

import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from shoprec import storage
from shoprec.config import Settings
from shoprec.storage import ObjectPath
from tests.s3_server import S3Server


def test_an_object_path_joins_and_prints_like_a_path() -> None:
    lake = ObjectPath("s3://shop-lake//prod/lake/")
    assert str(lake) == "s3://shop-lake/prod/lake"
    assert str(lake / "raw" / "events") == "s3://shop-lake/prod/lake/raw/events"
    assert (lake / "raw" / "events").name == "events"
    assert (lake / "raw").bucket == ObjectPath("s3://shop-lake")
    assert lake / "raw" == ObjectPath("s3://shop-lake/prod/lake/raw")
    assert str(ObjectPath("s3://shop-lake")) == "s3://shop-lake"


@pytest.mark.parametrize("url", ["s3:///lake", "s3://bucket/lake?versionId=1", "gs://bucket/lake", "/local"])
def test_what_is_not_an_object_store_location_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not an object store location"):
        ObjectPath(url)


def test_a_configured_location_is_an_object_path_or_an_absolute_folder(tmp_path: Path) -> None:
    assert storage.location("s3://bucket/lake") == ObjectPath("s3://bucket/lake")
    assert storage.location(tmp_path / "a" / ".." / "lake") == tmp_path / "lake"
    with pytest.raises(
        ValueError, match=r"'gs://bucket/lake': a lake is a local folder or s3://bucket/prefix"
    ):
        storage.location("gs://bucket/lake")


def test_settings_put_an_object_store_lake_s_locks_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("SHOPREC_LAKE_DIR", "s3://shop-lake/prod/lake/")
    settings = Settings(home=tmp_path / "home")
    assert settings.lake == ObjectPath("s3://shop-lake/prod/lake")
    assert settings.locks == tmp_path / "home" / "locks"
    local = Settings(home=tmp_path / "home", lake_dir=tmp_path / "lake")
    assert (local.lake, local.locks) == (tmp_path / "lake", tmp_path / "lake" / "_locks")


def test_a_plain_http_endpoint_needs_aws_allow_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:7070")
    monkeypatch.delenv("AWS_ALLOW_HTTP", raising=False)
    with pytest.raises(
        ValidationError, match=r"over plain http \(http://127\.0\.0\.1:7070.*AWS_ALLOW_HTTP=true"
    ):
        Settings(home=tmp_path, lake_dir="s3://shop-lake/lake")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    assert Settings(home=tmp_path, lake_dir="s3://shop-lake/lake").lake == ObjectPath("s3://shop-lake/lake")
    with pytest.raises(ValidationError, match="a lake is a local folder or s3://"):
        Settings(home=tmp_path, lake_dir="abfs://container/lake")


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> storage.Location:
    """An empty folder: local, or a fresh bucket on the local S3 server."""
    if request.param == "local":
        return tmp_path / "root"
    server: S3Server = request.getfixturevalue("s3_server")
    return server.bucket(f"storage-{uuid.uuid4().hex[:12]}") / "root"


def write_bytes(where: storage.Location, data: bytes) -> None:
    """Write a file through the filesystem of its URL (a local path or an S3 object)."""
    filesystem, path = pafs.FileSystem.from_uri(str(where))
    if isinstance(where, Path):
        where.parent.mkdir(parents=True, exist_ok=True)
    with filesystem.open_output_stream(path) as out:
        out.write(data)


def test_files_are_listed_read_and_removed(root: storage.Location) -> None:
    storage.make_folder(root / "table" / "k=1")
    for part in range(3):  # several files in a folder: a store keeping folders as objects deletes them first
        pq.write_table(pa.table({"x": [1, 2, 3]}), str(root / "table" / "k=1" / f"part-{part}.parquet"))
    write_bytes(root / "table" / "_delta_log" / "0.json", b'{"commitInfo": {}}\n')
    listed = storage.files(root / "table")
    assert sorted(listed) == ["_delta_log/0.json", *(f"k=1/part-{part}.parquet" for part in range(3))]
    assert listed["_delta_log/0.json"] == 19
    assert storage.read_text(root / "table" / "_delta_log" / "0.json") == '{"commitInfo": {}}\n'
    with storage.open_input(root / "table" / "k=1" / "part-0.parquet") as file:
        assert pq.ParquetFile(file).metadata.num_rows == 3
    assert [storage.kind(root / p) for p in ("table", "table/_delta_log/0.json", "none")] == [
        "directory",
        "file",
        "missing",
    ]
    storage.remove_tree(root / "table")
    assert storage.kind(root / "table") == "missing"
    assert storage.files(root / "table") == {}
    storage.remove_tree(root / "table")  # removing what is gone is no error
