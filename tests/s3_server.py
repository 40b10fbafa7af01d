"""A real local S3 server for the tests of a lake on object storage (versitygw, `infra/objectstore/serve.sh`)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from shoprec.storage import ObjectPath
from tests.network import answers, free_port

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "infra" / "objectstore" / "serve.sh"
INSTALL = ROOT / "infra" / "objectstore" / "install.sh"
START_SECONDS = 30


@dataclass(frozen=True)
class S3Server:
    """A running S3 server on 127.0.0.1: its endpoint, the AWS_* variables clients need, its folder."""

    endpoint: str
    environment: dict[str, str]
    root: Path

    def bucket(self, name: str) -> ObjectPath:
        """Create a bucket through S3's CreateBucket; its root location."""
        client = pafs.S3FileSystem(
            access_key=self.environment["AWS_ACCESS_KEY_ID"],
            secret_key=self.environment["AWS_SECRET_ACCESS_KEY"],
            region=self.environment["AWS_REGION"],
            endpoint_override=self.endpoint,
            allow_bucket_creation=True,
        )
        client.create_dir(name)
        return ObjectPath(f"s3://{name}")


@contextmanager
def running(root: Path) -> Iterator[S3Server]:
    """Start `serve.sh` over `root` on a free port with fresh credentials; stop it on exit."""
    installed = subprocess.run(["bash", str(INSTALL), "--where"], capture_output=True, text=True, check=True)
    if not (Path(installed.stdout.strip()) / "bin" / "versitygw").exists():
        pytest.fail("the local S3 server is not installed: run infra/objectstore/install.sh (make s3-server)")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    environment = {
        "AWS_ACCESS_KEY_ID": f"shoprec{secrets.token_hex(4)}",
        "AWS_SECRET_ACCESS_KEY": secrets.token_hex(16),
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ALLOW_HTTP": "true",
    }
    log_path = root.with_suffix(".log")
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            ["bash", str(SERVE), str(root), str(port)],
            env={**os.environ, **environment},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the S3 server did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield S3Server(endpoint, environment, root)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
