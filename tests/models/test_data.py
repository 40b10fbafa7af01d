"""Streaming examples into batches: shapes, rank slicing, and clear errors for bad input."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import write_deltalake

from models.data import DataError, open_examples, rank_batches, rebatch, steps_per_epoch, to_batch
from models.features import FeatureSpec
from tests.models.conftest import DAYS, ROWS_PER_DAY, SMALL_TABLES, TRAIN_DAYS, small_spec
from tests.models.synthetic import examples


def rows(n: int = 8) -> pa.Table:
    return examples(date(2026, 2, 1), n, seed=3)


def test_to_batch_builds_dense_sparse_labels_and_weights() -> None:
    table = rows(8).set_column(
        rows(8).schema.get_field_index("recent_items"),
        "recent_items",
        pa.array(["3 4", "", " 5 ", "", "", "", "", "1"]),
    )
    spec = FeatureSpec(table_rows=dict(SMALL_TABLES))
    batch = to_batch(table, spec)
    assert batch.dense_features.shape == (8, len(spec.dense))
    assert batch.sparse_features.keys() == spec.sparse_keys
    lengths = batch.sparse_features["recent_items"].lengths().tolist()
    assert lengths == [2, 0, 1, 0, 0, 0, 0, 1]
    assert batch.sparse_features["top_categories"].lengths().tolist() == [1] * 8  # zeros are absent, not ids
    assert batch.labels.tolist() == table.column("label").to_pylist()
    assert batch.weights.shape == (8,)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("u_spend_30d", float("nan"), "is not finite"),
        ("u_views_7d", -3, "is negative"),
        ("u_views_7d", None, "is null"),
        ("label", 2, "must be 0 or 1"),
        ("weight", 0.0, "must be positive"),
        ("recent_items", "12 x7", "other than space-separated"),
        ("item_id", -1, "negative id"),
    ],
)
def test_bad_values_fail_naming_column_date_and_row(column: str, value: object, reason: str) -> None:
    table = rows(8)
    index = table.schema.get_field_index(column)
    values = table.column(column).to_pylist()
    values[5] = value
    table = table.set_column(
        index, table.schema.field(index), pa.array(values, table.schema.field(index).type)
    )
    with pytest.raises(
        DataError, match=rf"column {column} .*{reason}.* label_date 2026-02-01; e\.g\. user_id \d+"
    ):
        to_batch(table, FeatureSpec(table_rows=dict(SMALL_TABLES)))


def test_missing_label_date_is_named(examples_table: Path) -> None:
    with pytest.raises(DataError, match="no rows for label_date 2027-01-01"):
        open_examples(examples_table, [date(2027, 1, 1)])


def test_days_without_examples_can_be_left_out_but_not_all_of_them(examples_table: Path) -> None:
    missing = date(2027, 1, 1)
    opened = open_examples(examples_table, [DAYS[0], missing], skip_empty=True)
    assert opened.dates == (DAYS[0],)
    assert opened.rows == ROWS_PER_DAY
    with pytest.raises(DataError, match="no rows for label_date 2027-01-01"):
        open_examples(examples_table, [missing], skip_empty=True)


def test_missing_table_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="run `shoprec examples` first"):
        open_examples(tmp_path / "nothing", TRAIN_DAYS)


def test_a_table_with_another_schema_is_refused(tmp_path: Path) -> None:
    table = rows(4)
    table = table.drop_columns(["u_spend_30d"]).set_column(
        table.schema.get_field_index("u_views_7d"),
        "u_views_7d",
        pc.cast(table.column("u_views_7d"), pa.string()),
    )
    write_deltalake(str(tmp_path / "t"), table, partition_by=["label_date"])
    with pytest.raises(DataError, match=r"column u_views_7d is string, expected BIGINT"):
        open_examples(tmp_path / "t", [date(2026, 2, 1)])


def test_ranks_get_equal_disjoint_slices_of_each_global_batch(examples_table: Path) -> None:
    found = open_examples(examples_table, TRAIN_DAYS)
    spec = small_spec(examples_table)
    assert found.rows == ROWS_PER_DAY * len(TRAIN_DAYS)
    per_rank = [list(rank_batches(found, spec, 100, rank, 2, seed=3, epoch=0)) for rank in (0, 1)]
    assert len(per_rank[0]) == len(per_rank[1]) == steps_per_epoch(found, 100, 2) == 40
    firsts = [b[0].sparse_features["user_id"].values().tolist() for b in per_rank]
    whole = next(rebatch(iter(next(found.shuffled(spec.columns, 3, 0)).to_batches()), 200))
    whole_users = to_batch(whole, spec).sparse_features["user_id"].values().tolist()
    assert firsts[0] + firsts[1] == whole_users


def test_skip_resumes_at_the_same_batch(examples_table: Path) -> None:
    found = open_examples(examples_table, DAYS)
    spec = small_spec(examples_table)
    full = list(rank_batches(found, spec, 256, 0, 1, seed=5, epoch=1))
    resumed = list(rank_batches(found, spec, 256, 0, 1, seed=5, epoch=1, skip=7))
    assert len(resumed) == len(full) - 7
    assert resumed[0].labels.tolist() == full[7].labels.tolist()


def test_rebatch_makes_exact_sizes() -> None:
    table = rows(10)
    sizes = [t.num_rows for t in rebatch(iter(table.to_batches(max_chunksize=3)), 4)]
    assert sizes == [4, 4, 2]


def _unique_rows(day: date, n: int) -> pa.Table:
    """Examples of one day with one row per (user_id, item_id), as `shoprec examples` writes them."""
    table = examples(day, n, seed=8)
    pairs = np.stack([table["user_id"].to_numpy(), table["item_id"].to_numpy()], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    return table.take(np.sort(first))


def _order(examples_location: Path, dates: list[date], seed: int, epoch: int, hold_rows: int) -> list[tuple]:
    found = open_examples(examples_location, dates)
    tables = list(found.shuffled(["label"], seed, epoch, hold_rows))
    whole = pa.concat_tables(tables)
    return list(zip(*(whole[c].to_pylist() for c in ("label_date", "user_id", "item_id")), strict=True))


def test_the_row_order_depends_on_the_rows_and_the_seed_not_on_the_files(tmp_path: Path) -> None:
    days = [date(2026, 3, 1), date(2026, 3, 2)]
    rows_of_day = {day: _unique_rows(day, 1_500) for day in days}
    one_file_per_day = tmp_path / "a"
    for day in days:
        write_deltalake(str(one_file_per_day), rows_of_day[day], mode="append", partition_by=["label_date"])
    many_files = tmp_path / "b"  # the same rows, in another order, in seven appends per day
    for day in reversed(days):
        table = rows_of_day[day]
        shuffled = table.take(pa.array(list(reversed(range(table.num_rows)))))
        for chunk in range(7):
            part = shuffled.slice(chunk * 250, 250)
            write_deltalake(str(many_files), part, mode="append", partition_by=["label_date"])
    assert len(open_examples(many_files, days).fragments()) > len(
        open_examples(one_file_per_day, days).fragments()
    )

    order = _order(one_file_per_day, days, seed=7, epoch=0, hold_rows=100_000)  # held in memory
    assert len(order) == len(set(order)) == sum(t.num_rows for t in rows_of_day.values())
    assert _order(many_files, days, seed=7, epoch=0, hold_rows=100_000) == order
    assert _order(many_files, days, seed=7, epoch=0, hold_rows=300) == order  # spilled in 16 key ranges
    assert _order(one_file_per_day, days, seed=7, epoch=1, hold_rows=100_000) != order
    assert _order(one_file_per_day, days, seed=8, epoch=0, hold_rows=100_000) != order
    first_days = [d for d, _, _ in order[:200]]
    assert set(first_days) == set(days)  # days are mixed, not read one after the other
