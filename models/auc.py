"""Offline ranking-model metrics on a held-out label day: AUC and log loss vs a popularity baseline.

The popularity baseline scores every example by the item's views, clicks and purchases in the 7 days
before the label day (``i_views_7d + i_clicks_7d + i_purchases_7d``: logs lack some of those types),
i.e. what "recommend what is popular" would rank with, on exactly the same rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
from sklearn.metrics import log_loss, roc_auc_score

from models.data import DataError, Examples, rebatch
from models.score import Ranker

SCORE_ROWS = 16_384
POPULARITY_COLUMNS = ("i_views_7d", "i_clicks_7d", "i_purchases_7d")


@dataclass(frozen=True)
class Metrics:
    """Metrics of one model on one label day."""

    rows: int
    positives: int
    auc: float
    log_loss: float
    popularity_auc: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for MLflow and JSON)."""
        return asdict(self)


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); needs both classes."""
    if labels.min() == labels.max():
        raise DataError("AUC needs positive and negative examples; the evaluation day has only one class")
    return float(roc_auc_score(labels, scores))


def score_examples(ranker: Ranker, examples: Examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, predicted probabilities and popularity scores for every example row."""
    labels, predictions, popularity = [], [], []
    for table in rebatch(examples.record_batches(ranker.spec.columns), SCORE_ROWS):
        labels.append(table.column("label").to_numpy())
        predictions.append(ranker.predict(table))
        popularity.append(sum(_column(table, name) for name in POPULARITY_COLUMNS))
    return np.concatenate(labels), np.concatenate(predictions), np.concatenate(popularity)


def evaluate(ranker: Ranker, examples: Examples) -> Metrics:
    """AUC and log loss of `ranker` on the examples, with the popularity baseline's AUC."""
    labels, predictions, popularity = score_examples(ranker, examples)
    return Metrics(
        rows=len(labels),
        positives=int(labels.sum()),
        auc=auc(labels, predictions),
        log_loss=float(log_loss(labels, np.clip(predictions, 1e-7, 1 - 1e-7), labels=[0, 1])),
        popularity_auc=auc(labels, popularity),
    )


def _column(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy().astype(np.float64)
