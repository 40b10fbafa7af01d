"""Airflow Assets for shoprec's outputs, derived from the table catalog (one Asset per table).

A task that writes a table lists its Asset in `outlets`, so every update shows in the Airflow UI
and downstream DAGs can be scheduled on it, e.g. `schedule=[table("reco.user_recommendations")]`.
"""

from __future__ import annotations

from airflow.sdk import Asset

from shoprec import catalog

LAKE_GROUP = "shoprec-lake"

_TABLES: dict[str, Asset] = {
    name: Asset(name=name, uri=f"x-shoprec://lake/{name.replace('.', '/')}", group=LAKE_GROUP)
    for name in catalog.TABLES
}

RANKER = Asset(
    name=f"models.{catalog.RANKER_MODEL}",
    uri=f"x-shoprec://models/{catalog.RANKER_MODEL}",
    group="shoprec-models",
)
"""The registered DLRM ranker (a new version, possibly a new champion)."""


def table(name: str) -> Asset:
    """The Asset of a catalog table, e.g. `table("clean.events")`."""
    catalog.get(name)  # unknown names fail with the catalog's message
    return _TABLES[name]


def tables(*names: str) -> list[Asset]:
    """The Assets of several catalog tables."""
    return [table(name) for name in names]
