"""Running `shoprec` commands as separate processes over a lake, as an operator or Airflow would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from shoprec.config import Settings

SHOPREC = str(Path(sys.executable).with_name("shoprec"))


def environment(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a `shoprec` process over `settings`' lake (this checkout's code first)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPREC_")}
    env.update(
        SHOPREC_HOME=str(settings.home),
        SHOPREC_LAKE_DIR=str(settings.lake),
        PYTHONPATH=os.pathsep.join(sys.path),
        **(extra or {}),
    )
    return env


def start(
    settings: Settings, args: Sequence[str], extra: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    """Start `shoprec ARGS…` with output captured."""
    return subprocess.Popen(
        [SHOPREC, *args],
        env=environment(settings, extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(
    settings: Settings, args: Sequence[str], extra: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `shoprec ARGS…` to its end."""
    return subprocess.run(
        [SHOPREC, *args], env=environment(settings, extra), capture_output=True, text=True, timeout=timeout
    )
