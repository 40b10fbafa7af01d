"""Settings: environment over shoprec.toml over defaults; bad values fail naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shoprec.config import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("SHOPREC_HOME", "SHOPREC_SPARK_REMOTE", "SHOPREC_LAKE_PORT", "SHOPREC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_live_under_dot_shoprec(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.lake == tmp_path / ".shoprec" / "lake"
    assert settings.landing == tmp_path / ".shoprec" / "landing"
    assert settings.spark_remote is None
    assert settings.lake_host == "127.0.0.1"


def test_environment_overrides_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "shoprec.toml").write_text('home = "from-toml"\nlake_port = 6000\n')
    monkeypatch.setenv("SHOPREC_HOME", str(tmp_path / "from-env"))
    settings = Settings()
    assert settings.home == tmp_path / "from-env"
    assert settings.lake_port == 6000


def test_bad_remote_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPREC_SPARK_REMOTE", "localhost:15002")
    with pytest.raises(ValidationError, match="must be a Spark Connect URL like sc://host:15002"):
        Settings()


def test_unknown_toml_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "shoprec.toml").write_text('hme = "typo"\n')
    with pytest.raises(ValidationError, match="hme"):
        Settings()
