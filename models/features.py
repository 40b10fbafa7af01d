"""The model's feature spec: which `training.examples` columns feed it and how ids become rows.

Dense features are transformed (``log1p`` for counts, money and days; rates as they are), then
standardised with the mean and standard deviation measured on the training days; those statistics
are saved with the model so scoring applies exactly the same normalisation.

Sparse features are id lists looked up in embedding tables. Tables are shared where the ids mean the
same thing: ``item_id`` and the user's ``recent_items`` use one item table, ``category_id`` and the
user's ``top_categories`` one category table.

Vocabulary: ids are *bucketed*, not looked up in a fixed vocabulary, so users and items that appear
after training still get a row: id ``i > 0`` maps to row ``1 + i mod (rows - 1)``, row 0 is reserved
for "unknown" (id 0 or missing). With sequential ids this is collision-free until a table's id space
outgrows its rows, after which ids share rows (the hashing trick); raise the table's rows then.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from shoprec import catalog

Transform = Literal["log1p", "identity"]
SPEC_VERSION = 1


class SpecError(ValueError):
    """A feature spec or model file does not match what this code or the data expects."""


@dataclass(frozen=True)
class DenseFeature:
    """One dense input column, its transform and (once measured) its standardisation."""

    name: str
    transform: Transform
    mean: float = 0.0
    std: float = 1.0


@dataclass(frozen=True)
class SparseFeature:
    """One sparse input: the embedding table it looks up and the example columns holding its ids.

    ``kind`` is ``id`` (one id column), ``bag`` (several id columns, 0 = absent) or ``id_list``
    (one column of space-separated ids).
    """

    name: str
    table: str
    kind: Literal["id", "bag", "id_list"]
    columns: tuple[str, ...]


DENSE_FEATURES: tuple[DenseFeature, ...] = (
    DenseFeature("u_views_7d", "log1p"),
    DenseFeature("u_clicks_7d", "log1p"),
    DenseFeature("u_carts_7d", "log1p"),
    DenseFeature("u_purchases_30d", "log1p"),
    DenseFeature("u_distinct_items_30d", "log1p"),
    DenseFeature("u_active_days_30d", "log1p"),
    DenseFeature("u_days_since_last_event", "log1p"),
    DenseFeature("u_click_rate_30d", "identity"),
    DenseFeature("u_purchase_rate_30d", "identity"),
    DenseFeature("u_spend_30d", "log1p"),
    DenseFeature("i_views_7d", "log1p"),
    DenseFeature("i_clicks_7d", "log1p"),
    DenseFeature("i_purchases_7d", "log1p"),
    DenseFeature("i_users_7d", "log1p"),
    DenseFeature("i_click_rate_30d", "identity"),
    DenseFeature("i_conversion_rate_30d", "identity"),
    DenseFeature("i_trend_7d_vs_30d", "log1p"),
    DenseFeature("i_price", "log1p"),
    DenseFeature("i_days_since_listed", "log1p"),
    DenseFeature("uc_affinity_share", "identity"),
    DenseFeature("uc_category_rank", "log1p"),
    DenseFeature("uc_purchases_30d", "log1p"),
    DenseFeature("ui_cooc_score", "identity"),
    DenseFeature("ui_seen_7d", "log1p"),
    DenseFeature("ui_events_30d", "log1p"),
    DenseFeature("ui_purchases_365d", "log1p"),
    DenseFeature("ui_days_since_purchase", "log1p"),
    DenseFeature("ui_days_since_event", "log1p"),
    DenseFeature("ui_knn_score", "log1p"),
    DenseFeature("ui_source_score", "identity"),
    *(DenseFeature(f"ui_src_{source}", "identity") for source in catalog.CANDIDATE_SOURCES),
)

SPARSE_FEATURES: tuple[SparseFeature, ...] = (
    SparseFeature("user_id", "t_user", "id", ("user_id",)),
    SparseFeature("item_id", "t_item", "id", ("item_id",)),
    SparseFeature("recent_items", "t_item", "id_list", ("recent_items",)),
    SparseFeature("category_id", "t_category", "id", ("category_id",)),
    SparseFeature(
        "top_categories", "t_category", "bag", ("top_category_1", "top_category_2", "top_category_3")
    ),
    SparseFeature("brand_id", "t_brand", "id", ("brand_id",)),
)

DEFAULT_TABLE_ROWS: dict[str, int] = {
    "t_user": 1 << 18,
    "t_item": 1 << 17,
    "t_category": 1 << 10,
    "t_brand": 1 << 12,
}
LABEL_COLUMNS = ("label", "weight")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to turn example rows into model inputs, saved with every model."""

    dense: tuple[DenseFeature, ...] = DENSE_FEATURES
    sparse: tuple[SparseFeature, ...] = SPARSE_FEATURES
    table_rows: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TABLE_ROWS))
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        columns = set(catalog.TRAINING_EXAMPLES.column_names)
        used = {c for f in self.sparse for c in f.columns} | {f.name for f in self.dense}
        unknown = sorted(used - columns)
        if unknown:
            raise SpecError(
                f"feature spec uses columns missing from {catalog.TRAINING_EXAMPLES.name}: {unknown}"
            )
        tables = {f.table for f in self.sparse}
        missing = sorted(tables - set(self.table_rows))
        if missing:
            raise SpecError(f"feature spec: no row count for embedding tables {missing}")
        small = sorted(t for t, rows in self.table_rows.items() if rows < 2)
        if small:
            raise SpecError(f"feature spec: tables {small} need at least 2 rows (row 0 is reserved)")

    @property
    def columns(self) -> list[str]:
        """Example columns the model reads (labels included), in a stable order."""
        names = [*LABEL_COLUMNS, *(f.name for f in self.dense)]
        names += [c for f in self.sparse for c in f.columns]
        return list(dict.fromkeys(names))

    @property
    def sparse_keys(self) -> list[str]:
        """KeyedJaggedTensor keys in order."""
        return [f.name for f in self.sparse]

    def with_stats(self, stats: dict[str, tuple[float, float]]) -> FeatureSpec:
        """Return a copy whose dense features carry the measured (mean, std) per column."""
        return replace(
            self, dense=tuple(replace(f, mean=stats[f.name][0], std=stats[f.name][1]) for f in self.dense)
        )

    def to_json(self) -> str:
        """Serialise (stable key order) for model files and the registry."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Parse a spec written by `to_json`; a different spec version fails."""
        raw: dict[str, Any] = json.loads(text)
        if raw.get("version") != SPEC_VERSION:
            raise SpecError(
                f"feature spec version {raw.get('version')} is not supported (expected {SPEC_VERSION})"
            )
        return cls(
            dense=tuple(DenseFeature(**d) for d in raw["dense"]),
            sparse=tuple(SparseFeature(**{**s, "columns": tuple(s["columns"])}) for s in raw["sparse"]),
            table_rows={k: int(v) for k, v in raw["table_rows"].items()},
            version=raw["version"],
        )

    def save(self, path: Path) -> None:
        """Write the spec as JSON."""
        path.write_text(self.to_json())

    @classmethod
    def load(cls, path: Path) -> FeatureSpec:
        """Read a spec saved with `save`."""
        if not path.is_file():
            raise SpecError(f"feature spec {path} does not exist")
        return cls.from_json(path.read_text())
