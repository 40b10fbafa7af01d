"""The tiny pipeline on Sail in local-cluster mode leaves the same tables as in local mode.

In local-cluster mode the driver plans and schedules, and workers run the tasks and exchange shuffle
data over RPC, as Sail does on Kubernetes (`kubernetes-cluster`), only in one process. Two workers of
two task slots fit the 2-core machine.
"""

from __future__ import annotations

import pytest

from shoprec import catalog
from tests.engines import pipeline
from tests.engines.conftest import BuiltLake

pytestmark = pytest.mark.cluster


def test_every_validation_gate_passes_in_local_cluster_mode(sail_cluster_built: BuiltLake) -> None:
    failures = {name: found for name, found in sail_cluster_built.outcome.blocking_failures.items() if found}
    assert not failures


def test_the_steps_report_the_same_counts(sail_cluster_built: BuiltLake, sail_built: BuiltLake) -> None:
    cluster, local = sail_cluster_built.outcome, sail_built.outcome
    assert cluster.examples == local.examples
    for field in ("users", "cold_start_users", "candidates", "rows", "audience_rows", "model_version"):
        assert getattr(cluster.published, field) == getattr(local.published, field), field


@pytest.mark.parametrize("table", list(catalog.TABLES))
def test_each_table_equals_local_modes(
    table: str, sail_cluster_built: BuiltLake, sail_built: BuiltLake
) -> None:
    difference = pipeline.differences(catalog.get(table), sail_built.settings, sail_cluster_built.settings)
    assert difference is None, difference
