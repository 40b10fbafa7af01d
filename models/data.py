"""Streaming `training.examples` from Delta into TorchRec batches, without Spark and without loading it all.

A training run reads one pinned Delta version of the table (delta-rs + pyarrow) in record batches of
a few tens of thousands of rows. Each epoch visits the rows in a seeded pseudo-random order that is a
function of the rows alone (a hash of each row's key, see `Examples.shuffled`), so neither the order
of the files nor how Delta split the rows into files changes what the model sees; at most
`SHUFFLE_ROWS` rows are held at once, more spill to local disk in key ranges. Ranks share that
stream: each global batch of ``batch_size * world_size`` rows is cut into one slice per rank, so
every rank takes the same number of steps (the collective all-to-alls need that) and no row is read
by two ranks' models. Inputs are checked as they are converted: a missing column, a wrong type, a null, a
non-finite or negative value fails with the label_date, column and an example row.

Notation: B = rows in a batch, F = dense features, K = sparse features.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import torch
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from torchrec.sparse.jagged_tensor import KeyedJaggedTensor
from torchrec.streamable import Pipelineable

from models.features import DenseFeature, FeatureSpec, SparseFeature
from shoprec import catalog
from shoprec.storage import Location

TABLE = catalog.TRAINING_EXAMPLES
READ_ROWS = 65_536  # rows per Parquet read
SHUFFLE_ROWS = 262_144  # rows a shuffle holds in memory; memory stays bounded by this, not by the table
ROW_KEY = ("label_date", "user_id", "item_id")  # one example per key; its hash orders the rows


class DataError(ValueError):
    """The examples cannot be used for training or scoring; the message says where and why."""


@dataclass
class Batch(Pipelineable):
    """One step's input: dense [B, F] float32, sparse KJT (K keys), labels [B] and weights [B]."""

    dense_features: torch.Tensor
    sparse_features: KeyedJaggedTensor
    labels: torch.Tensor
    weights: torch.Tensor

    def to(self, device: torch.device, non_blocking: bool = False) -> Batch:
        """Move every tensor to `device`."""
        return Batch(
            self.dense_features.to(device=device, non_blocking=non_blocking),
            self.sparse_features.to(device=device, non_blocking=non_blocking),
            self.labels.to(device=device, non_blocking=non_blocking),
            self.weights.to(device=device, non_blocking=non_blocking),
        )

    def record_stream(self, stream: torch.Stream) -> None:
        """Tell the caching allocator these tensors are used on `stream` (CUDA pipelines)."""
        self.dense_features.record_stream(stream)
        self.sparse_features.record_stream(stream)
        self.labels.record_stream(stream)
        self.weights.record_stream(stream)

    def pin_memory(self) -> Batch:
        """Page-lock the tensors for faster host-to-device copies."""
        return Batch(
            self.dense_features.pin_memory(),
            self.sparse_features.pin_memory(),
            self.labels.pin_memory(),
            self.weights.pin_memory(),
        )


@dataclass(frozen=True)
class Examples:
    """A pinned Delta version of training.examples restricted to some label dates."""

    location: Location
    version: int
    dates: tuple[date, ...]
    rows_per_date: dict[date, int]
    dataset: ds.Dataset

    @property
    def rows(self) -> int:
        """Rows over all the selected label dates."""
        return sum(self.rows_per_date.values())

    def fragments(self) -> list[ds.Fragment]:
        """Data files of the selected dates, sorted by path."""
        return sorted(self.dataset.get_fragments(filter=_dates_filter(self.dates)), key=lambda f: f.path)

    def record_batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """Stream the selected rows, file by file; label_date is always included for error messages."""
        wanted = list(dict.fromkeys([*columns, "label_date"]))
        for fragment in self.fragments():
            yield from fragment.to_batches(
                schema=self.dataset.schema, columns=wanted, batch_size=READ_ROWS, use_threads=False
            )

    def shuffled(
        self, columns: Sequence[str], seed: int, epoch: int, hold_rows: int = SHUFFLE_ROWS
    ) -> Iterator[pa.Table]:
        """The selected rows sorted by `row_keys` (a permutation per seed and epoch), in tables.

        The order depends on the rows' keys alone, not on the files: the same rows split into other
        files come out in the same order. When there are more than `hold_rows` rows, one pass writes
        them to 2^b key-range files (each about `hold_rows` rows, lz4 Arrow IPC in a temporary
        directory), then each range is read and sorted in turn; the ranges follow each other in key
        order, so the result is the same as sorting everything at once.
        """
        wanted = list(dict.fromkeys([*columns, *ROW_KEY]))
        bits = max(0, math.ceil(math.log2(max(1, math.ceil(self.rows / hold_rows)))))
        if bits == 0:
            yield _sorted_by_key(pa.Table.from_batches(list(self.record_batches(wanted))), seed, epoch)
            return
        with tempfile.TemporaryDirectory(prefix="shoprec-shuffle-") as tmp:
            paths = [Path(tmp) / f"range_{part:05d}.arrow" for part in range(1 << bits)]
            writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
            options = pa.ipc.IpcWriteOptions(compression="lz4")
            try:
                for batch in self.record_batches(wanted):
                    parts = row_keys(batch, seed, epoch) >> np.uint64(64 - bits)
                    for part in np.unique(parts).tolist():
                        if part not in writers:
                            writers[part] = pa.ipc.new_file(paths[part], batch.schema, options=options)
                        writers[part].write_batch(batch.take(np.flatnonzero(parts == part)))
            finally:
                for writer in writers.values():
                    writer.close()
            for part in sorted(writers):
                with pa.memory_map(str(paths[part])) as source:
                    yield _sorted_by_key(pa.ipc.open_file(source).read_all(), seed, epoch)


