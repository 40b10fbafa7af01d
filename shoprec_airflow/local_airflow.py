"""A local Airflow for one machine: api-server, scheduler, dag-processor and triggerer under SHOPREC_HOME.

`AIRFLOW_HOME` is `<home>/airflow`. Its `airflow.cfg` is generated on every start (mode 0600,
it holds the generated secrets): SQLite, LocalExecutor with low parallelism, the project's
`dags/`, every listener on 127.0.0.1 (the scheduler's and triggerer's log servers, which would
bind all interfaces, are not started: the api-server reads task logs from local files), and
SimpleAuthManager with one `admin` user whose generated password is stored with mode 0600 and
printed once. Each component's PID is recorded with its start time so `stop` only ever signals
the processes `start` launched.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from shoprec import processes
from shoprec.config import Settings

ADMIN_USER = "admin"
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer", "--skip-serve-logs"),
}


class AirflowStackError(RuntimeError):
    """The local Airflow could not be configured, started or stopped."""


@dataclass(frozen=True)
class Component:
    """One Airflow component: its PID file and whether that PID is still the process we started."""

    name: str
    pid: int | None
    running: bool
    rss_bytes: int

    def describe(self) -> str:
        """One status line."""
        if not self.running:
            return f"{self.name:<14} stopped"
        return f"{self.name:<14} running  pid {self.pid:<8} {self.rss_bytes / 2**20:,.0f} MiB"


class LocalAirflow:
    """The local Airflow of one shoprec home."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.airflow_home
        self.config_file = self.home / "airflow.cfg"
        self.passwords_file = self.home / "passwords.json"
        self.run_dir = self.home / "run"
        self.log_dir = self.home / "logs"

    @property
    def url(self) -> str:
        """Base URL of the api-server and UI."""
        return f"http://{self.settings.airflow_host}:{self.settings.airflow_port}"

    def env(self) -> dict[str, str]:
        """Environment for `airflow` commands and the components (tasks inherit it)."""
        env = dict(os.environ)
        env.update(
            AIRFLOW_HOME=str(self.home),
            AIRFLOW_CONFIG=str(self.config_file),
            SHOPREC_HOME=str(self.settings.home.resolve()),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        )
        return env

    def configure(self) -> str | None:
        """Write airflow.cfg and, the first time, the admin password; returns a new password, else None."""
        if not self.settings.dags.is_dir():
            raise AirflowStackError(f"the dags folder {self.settings.dags} is missing (SHOPREC_DAGS_DIR)")
        for folder in (self.home, self.run_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        new_password = None
        if not self.passwords_file.exists():
            new_password = secrets.token_urlsafe(18)
            _write_private(self.passwords_file, json.dumps({ADMIN_USER: new_password}) + "\n")
        _write_private(self.config_file, self._config_text(self._secrets()))
        return new_password

    def password(self) -> str:
        """The admin password (from the 0600 file written at the first start)."""
        try:
            return json.loads(self.passwords_file.read_text())[ADMIN_USER]
        except (OSError, KeyError, ValueError) as exc:
            raise AirflowStackError(
                f"no admin password in {self.passwords_file}: run `shoprec airflow up` first"
            ) from exc

    def airflow(self, *args: str, log_name: str | None = None, timeout: float = 600) -> None:
        """Run an `airflow` CLI command against this home; output goes to a log file when named."""
        command = [str(Path(sys.executable).with_name("airflow")), *args]
        if log_name is None:
            done = subprocess.run(command, env=self.env(), timeout=timeout, check=False)
        else:
            with open(self.log_dir / f"{log_name}.log", "ab") as log:
                done = subprocess.run(
                    command,
                    env=self.env(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=timeout,
                    check=False,
                )
        if done.returncode != 0:
            where = f"; see {self.log_dir / f'{log_name}.log'}" if log_name else ""
            raise AirflowStackError(
                f"`airflow {' '.join(args)}` failed with exit code {done.returncode}{where}"
            )

    def prepare(self) -> str | None:
        """Configure and migrate the metadata DB; returns a newly generated admin password, else None."""
        new_password = self.configure()
        self.airflow("db", "migrate", log_name="db-migrate")
        return new_password

    def start(self, *, wait_seconds: float = 180, progress: Callable[[str], None] = print) -> str | None:
        """Prepare, then start the components not already running; wait for the API.

        Returns:
            The admin password when it was generated by this call (to print once), else None.
        """
        progress(f"preparing the Airflow home {self.home} …")
        new_password = self.prepare()
        for component in self.status():
            if component.running:
                progress(f"{component.name} already running (pid {component.pid})")
                continue
            self._launch(component.name)
        self._wait_healthy(wait_seconds)
        return new_password

    def stop(self, *, grace_seconds: float = 30) -> list[str]:
        """Stop the components this home started (only PIDs recorded with their start time); names stopped."""
        files = {self._pid_file(name): name for name in COMPONENTS}
        return [files[path] for path in processes.stop(list(files), grace_seconds=grace_seconds)]

    def status(self) -> list[Component]:
        """Every component, whether it runs and its memory (process tree RSS)."""
        result = []
        for name in COMPONENTS:
            process = processes.recorded(self._pid_file(name))
            if process is None:
                result.append(Component(name, None, False, 0))
                continue
            result.append(Component(name, process.pid, True, processes.tree_rss(process)))
        return result

    def healthy(self) -> bool:
        """Whether the api-server answers its health endpoint."""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/monitor/health", timeout=5) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _launch(self, name: str) -> None:
        processes.launch(
            [str(Path(sys.executable).with_name("airflow")), *COMPONENTS[name]],
            pid_file=self._pid_file(name),
            log_file=self.log_dir / f"{name}.log",
            cwd=self.home,
            env=self.env(),
        )

    def _wait_healthy(self, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if self.healthy():
                return
            dead = [c.name for c in self.status() if not c.running]
            if dead:
                raise AirflowStackError(
                    f"Airflow {', '.join(dead)} exited; see {self.log_dir}/<component>.log"
                )
            time.sleep(2)
        raise AirflowStackError(f"the api-server did not answer on {self.url} within {wait_seconds:.0f} s")

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _secrets(self) -> Mapping[str, str]:
        """The generated secrets, kept from the previous airflow.cfg or made now."""
        parser = configparser.ConfigParser(interpolation=None)
        if self.config_file.exists():
            parser.read(self.config_file)
        kept = {
            "fernet_key": parser.get("core", "fernet_key", fallback=""),
            "jwt_secret": parser.get("api_auth", "jwt_secret", fallback=""),
            "api_secret_key": parser.get("api", "secret_key", fallback=""),
        }
        if not kept["fernet_key"]:
            from cryptography.fernet import Fernet

            kept["fernet_key"] = Fernet.generate_key().decode()
        for key in ("jwt_secret", "api_secret_key"):
            kept[key] = kept[key] or secrets.token_urlsafe(32)
        return kept

    def _config_text(self, generated: Mapping[str, str]) -> str:
        s = self.settings
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_dict(
            {
                "core": {
                    "dags_folder": str(s.dags),
                    "executor": "LocalExecutor",
                    "parallelism": str(s.airflow_parallelism),
                    "max_active_tasks_per_dag": str(s.airflow_parallelism),
                    "load_examples": "False",
                    "dags_are_paused_at_creation": "True",
                    "auth_manager": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                    "simple_auth_manager_users": f"{ADMIN_USER}:admin",
                    "simple_auth_manager_passwords_file": str(self.passwords_file),
                    "fernet_key": generated["fernet_key"],
                    "execution_api_server_url": f"{self.url}/execution/",
                },
                "database": {"sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}"},
                "api": {
                    "host": s.airflow_host,
                    "port": str(s.airflow_port),
                    "base_url": self.url,
                    "workers": "1",
                    "secret_key": generated["api_secret_key"],
                    "expose_config": "False",
                },
                "api_auth": {"jwt_secret": generated["jwt_secret"]},
                "logging": {"base_log_folder": str(self.log_dir / "tasks")},
                "scheduler": {"enable_health_check": "False"},
            }
        )
        text = io.StringIO()
        text.write("# Generated by `shoprec airflow up` on every start; change shoprec's settings instead.\n")
        parser.write(text)
        return text.getvalue()


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), atomically."""
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(partial, 0o600)
    partial.replace(path)
