"""The one settings object: environment variables `SHOPREC_*` over an optional `shoprec.toml`.

Precedence (highest first): explicit keyword arguments, `SHOPREC_*` environment variables,
`shoprec.toml` in the working directory (or the file named by `SHOPREC_CONFIG`), defaults.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from shoprec import storage

_METASTORE_URI = re.compile(r"^thrift://[A-Za-z0-9.-]+:[0-9]{1,5}(,thrift://[A-Za-z0-9.-]+:[0-9]{1,5})*$")


def packaged(folder: Literal["expectations", "dags"]) -> Path:
    """A data folder shipped with shoprec (`expectations/`, `dags/`), from a checkout or an installed wheel."""
    return Path(str(resources.files(folder)))


def _config_file() -> Path:
    return Path(os.environ.get("SHOPREC_CONFIG", "shoprec.toml"))


class Settings(BaseSettings):
    """Where shoprec keeps its data and how it reaches Spark."""

    model_config = SettingsConfigDict(env_prefix="SHOPREC_", extra="forbid", frozen=True)

    home: Path = Field(Path(".shoprec"), description="Root of landing/, lake/, airflow/, models/.")
    spark_remote: str | None = Field(
        None, description="Spark Connect URL (sc://host:port) of an existing server; unset = embedded Sail."
    )
    lake_host: str = Field("127.0.0.1", description="Interface `shoprec lake serve` binds to.")
    lake_port: int = Field(50051, ge=0, le=65535, description="Port of `shoprec lake serve` (0 = any free).")
    airflow_host: str = Field("127.0.0.1", description="Interface the local Airflow's api-server binds to.")
    airflow_port: int = Field(
        8080, ge=1, le=65535, description="Port of the local Airflow's api-server and UI."
    )
    airflow_parallelism: int = Field(2, ge=1, le=64, description="Tasks the local Airflow runs at once.")
    metastore_uri: str | None = Field(
        None,
        description="Hive Metastore (thrift://host:port) holding the lake's tables for every engine and "
        "client; unset = each Spark session registers the tables in its own in-memory catalog.",
    )
    metastore_host: str = Field(
        "127.0.0.1", description="Interface the local Hive Metastore (`shoprec metastore up`) binds to."
    )
    metastore_port: int = Field(9083, ge=1, le=65535, description="Thrift port of the local Hive Metastore.")
    metastore_jars: Path | None = Field(
        None,
        description="The local Hive Metastore's jars (infra/catalog/install.sh); "
        "default $XDG_CACHE_HOME/shoprec/hive-metastore-4.0.0.",
    )
    memory_gb: float | None = Field(
        None, gt=0, description="Memory (GiB) the per-user-bucket steps plan for; default: the machine's."
    )
    write_wait: float = Field(
        3600,
        ge=0,
        description="Seconds a write waits for another process writing the same table before giving up.",
    )
    landing_dir: Path | None = Field(None, description="Landing files; default <home>/landing.")
    lake_dir: str | Path | None = Field(
        None,
        description="Delta tables: a local folder or s3://bucket/prefix (endpoint and credentials from the "
        "AWS_* variables, see shoprec.storage); default <home>/lake.",
    )
    suites_dir: Path | None = Field(
        None, description="Great Expectations suite files; default the suites shipped with shoprec."
    )
    dags_dir: Path | None = Field(
        None, description="Airflow DAG files; default the DAGs shipped with shoprec."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read keyword arguments, then the environment, then `shoprec.toml`."""
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=_config_file())

    @field_validator("spark_remote")
    @classmethod
    def _check_remote(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("sc://"):
            raise ValueError(
                f"SHOPREC_SPARK_REMOTE must be a Spark Connect URL like sc://host:15002, got {value!r}"
            )
        return value or None

    @field_validator("metastore_uri")
    @classmethod
    def _check_metastore(cls, value: str | None) -> str | None:
        if value and not _METASTORE_URI.match(value):
            raise ValueError(
                "SHOPREC_METASTORE_URI must be a Hive Metastore Thrift URI like thrift://127.0.0.1:9083 "
                f"(several separated by commas), got {value!r}"
            )
        return value or None

    @field_validator("lake_dir")
    @classmethod
    def _check_lake(cls, value: str | Path | None) -> str | Path | None:
        if value is None:
            return None
        where = storage.location(value)  # raises for a URL of another scheme
        endpoint = storage.plain_http_without_permission()
        if isinstance(where, storage.ObjectPath) and endpoint:
            raise ValueError(
                f"the lake {where} is reached over plain http ({endpoint}, AWS_ENDPOINT_URL), which the "
                "engines refuse unless AWS_ALLOW_HTTP=true is set too"
            )
        return value

    @cached_property
    def landing(self) -> Path:
        """Folder holding the landing files (one folder per day)."""
        return (self.landing_dir or self.home / "landing").resolve()

    @cached_property
    def lake(self) -> storage.Location:
        """Root of the Delta tables (`<lake>/<schema>/<table>`): a local folder or an object store prefix."""
        return storage.location(self.lake_dir or self.home / "lake")

    @cached_property
    def locks(self) -> Path:
        """Local folder of the lake's lock files (write guards, scratch spaces).

        `<lake>/_locks` for a local lake; `<home>/locks` for a lake on an object store, which has no
        file locks: writers that share that home (one machine, or a shared volume) take turns per
        table, and the store's conditional writes keep any other writer from overwriting a commit.
        """
        if isinstance(self.lake, Path):
            return self.lake / "_locks"
        return (self.home / "locks").resolve()

    @cached_property
    def memory_bytes(self) -> int:
        """Memory the bucketed steps plan for: SHOPREC_MEMORY_GB, else the machine's total."""
        if self.memory_gb is not None:
            return int(self.memory_gb * 2**30)
        import psutil

        return int(psutil.virtual_memory().total)

    @cached_property
    def suites(self) -> Path:
        """Folder of the suite files (`<schema>.<table>.yaml`): SHOPREC_SUITES_DIR, else `expectations/`."""
        return (self.suites_dir or packaged("expectations")).resolve()

    @cached_property
    def dags(self) -> Path:
        """Folder of the Airflow DAG files: SHOPREC_DAGS_DIR, else `dags/`."""
        return (self.dags_dir or packaged("dags")).resolve()

    @cached_property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME of the local Airflow (`shoprec airflow up`): config, SQLite DB, logs."""
        return (self.home / "airflow").resolve()

    @cached_property
    def metastore_home(self) -> Path:
        """Home of the local Hive Metastore (`shoprec metastore up`): config, Derby database, logs, PID."""
        return (self.home / "metastore").resolve()

    @cached_property
    def metastore_lib(self) -> Path:
        """Where infra/catalog/install.sh puts the local Hive Metastore's jars (fetched from Maven Central)."""
        if self.metastore_jars is not None:
            return self.metastore_jars.resolve()
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return (cache / "shoprec" / "hive-metastore-4.0.0").resolve()

    @cached_property
    def demo_truth(self) -> Path:
        """Side folder with the demo generator's planted preferences (never read by the pipeline)."""
        return (self.home / "demo_truth").resolve()