def open_examples(
    location: Location, dates: Sequence[date], version: int | None = None, *, skip_empty: bool = False
) -> Examples:
    """Open training.examples at `version` (latest when None) for `dates`.

    Every date must have rows, unless `skip_empty`: then dates without rows are left out (a label
    day whose candidates held none of the day's interactions) and only none at all is an error.
    """
    try:
        table = DeltaTable(str(location), version=version)
    except TableNotFoundError:
        raise DataError(
            f"{TABLE.name} has no Delta table at {location}; run `shoprec examples` first"
        ) from None
    dataset = table.to_pyarrow_dataset()
    check_schema(dataset.schema)
    rows = {d: dataset.count_rows(filter=_dates_filter([d])) for d in dates}
    empty = [d.isoformat() for d, n in rows.items() if n == 0]
    if skip_empty and len(empty) < len(rows):
        rows = {d: n for d, n in rows.items() if n}
        dates = tuple(rows)
    elif empty:
        raise DataError(
            f"{TABLE.name} (version {table.version()}) has no rows for label_date {', '.join(empty)}; "
            f"run `shoprec examples` for those dates"
        )
    return Examples(location, table.version(), tuple(dates), rows, dataset)


_KINDS = {
    "BIGINT": pa.types.is_integer,
    "INT": pa.types.is_integer,
    "DOUBLE": pa.types.is_floating,
    "FLOAT": pa.types.is_floating,
    "STRING": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
    "DATE": pa.types.is_date,
}


def check_schema(schema: pa.Schema) -> None:
    """Fail naming the column when the table lacks a declared column or stores it with another type."""
    for column in TABLE.columns:
        if column.name not in schema.names:
            raise DataError(f"{TABLE.name}: column {column.name} is missing (the table has {schema.names})")
        arrow_type = schema.field(column.name).type
        if not _KINDS.get(column.type, lambda _: True)(arrow_type):
            raise DataError(f"{TABLE.name}: column {column.name} is {arrow_type}, expected {column.type}")


def _dates_filter(dates: Sequence[date]) -> ds.Expression:
    return ds.field("label_date").isin(pa.array(list(dates), pa.date32()))


def row_keys(table: pa.Table | pa.RecordBatch, seed: int, epoch: int) -> np.ndarray:
    """A 64-bit hash of each row's (label_date, user_id, item_id), seed and epoch (uint64 [B])."""
    keys = _mix(np.full(table.num_rows, (seed * 0x9E3779B97F4A7C15 + epoch) % 2**64, dtype=np.uint64))
    for name in ROW_KEY:
        column = table.column(name)
        if pa.types.is_date(column.type):
            column = pc.cast(column, pa.int32())
        values = np.asarray(pc.fill_null(pc.cast(column, pa.int64()), 0)).view(np.uint64)
        keys = _mix(keys ^ values)
    return keys


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _sorted_by_key(table: pa.Table, seed: int, epoch: int) -> pa.Table:
    return table.take(np.argsort(row_keys(table, seed, epoch), kind="stable"))


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Regroup a stream of record batches into tables of exactly `rows` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending).combine_chunks()
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).combine_chunks()


