"""Loading an exported ranker and scoring example-shaped rows with it in one process.

An exported model is a directory: ``model.pt`` (the ranker's weights: one state dict, or a list of
them for an ensemble), ``spec.json`` (feature spec with the normalisation statistics) and
``model_config.json`` (architecture). Scoring converts rows with exactly the spec the model was
trained with, so train and serve cannot drift apart.

An ensemble is several DLRMs of one spec and architecture trained on the same rows with different
seeds (`models.workflow`); its score is the mean of the members' probabilities. On small logs the
seed alone moves a single ranker's lists noticeably, and the mean of a few removes most of that.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import torch
from torch import nn

from models.data import Batch, dense_matrix, sparse_ids, to_batch
from models.dlrm import ModelConfig, build_ranker
from models.features import FeatureSpec, SpecError
from shoprec import storage
from shoprec.storage import Location

WEIGHTS = "model.pt"
SPEC = "spec.json"
CONFIG = "model_config.json"
# `_RowIndex` uses a lookup array (4 bytes a slot) while the ids span at most this many slots per
# id, or at most the minimum (64 MB: a bucket's users are a sparse slice of the shop's ids)
_LOOKUP_SPAN_PER_ID = 8
_LOOKUP_MIN_SPAN = 1 << 24


@dataclass
class Ranker:
    """A trained scoring model with the spec it expects: one DLRM, or an ensemble of several.

    Attributes:
        models: The members (one for a plain ranker), all built from `spec` and `config`.
        spec: The feature spec, with the normalisation statistics of the training rows.
        config: The architecture.
    """

    models: tuple[nn.Module, ...]
    spec: FeatureSpec
    config: ModelConfig

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("a ranker needs at least one model")

    @classmethod
    def ensemble(cls, members: list[Ranker]) -> Ranker:
        """One ranker averaging `members`, which must share their spec and architecture."""
        first = members[0]
        for member in members[1:]:
            if member.spec.to_json() != first.spec.to_json() or member.config != first.config:
                raise SpecError("ensemble members must share their feature spec and architecture")
        return cls(tuple(m for member in members for m in member.models), first.spec, first.config)

    @classmethod
    def load(cls, directory: Path) -> Ranker:
        """Load an exported model directory; missing files or mismatched weights fail with the reason."""
        for name in (WEIGHTS, SPEC, CONFIG):
            if not (directory / name).is_file():
                raise SpecError(f"exported model {directory} lacks {name}")
        spec = FeatureSpec.load(directory / SPEC)
        config = ModelConfig.load(directory / CONFIG)
        states = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        models = []
        for state in states if isinstance(states, list) else [states]:
            model = build_ranker(spec, config, sparse_device=torch.device("cpu"))
            try:
                model.load_state_dict(state)
            except RuntimeError as exc:
                first = str(exc).strip().splitlines()[:2]
                raise SpecError(
                    f"weights in {directory / WEIGHTS} do not fit its spec/config: {' '.join(first)}"
                ) from None
            models.append(model.eval())
        return cls(tuple(models), spec, config)

    def save(self, directory: Path) -> None:
        """Write the three files of an exported model."""
        directory.mkdir(parents=True, exist_ok=True)
        states = [model.state_dict() for model in self.models]
        torch.save(states[0] if len(states) == 1 else states, directory / WEIGHTS)
        self.spec.save(directory / SPEC)
        (directory / CONFIG).write_text(self.config.to_json())

    def logits(self, batch: Batch) -> np.ndarray:
        """Raw scores [members, B] of a converted batch."""
        with torch.inference_mode():
            return np.stack(
                [
                    model(batch.dense_features, batch.sparse_features).squeeze(-1).numpy()
                    for model in self.models
                ]
            )

    def predict(self, rows: pa.Table) -> np.ndarray:
        """Purchase/interaction probability [B] for example-shaped rows (the members' mean)."""
        return (1.0 / (1.0 + np.exp(-self.logits(to_batch(rows, self.spec))))).mean(axis=0)


class PairScorer:
    """Scores many (user, item) candidates, computing each user's and each item's part once.

    A DLRM row's inputs split by owner: user-level dense and sparse features (the same for all of a
    user's candidates), item-level ones (the same for every user), and pair-level dense features.
    The normalised dense values of each user and item, and each member's pooled embeddings of them,
    are computed once; a batch of pairs then only gathers them and runs the MLPs and the
    interaction. Scores equal `Ranker.predict` on the joined rows (tested).

    Args:
        ranker: The model(s) and the spec.
        users: One row per user: user_id and every user-level spec column.
        items: One row per item: item_id and every item-level spec column.
    """

    def __init__(self, ranker: Ranker, users: pa.Table, items: pa.Table) -> None:
        self.ranker = ranker
        spec = ranker.spec
        self.pair_dense = [f for f in spec.dense if f.name not in users.column_names + items.column_names]
        self._owner = {f.name: _owner(f.name, users, items) for f in spec.dense}
        self._rows = {
            "users": _RowIndex(users.column("user_id").to_numpy(), "user_id", "users"),
            "items": _RowIndex(items.column("item_id").to_numpy(), "item_id", "items"),
        }
        self._dense = {
            owner: torch.from_numpy(
                dense_matrix(table, [f for f in spec.dense if self._owner[f.name] == owner])
            )
            for owner, table in (("users", users), ("items", items))
        }
        # where each owner's columns go in the model's dense input, so a batch is built by three
        # gathers into one preallocated tensor instead of column by column
        self._dense_slots = {
            owner: _slot([k for k, f in enumerate(spec.dense) if self._owner[f.name] == owner])
            for owner in ("users", "items", "pairs")
        }
        order = list(ranker.models[0].sparse_arch.sparse_feature_names)
        user_features = {f.name for f in spec.sparse if all(c in users.column_names for c in f.columns)}
        # per member, each sparse feature in the model's order: its owner and the owner's pooled
        # embeddings [rows, dim] (one contiguous gather per feature and batch)
        self._pooled = []
        for model in ranker.models:
            pooled = {**_pooled(model, spec, users), **_pooled(model, spec, items)}
            self._pooled.append(
                [("users" if name in user_features else "items", pooled[name]) for name in order]
            )

    def item_rows(self, item_ids: np.ndarray) -> np.ndarray:
        """Row of each of `item_ids` in the items table the scorer was built with."""
        return self._rows["items"].rows(item_ids)

    def scores(self, pairs: pa.Table) -> np.ndarray:
        """Probabilities [B] for pairs (user_id, item_id and the pair-level columns): the members' mean."""
        rows = {
            "users": torch.from_numpy(self._rows["users"].rows(pairs.column("user_id").to_numpy())),
            "items": torch.from_numpy(self.item_rows(pairs.column("item_id").to_numpy())),
        }
        pair_dense = torch.from_numpy(dense_matrix(pairs, self.pair_dense))
        dense = torch.empty((len(pairs), len(self.ranker.spec.dense)), dtype=self._dense["users"].dtype)
        for owner in ("users", "items"):
            dense[:, self._dense_slots[owner]] = torch.index_select(self._dense[owner], 0, rows[owner])
        dense[:, self._dense_slots["pairs"]] = pair_dense.to(dense.dtype)
        total = torch.zeros(len(pairs), dtype=torch.float64)
        for model, features in zip(self.ranker.models, self._pooled, strict=True):
            sparse = torch.stack(
                [torch.index_select(pooled, 0, rows[owner]) for owner, pooled in features], dim=1
            )
            with torch.inference_mode():
                embedded_dense = model.dense_arch(dense)
                logits = model.over_arch(
                    model.inter_arch(dense_features=embedded_dense, sparse_features=sparse)
                )
            total += torch.sigmoid(logits.squeeze(-1)).to(torch.float64)
        return (total / len(self.ranker.models)).numpy()


class _RowIndex:
    """Row positions of ids in one table's id column.

    A lookup array when the ids span at most a few times their count (ids numbered densely: one
    memory read per id), else a binary search over the sorted ids.
    """

    def __init__(self, ids: np.ndarray, column: str, table: str) -> None:
        self._column, self._table = column, table
        self._low = int(ids.min()) if len(ids) else 0
        span = int(ids.max()) - self._low + 1 if len(ids) else 0
        self._lookup: np.ndarray | None = None
        if span <= max(_LOOKUP_SPAN_PER_ID * len(ids), _LOOKUP_MIN_SPAN):
            self._lookup = np.full(span, -1, dtype=np.int32)
            self._lookup[ids - self._low] = np.arange(len(ids), dtype=np.int32)
        else:
            self._order = np.argsort(ids, kind="stable")
            self._sorted = ids[self._order]

    def rows(self, wanted: np.ndarray) -> np.ndarray:
        """Row of each wanted id; an id without a row fails with its value."""
        if self._lookup is None:
            positions = np.minimum(np.searchsorted(self._sorted, wanted), len(self._sorted) - 1)
            found = np.where(self._sorted[positions] == wanted, self._order[positions], -1)
        elif len(self._lookup) == 0:
            found = np.full(len(wanted), -1, dtype=np.int64)
        else:
            offsets = np.clip(wanted - self._low, 0, len(self._lookup) - 1)
            found = np.where(offsets + self._low == wanted, self._lookup[offsets].astype(np.int64), -1)
        missing = found < 0
        if missing.any():
            raise SpecError(
                f"pair {self._column} {int(wanted[missing][0])} has no row in the {self._table} table"
            )
        return found


def _pooled(model: nn.Module, spec: FeatureSpec, table: pa.Table) -> dict[str, torch.Tensor]:
    """Per sparse feature `table` holds: `model`'s pooled embeddings of its rows [rows, dim]."""
    bags = model.sparse_arch.embedding_bag_collection.embedding_bags
    pooled = {}
    for feature in spec.sparse:
        if all(c in table.column_names for c in feature.columns):
            lengths, ids = sparse_ids(table, feature, spec.table_rows[feature.table])
            offsets = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
            with torch.inference_mode():
                pooled[feature.name] = bags[feature.table](torch.from_numpy(ids), torch.from_numpy(offsets))
    return pooled


def _slot(positions: list[int]) -> slice | torch.Tensor:
    """An index for `positions`: a slice when they are contiguous (a plain copy), else a tensor."""
    if positions and positions == list(range(positions[0], positions[-1] + 1)):
        return slice(positions[0], positions[-1] + 1)
    return torch.tensor(positions, dtype=torch.long)


def _owner(column: str, users: pa.Table, items: pa.Table) -> str:
    if column in users.column_names:
        return "users"
    return "items" if column in items.column_names else "pairs"


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's CPU threads (process-wide) set to `threads`, unchanged when None, until the block ends."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class ScoringStats:
    """Pairs scored and the time the model took (reading and writing included)."""

    pairs: int
    users: int
    items: int
    seconds: float

    @property
    def pairs_per_second(self) -> float:
        """Throughput of the scoring loop."""
        return self.pairs / max(self.seconds, 1e-9)


def score_files(
    ranker: Ranker,
    users: Location,
    items: Location,
    pairs: Location,
    out: Location,
    carry: Sequence[str] = (),
    batch_rows: int = 65_536,
) -> ScoringStats:
    """Score Parquet pairs against Parquet users/items tables; write (user_id, item_id, score, *carry) Parquet.

    Memory holds the users and items tables (one row each) and one batch of pairs at a time.

    Args:
        ranker: The model.
        users: Parquet of user_id + the user feature columns.
        items: Parquet of item_id + the item feature columns.
        pairs: Parquet of user_id, item_id + the pair feature columns.
        out: Folder to write scores.parquet into.
        carry: Columns written next to each score (so a caller needs no join back): a column of
            `pairs` when it has one, else the pair's item's column of `items`.
        batch_rows: Pairs scored per batch.

    Raises:
        SpecError: A carried column is in neither table.
    """
    started = time.perf_counter()
    user_table = ds.dataset(str(users), format="parquet").to_table()
    item_table = ds.dataset(str(items), format="parquet").to_table()
    pair_data = ds.dataset(str(pairs), format="parquet")
    scorer = PairScorer(ranker, user_table, item_table)
    pair_schema = pair_data.schema
    from_pairs = [c for c in carry if c in pair_schema.names]
    unknown = [c for c in carry if c not in from_pairs and c not in item_table.column_names]
    if unknown:
        raise SpecError(f"cannot carry {unknown}: neither the pairs nor the items have them")
    wanted = list(dict.fromkeys(["user_id", "item_id", *(f.name for f in scorer.pair_dense), *from_pairs]))
    schema = pa.schema(
        [
            ("user_id", pa.int64()),
            ("item_id", pa.int64()),
            ("score", pa.float64()),
            *((pair_schema if c in from_pairs else item_table.schema).field(c) for c in carry),
        ]
    )
    total = 0
    storage.make_folder(out)
    with pq.ParquetWriter(str(out / "scores.parquet"), schema) as writer:
        for batch in pair_data.to_batches(columns=wanted, batch_size=batch_rows):
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            scores = scorer.scores(table)
            carried = [table.column(c) for c in from_pairs]
            if len(from_pairs) < len(carry):
                rows = scorer.item_rows(table.column("item_id").to_numpy())
                carried = [
                    table.column(c) if c in from_pairs else item_table.column(c).take(rows) for c in carry
                ]
            writer.write_table(
                pa.table(
                    [table.column("user_id"), table.column("item_id"), pa.array(scores), *carried],
                    schema=schema,
                )
            )
            total += batch.num_rows
    return ScoringStats(total, user_table.num_rows, item_table.num_rows, time.perf_counter() - started)
