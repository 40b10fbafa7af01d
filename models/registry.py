"""The model registry: every trained ranker recorded in MLflow, with a champion alias for scoring.

Tracking and registry live in one SQLite file under ``SHOPREC_HOME/mlflow`` (no server needed);
artifacts (the exported model, its spec and the run's files) next to it. A run records parameters,
metrics (including the loss curve), the feature spec with its normalisation statistics, and the
Delta versions of the tables it was trained from. Each run registers one version of the model
``shoprec_ranker``; the alias ``champion`` names the version batch scoring uses.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from models.score import Ranker
from shoprec import catalog
from shoprec.config import Settings

MODEL_NAME = catalog.RANKER_MODEL
EXPERIMENT = "shoprec-ranker"
CHAMPION = "champion"
MODEL_ARTIFACTS = "model"

for _noisy in ("mlflow", "alembic"):
    logging.getLogger(_noisy).setLevel(logging.WARNING)


class RegistryError(LookupError):
    """A model version or alias that does not exist, or a registry that cannot be used."""


@dataclass(frozen=True)
class ModelRecord:
    """One registered model version as `shoprec models list` shows it."""

    version: int
    run_id: str
    created_at: datetime
    validation_date: str
    train_dates: str
    arch: str
    members: int
    auc: float | None
    popularity_auc: float | None
    decision: str
    champion: bool
    source: str

    @property
    def path(self) -> Path:
        """Local directory of the exported model."""
        parsed = urlparse(self.source)
        return Path(unquote(parsed.path)) if parsed.scheme in ("", "file") else Path(self.source)


class Registry:
    """MLflow tracking + model registry under one directory (``SHOPREC_HOME/mlflow`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{self.root / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=uri, registry_uri=uri)

    @classmethod
    def for_settings(cls, settings: Settings) -> Registry:
        """The registry of a shoprec home."""
        return cls(settings.home / "mlflow")

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(EXPERIMENT)
        if experiment is not None:
            return experiment.experiment_id
        return self.client.create_experiment(EXPERIMENT, artifact_location=(self.root / "artifacts").as_uri())

    def record(
        self,
        *,
        params: Mapping[str, object],
        metrics: Mapping[str, float],
        curve: list[dict[str, float]],
        tags: Mapping[str, str],
        model_dir: Path,
        run_files: list[Path],
    ) -> ModelRecord:
        """Log one training run and register its exported model as a new version."""
        run = self.client.create_run(self._experiment_id(), tags=dict(tags), run_name=tags.get("run_name"))
        run_id = run.info.run_id
        now = int(datetime.now(UTC).timestamp() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()]
            + [Metric("train_loss", p["loss"], now, int(p["step"])) for p in curve]
            + [
                Metric("train_samples_per_second", p["samples_per_second"], now, int(p["step"]))
                for p in curve
            ],
            params=[Param(k, str(v)) for k, v in params.items()],
        )
        self.client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACTS)
        for path in run_files:
            if path.exists():
                self.client.log_artifact(run_id, str(path), "run")
        self.client.set_terminated(run_id)
        try:
            self.client.create_registered_model(MODEL_NAME, description="shoprec DLRM ranker")
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        source = f"{run.info.artifact_uri}/{MODEL_ARTIFACTS}"
        version = self.client.create_model_version(MODEL_NAME, source, run_id=run_id, tags=dict(tags))
        return self.get(int(version.version))

    def set_decision(
        self, version: int, decision: str, *, promote: bool, details: Mapping[str, object]
    ) -> None:
        """Record the promotion decision on a version and move the champion alias if promoted."""
        self.client.set_model_version_tag(MODEL_NAME, str(version), "decision", decision)
        self.client.set_model_version_tag(MODEL_NAME, str(version), "decision_details", json.dumps(details))
        if promote:
            self.client.set_registered_model_alias(MODEL_NAME, CHAMPION, str(version))

    def versions(self) -> list[ModelRecord]:
        """Every registered version, newest first."""
        try:
            found = self.client.search_model_versions(f"name = '{MODEL_NAME}'")
        except MlflowException:
            return []
        champion = self._champion_version()
        records = [self._record(v, champion) for v in found]
        return sorted(records, key=lambda r: r.version, reverse=True)

    def get(self, version: int | None = None) -> ModelRecord:
        """A version by number, or the champion when `version` is None."""
        if version is None:
            champion = self._champion_version()
            if champion is None:
                raise RegistryError(f"model {MODEL_NAME} has no champion yet; run `shoprec train` first")
            version = champion
        try:
            found = self.client.get_model_version(MODEL_NAME, str(version))
        except MlflowException:
            raise RegistryError(f"model {MODEL_NAME} has no version {version}") from None
        return self._record(found, self._champion_version())

    def champion(self) -> ModelRecord | None:
        """The current champion, or None before the first promotion."""
        version = self._champion_version()
        return None if version is None else self.get(version)

    def load(self, version: int | None = None) -> tuple[ModelRecord, Ranker]:
        """Load a version (the champion by default) for scoring."""
        record = self.get(version)
        return record, Ranker.load(record.path)

    def _champion_version(self) -> int | None:
        try:
            return int(self.client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version)
        except MlflowException:
            return None

    def _record(self, version: object, champion: int | None) -> ModelRecord:
        tags = dict(version.tags or {})
        number = int(version.version)

        def number_tag(name: str) -> float | None:
            return float(tags[name]) if name in tags else None

        return ModelRecord(
            version=number,
            run_id=version.run_id,
            created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC),
            validation_date=tags.get("validation_date", ""),
            train_dates=tags.get("train_dates", ""),
            arch=tags.get("arch", ""),
            members=int(tags.get("members", 1)),
            auc=number_tag("auc"),
            popularity_auc=number_tag("popularity_auc"),
            decision=tags.get("decision", ""),
            champion=number == champion,
            source=version.source,
        )