def measure_dense(examples: Examples, spec: FeatureSpec) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of each transformed dense feature over the examples (one pass)."""
    names = [f.name for f in spec.dense]
    total = np.zeros(len(names))
    squares = np.zeros(len(names))
    count = 0
    for batch in examples.record_batches(names):
        table = pa.Table.from_batches([batch])
        values = np.stack([_dense_column(table, f.name, f.transform) for f in spec.dense], axis=1)
        total += values.sum(axis=0)
        squares += np.square(values).sum(axis=0)
        count += len(values)
    if count == 0:
        raise DataError(f"{TABLE.name}: no rows to measure the dense features on")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - np.square(mean), 0.0))
    return {n: (float(m), float(s) if s > 1e-6 else 1.0) for n, m, s in zip(names, mean, std, strict=True)}


def to_batch(table: pa.Table | pa.RecordBatch, spec: FeatureSpec) -> Batch:
    """Convert example rows to a checked, normalised Batch (ids bucketed as the spec says)."""
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    labels = _numbers(table, "label")
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        _fail(table, "label", bad, "must be 0 or 1")
    weights = _numbers(table, "weight")
    bad = ~(weights > 0)
    if bad.any():
        _fail(table, "weight", bad, "must be positive")
    lengths, values = zip(*(sparse_ids(table, f, spec.table_rows[f.table]) for f in spec.sparse), strict=True)
    sparse = KeyedJaggedTensor.from_lengths_sync(
        keys=spec.sparse_keys,
        values=torch.from_numpy(np.concatenate(values)),
        lengths=torch.from_numpy(np.concatenate(lengths)),
    )
    return Batch(
        torch.from_numpy(dense_matrix(table, spec.dense)),
        sparse,
        torch.from_numpy(labels.astype(np.float32)),
        torch.from_numpy(weights.astype(np.float32)),
    )


def dense_matrix(table: pa.Table, features: Sequence[DenseFeature]) -> np.ndarray:
    """Transformed, standardised dense features [B, len(features)] as float32 (checked)."""
    if not features:
        return np.zeros((table.num_rows, 0), dtype=np.float32)
    columns = [(_dense_column(table, f.name, f.transform) - f.mean) / f.std for f in features]
    return np.stack(columns, axis=1).astype(np.float32)


def sparse_ids(table: pa.Table, feature: SparseFeature, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-row id counts [B] (int32) and the flat bucketed ids of one sparse feature (checked)."""
    if feature.kind == "id_list":
        length, ids = _id_lists(table, feature.columns[0])
    else:
        matrix = np.stack([_ids(table, c) for c in feature.columns], axis=1)
        present = matrix > 0 if feature.kind == "bag" else np.ones_like(matrix, dtype=bool)
        length, ids = present.sum(axis=1), matrix[present]
    return length.astype(np.int32), bucket(ids, rows)


def bucket(ids: np.ndarray, rows: int) -> np.ndarray:
    """Embedding row of each id: 0 for unknown (id 0), else 1 + id mod (rows - 1)."""
    ids = ids.astype(np.int64, copy=False)
    return np.where(ids > 0, 1 + ids % (rows - 1), 0)


def rank_batches(
    examples: Examples,
    spec: FeatureSpec,
    batch_size: int,
    rank: int,
    world_size: int,
    *,
    seed: int,
    epoch: int,
    skip: int = 0,
) -> Iterator[Batch]:
    """This rank's slice of each full global batch of the epoch's order (`Examples.shuffled`).

    Incomplete last global batches are dropped; `skip` global batches are passed over without
    conversion (resuming mid-epoch).
    """
    global_rows = batch_size * world_size
    tables = examples.shuffled(spec.columns, seed, epoch)
    stream = rebatch((b for t in tables for b in t.to_batches(max_chunksize=global_rows)), global_rows)
    for index, table in enumerate(stream):
        if table.num_rows < global_rows:
            return
        if index >= skip:
            yield to_batch(table.slice(rank * batch_size, batch_size), spec)


def steps_per_epoch(examples: Examples, batch_size: int, world_size: int) -> int:
    """Full global batches in one pass over the examples."""
    return examples.rows // (batch_size * world_size)


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    column = table.column(name)
    if column.null_count:
        _fail(table, name, np.asarray(column.is_null()), "is null")
    return column


def _numbers(table: pa.Table, name: str) -> np.ndarray:
    values = _column(table, name).to_numpy()
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values)
        if bad.any():
            _fail(table, name, bad, "is not finite")
    return values


def _dense_column(table: pa.Table, name: str, transform: str) -> np.ndarray:
    values = _numbers(table, name).astype(np.float64)
    if transform == "log1p":
        bad = values < 0
        if bad.any():
            _fail(table, name, bad, "is negative (log1p feature)")
        return np.log1p(values)
    return values


def _ids(table: pa.Table, name: str) -> np.ndarray:
    values = _numbers(table, name).astype(np.int64)
    bad = values < 0
    if bad.any():
        _fail(table, name, bad, "is a negative id")
    return values


def _id_lists(table: pa.Table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Lengths [B] and flat ids of a column of space-separated ids ('' = none)."""
    column = _column(table, name).combine_chunks()
    bad = ~pc.match_substring_regex(column, r"^[0-9 ]*$").to_numpy(zero_copy_only=False)
    if bad.any():
        _fail(table, name, bad, "holds something other than space-separated non-negative ids")
    trimmed = pc.utf8_trim_whitespace(column)
    split = pc.utf8_split_whitespace(trimmed)
    empty = pc.equal(trimmed, "").to_numpy(zero_copy_only=False)
    lengths = np.where(empty, 0, pc.list_value_length(split).to_numpy())
    tokens = pc.list_flatten(split)
    tokens = pc.filter(tokens, pc.not_equal(tokens, ""))
    return lengths, pc.cast(tokens, pa.int64()).to_numpy()


def _fail(table: pa.Table, column: str, bad: np.ndarray, reason: str) -> None:
    index = int(np.flatnonzero(bad)[0]) if bad.any() else 0
    row = {
        k: table.column(k)[index].as_py()
        for k in ("label_date", "user_id", "item_id")
        if k in table.column_names
    }
    value = table.column(column)[index].as_py()
    raise DataError(
        f"{TABLE.name}: column {column} {reason} in {int(bad.sum())} row(s) of label_date {row.get('label_date')}; "
        f"e.g. user_id {row.get('user_id')}, item_id {row.get('item_id')}: {value!r}"
    )
