"""An atheris fuzz target for `shoprec land`: any bytes, as any source layout, land or are refused.

Run by tests/jobs/test_land_fuzz.py for a few seeded seconds, and by `make fuzz` for longer:
    python tests/jobs/fuzz_land.py -runs=N -seed=S    (or -max_total_time=SECONDS)
A crash (anything but a LandError naming the file) or a broken count stops the run with its input.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from jobs.land import land
    from jobs.land_options import LandError, LandOptions
    from jobs.land_report import LandResult

SUFFIXES = (".csv", ".jsonl", ".log", ".csv.gz", ".parquet")
OPTIONS = (
    LandOptions(),
    LandOptions(timestamp_unit="ms"),
    LandOptions(timestamp_format="%Y-%m-%d %H:%M:%S"),
    LandOptions(timestamp_format="%b %d %H:%M", year=2026),
    LandOptions(event_type="view"),
)


def check(result: LandResult, landing: Path) -> None:
    """Read = landed + carried, and the day files hold exactly those lines, each valid UTF-8."""
    assert result.read == result.landed + result.carried, result.summary_lines()
    lines = 0
    for path in (landing / "events").rglob("land-*.jsonl"):
        text = path.read_bytes().decode()  # strict: the files are valid UTF-8
        lines += text.count("\n")
    assert lines == result.landed + result.carried, (lines, result.read)


def land_bytes(data: bytes, suffix: str, options: LandOptions) -> None:
    """Land `data` written as a source with `suffix`; a LandError is a refusal, anything else a bug."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-land-"))
    try:
        source = folder / f"source{suffix}"
        source.write_bytes(data)
        try:
            result = land([source], folder / "landing", options)
        except LandError as exc:
            assert str(source) in str(exc) or "--" in str(exc), exc
            return
        check(result, folder / "landing")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_one_input(data: bytes) -> None:
    """Split the fuzzer's bytes into a layout, options and the file's content."""
    provider = atheris.FuzzedDataProvider(data)
    suffix = SUFFIXES[provider.ConsumeIntInRange(0, len(SUFFIXES) - 1)]
    options = OPTIONS[provider.ConsumeIntInRange(0, len(OPTIONS) - 1)]
    land_bytes(provider.ConsumeBytes(provider.remaining_bytes()), suffix, options)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
