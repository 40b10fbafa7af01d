"""The feature spec: checked against the examples table, serialised with its statistics."""

from __future__ import annotations

import numpy as np
import pytest

from models.data import bucket
from models.features import DENSE_FEATURES, DenseFeature, FeatureSpec, SpecError


def test_spec_round_trips_with_statistics() -> None:
    spec = FeatureSpec().with_stats({f.name: (1.5, 2.0) for f in DENSE_FEATURES})
    again = FeatureSpec.from_json(spec.to_json())
    assert again == spec
    assert again.dense[0].mean == 1.5
    assert again.dense[0].std == 2.0


def test_spec_rejects_a_column_the_examples_table_lacks() -> None:
    with pytest.raises(SpecError, match=r"missing from training.examples: \['u_mood'\]"):
        FeatureSpec(dense=(DenseFeature("u_mood", "identity"),))


def test_spec_needs_rows_for_every_table() -> None:
    with pytest.raises(SpecError, match=r"no row count for embedding tables \['t_brand'\]"):
        FeatureSpec(table_rows={"t_user": 8, "t_item": 8, "t_category": 8})


def test_spec_of_another_version_is_refused() -> None:
    text = FeatureSpec().to_json().replace('"version": 1', '"version": 99')
    with pytest.raises(SpecError, match="version 99 is not supported"):
        FeatureSpec.from_json(text)


def test_bucketing_reserves_row_zero_and_keeps_new_ids_in_range() -> None:
    ids = np.array([0, 1, 6, 7, 8, 1_000_003])
    rows = bucket(ids, 8)
    assert rows.tolist() == [0, 2, 7, 1, 2, 1 + 1_000_003 % 7]
    assert rows.min() >= 0
    assert rows.max() < 8
