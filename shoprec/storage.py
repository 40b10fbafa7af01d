"""Where the lake lives, a local folder or an object store (`s3://bucket/prefix`), and its file operations.

These are the few operations shoprec does there outside Spark and delta-rs: listing, reading,
removing, opening Parquet files.

A location is a `Path` for a local folder or an `ObjectPath` for an object store; both join with `/`
and print as what Spark, delta-rs and pyarrow take (`/x/lake/raw/events`, `s3://bucket/lake/raw/events`).
The object store's endpoint and credentials come from the standard AWS variables every engine reads:
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, and for an S3-compatible store
`AWS_ENDPOINT_URL` (with `AWS_ALLOW_HTTP=true` when it is plain http).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.fs as pafs

SCHEMES = ("s3",)  # object stores the lake may live on (Sail, delta-rs and pyarrow all read them)


class ObjectPath:
    """A key prefix in an object store, `s3://bucket/key`, joined with `/` like a `Path`."""

    __slots__ = ("_url",)

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.netloc or parts.query or parts.fragment:
            raise ValueError(f"not an object store location (s3://bucket/prefix): {url!r}")
        key = "/".join(p for p in parts.path.split("/") if p)
        self._url = f"{parts.scheme}://{parts.netloc}" + (f"/{key}" if key else "")

    def __truediv__(self, part: str) -> ObjectPath:
        return ObjectPath(f"{self._url}/{part}")

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"ObjectPath({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and other._url == self._url

    def __hash__(self) -> int:
        return hash(self._url)

    @property
    def bucket(self) -> ObjectPath:
        """The bucket's root (`s3://bucket`)."""
        return ObjectPath("/".join(self._url.split("/")[:3]))

    @property
    def name(self) -> str:
        """The last part of the key (`events` of `s3://bucket/lake/raw/events`)."""
        return self._url.rsplit("/", 1)[1]


Location = Path | ObjectPath


def location(value: str | Path) -> Location:
    """A configured location: an `ObjectPath` for `s3://…`, else the absolute local path.

    Raises:
        ValueError: `value` is a URL of a scheme the lake cannot live on.
    """
    if isinstance(value, str) and "://" in value:
        if urlsplit(value).scheme not in SCHEMES:
            raise ValueError(f"{value!r}: a lake is a local folder or {' or '.join(SCHEMES)}://bucket/prefix")
        return ObjectPath(value)
    return Path(value).resolve()


def plain_http_without_permission(environ: Mapping[str, str] = os.environ) -> str | None:
    """The plain-http endpoint the engines would refuse (no `AWS_ALLOW_HTTP=true`), or None."""
    endpoint = environ.get("AWS_ENDPOINT_URL") or environ.get("AWS_ENDPOINT") or ""
    allowed = environ.get("AWS_ALLOW_HTTP", "").lower() == "true"
    return endpoint if endpoint.startswith("http://") and not allowed else None


class Unreachable(OSError):
    """The lake's storage failed a request (no such bucket, refused credentials, no answer)."""


def unreachable(what: str, where: Location, exc: OSError) -> Unreachable:
    """A storage failure of delta-rs or pyarrow as one line naming `what`, `where` and the store's answer.

    An S3 error arrives as several lines around the store's XML reply; its code and message are the answer.
    """
    text = str(exc)
    code, message = re.search(r"<Code>([^<]*)</Code>", text), re.search(r"<Message>([^<]*)</Message>", text)
    answer = f"{code[1]}: {message[1]}" if code and message else (text.strip().splitlines() or [repr(exc)])[0]
    return Unreachable(f"{what}: cannot read {where}: {answer}")


def _filesystem(where: Location) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem holding `where`, and `where` as that filesystem's path."""
    if isinstance(where, Path):
        return pafs.LocalFileSystem(), str(where)
    return pafs.FileSystem.from_uri(str(where))


def kind(where: Location) -> str:
    """`file`, `directory` (a folder, or a key prefix with objects under it) or `missing`."""
    fs, path = _filesystem(where)
    found = fs.get_file_info(path).type
    if found == pafs.FileType.File:
        return "file"
    return "directory" if found == pafs.FileType.Directory else "missing"


def files(where: Location) -> dict[str, int]:
    """Every file under `where` (recursively), by path relative to it, with its size; {} when missing."""
    fs, path = _filesystem(where)
    selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
    base = path.rstrip("/") + "/"
    return {
        info.path[len(base) :]: info.size or 0
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File
    }


def read_text(where: Location) -> str:
    """A whole (small) file as UTF-8 text."""
    fs, path = _filesystem(where)
    with fs.open_input_stream(path) as stream:
        return stream.read().decode()


def open_input(where: Location) -> pafs.NativeFile:
    """A file opened for random access (e.g. for `pyarrow.parquet.ParquetFile`)."""
    fs, path = _filesystem(where)
    return fs.open_input_file(path)


def make_folder(where: Location) -> None:
    """Create a local folder (and its parents); object stores have no folders to create."""
    if isinstance(where, Path):
        where.mkdir(parents=True, exist_ok=True)


def remove_tree(where: Location) -> None:
    """Remove a folder or key prefix and everything under it; nothing happens when it is missing."""
    fs, path = _filesystem(where)
    try:
        fs.delete_dir(path)
    except FileNotFoundError:
        return
    except OSError:
        # A store that keeps folders as objects (a hierarchical namespace, versitygw over a file system) refuses
        # a batch delete that lists a folder before its contents ("Directory object not empty"): remove what is
        # left one object at a time, files first, then the folders deepest first.
        left = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
        for info in sorted(left, key=lambda i: (i.type != pafs.FileType.File, -i.path.count("/"))):
            with contextlib.suppress(FileNotFoundError):
                (fs.delete_file if info.type == pafs.FileType.File else fs.delete_dir)(info.path)
        with contextlib.suppress(FileNotFoundError):
            fs.delete_dir(path)
