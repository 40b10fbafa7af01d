"""`shoprec land` as a whole (jobs/land.py) under hostile files: each lands or is refused naming the file.

Every landing keeps read = landed + carried rejects, with exactly those lines in its day files. A
hypothesis property generates files from hostile pieces; a short, seeded atheris run
(tests/jobs/fuzz_land.py; `make fuzz` runs it longer) mutates a corpus of real-looking sources.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.jobs.fuzz_land import OPTIONS, SUFFIXES, land_bytes

ROOT = Path(__file__).resolve().parents[2]
PIECES = st.sampled_from(
    [
        b"user_id,item_id,event_type,event_ts\n",
        b"1,2,view,1767225600\n",
        b"1,2,3,pv,1767225600\r\n",
        b'{"user_id":1,"item_id":2,"event_type":"view","event_ts":1767225600}\n',
        b'{"user_id":1,"item_id":2,"event_type":"view","event_ts":"0000-01-01T00:00:00"}\n',
        b'{"user_id":1,"item_id":2,"event_type":"view","event_ts":"9999-12-31T23:59:59"}\n',
        b'{"user_id":1e999,"item_id":-1,"price":1' + b"0" * 400 + b',"event_ts":1e305}\n',
        b'{"session_id":"\\ud800","user_id":1}\n',
        b"[" * 5000 + b"\n",
        b"\xef\xbb\xbf",
        b"\x00",
        b"\xff\xfe",
        b'"',
        b"\r",
        b"9" * 5000,
    ]
)
FILES = st.lists(st.one_of(PIECES, st.binary(max_size=30)), max_size=25).map(b"".join)


@settings(max_examples=120, deadline=None, derandomize=True, database=None)
@given(data=FILES, suffix=st.sampled_from(SUFFIXES), options=st.sampled_from(OPTIONS))
def test_any_file_lands_with_counts_that_add_up_or_is_refused(
    data: bytes, suffix: str, options: object
) -> None:
    if suffix.endswith(".gz"):
        data = gzip.compress(data, mtime=0) if data[:1] != b"\x00" else data[: len(data) // 2]
    land_bytes(data, suffix, options)  # type: ignore[arg-type]


def test_a_line_of_ten_megabytes_in_each_text_layout_is_carried_or_landed(tmp_path: Path) -> None:
    huge = b"7" * (10 << 20)
    for suffix, data in [
        (".csv", b"user_id,item_id,event_type,event_ts\n1,2,view,1767225600\n1,2,view," + huge + b"\n"),
        (
            ".jsonl",
            b'{"user_id":1,"item_id":2,"event_type":"view","event_ts":1767225600}\n{"x":"' + huge + b'"}\n',
        ),
        (".log", b"1,2,3,pv,1767225600\n1,2,3,pv," + huge + b"\n"),
    ]:
        land_bytes(data, suffix, OPTIONS[0])


def test_a_short_seeded_atheris_run_finds_no_crash(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "csv").write_bytes(b"\x00\x00user_id,item_id,event_type,event_ts\n1,2,view,1767225600\n")
    (corpus / "jsonl").write_bytes(
        b'\x01\x00{"user_id":1,"item_id":2,"event_type":"view","event_ts":1767225600}\n'
    )
    (corpus / "log").write_bytes(b"\x02\x01" + b"1,2,3,pv,1767225600\n1,2,3,buy,1767225601\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "tests/jobs/fuzz_land.py"), "-runs=400", "-seed=1", str(corpus)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
