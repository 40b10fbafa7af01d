"""`ShoprecOperator`: an Airflow task that runs exactly one `shoprec` CLI command.

The command runs as a child process without a shell, so templated arguments (dates, params)
cannot inject anything. Its output streams into the task log. A failure the CLI explains
(`error: <reason>`, exit 1) fails the task without retries and with that reason; any other
non-zero exit (a crash, a kill) is retried. Exit code 99 marks the task skipped, following
Airflow's own convention for shell commands.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from shoprec.vocabulary import SKIPPED_EXIT_CODE

EXPLAINED_FAILURE = 1
ERROR_PREFIX = "error: "


def shoprec_executable() -> str:
    """The `shoprec` console script of the running interpreter's environment (else from PATH)."""
    beside = Path(sys.executable).with_name("shoprec")
    if beside.exists():
        return str(beside)
    found = shutil.which("shoprec")
    if found is None:
        raise AirflowFailException("the shoprec command is not installed in this Airflow's environment")
    return found


def _die_with_worker() -> None:
    """In the command's process: be killed when the worker that started it dies (Linux's parent-death signal).

    The command leads its own process group (so `on_kill` can stop it whole), so a worker killed
    without `on_kill` (SIGKILL, a lost machine) would otherwise leave it running beside the retry.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


class ShoprecOperator(BaseOperator):
    """Run `shoprec <arguments…>`; each argument is a Jinja template rendered on its own.

    Args:
        arguments: The command line after `shoprec`, e.g. `["ingest", "--date", "{{ ds }}"]`.
        **kwargs: BaseOperator arguments (task_id, retries, execution_timeout, outlets, …).
    """

    template_fields: Sequence[str] = ("arguments",)
    ui_color = "#e8f1fb"

    def __init__(self, *, arguments: Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.arguments = list(arguments)
        self._process: subprocess.Popen[str] | None = None

    @property
    def command(self) -> str:
        """The CLI command path without options, e.g. `ingest` or `models show`."""
        words = []
        for argument in self.arguments:
            if argument.startswith("-"):
                break
            words.append(argument)
        return " ".join(words)

    def execute(self, context: Any) -> None:
        """Run the command, stream its output to the task log and turn its exit code into a task state."""
        argv = [shoprec_executable(), *(str(a) for a in self.arguments)]
        self.log.info("running: %s", shlex.join(["shoprec", *argv[1:]]))
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_worker,
        )
        reason = None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            line = line.rstrip("\n")
            self.log.info("%s", line)
            if line.startswith(ERROR_PREFIX):
                reason = line.removeprefix(ERROR_PREFIX)
        code = self._process.wait()
        self._process = None
        if code == 0:
            return
        if code == SKIPPED_EXIT_CODE:
            raise AirflowSkipException(f"shoprec {self.command}: nothing to do")
        if code == EXPLAINED_FAILURE and reason:
            raise AirflowFailException(f"shoprec {self.command} failed: {reason}")
        raise AirflowException(f"shoprec {self.command} exited with code {code}")

    def on_kill(self) -> None:
        """Stop the command's whole process group (torchrun ranks, Sail) when Airflow kills the task."""
        if self._process is not None and self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
