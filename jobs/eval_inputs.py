"""What offline evaluation reads: the published lists of run_date D, the targets after D, the history up to D.

One concern: reading the inputs of `jobs.offline_eval` into pandas (`EvalInputs`). Notation and
rules as there: D = run_date, h = a horizon in days, K = the cut-off. The targets of a user are the
distinct items they carted or bought on D + 1 .. D + h; only the users with published rows for D
and a target in some horizon are kept. A horizon whose days are not all in clean.events yet is
skipped (named); with no evaluable horizon, or nothing published for D, reading fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs import baselines
from jobs.clean import valid_on
from shoprec import catalog, engine, inputs, lake
from shoprec.config import Settings
from shoprec.vocabulary import COLD_START_MODEL, TARGET_EVENTS

HISTORY_COLUMNS = ["user_id", "item_id", "event_type", "event_date", "session_id"]


class NothingPublishedError(ValueError):
    """The run_date to evaluate has no published recommendations."""


@dataclass(frozen=True)
class EvalInputs:
    """What the methods and metrics need, as pandas.

    Attributes:
        run_date: D.
        history: clean.events up to D (HISTORY_COLUMNS; event_date as datetime64).
        published: (user_id, rank, item_id), the published rows of D with rank <= max K.
        targets: horizon -> (user_id, item_id) of the evaluated users' targets in the horizon.
        candidates: (user_id, item_id, sources) of reco.candidates for D, or None when not stored.
        catalogue: Item ids of clean.items valid on D.
        model_version: Ranker version(s) behind the published rows of D.
        skipped: horizon -> why it could not be evaluated.
    """

    run_date: date
    history: pd.DataFrame
    published: pd.DataFrame
    targets: dict[int, pd.DataFrame]
    candidates: pd.DataFrame | None
    catalogue: np.ndarray
    model_version: str | None
    skipped: dict[int, str]

    def users(self) -> np.ndarray:
        """Every user evaluated at some horizon, ascending."""
        frames = [t["user_id"] for t in self.targets.values()]
        return np.sort(pd.concat(frames).unique()) if frames else np.array([], dtype="int64")


def published_model_version(versions: list[str]) -> str | None:
    """The ranker version(s) of a run: its distinct versions other than cold start, comma-joined.

    A run served from popularity alone reports 'popularity'; no rows report None.
    """
    ranked = sorted({v for v in versions if v and v != COLD_START_MODEL})
    if ranked:
        return ",".join(ranked)
    return COLD_START_MODEL if COLD_START_MODEL in versions else None


def _partition(spark: SparkSession, settings: Settings, table: catalog.Table, day: date) -> DataFrame:
    return engine.read(spark, table, settings).where(
        engine.partition_predicate(table, {table.partition_by[0]: day})
    )


def load_published(
    spark: SparkSession, settings: Settings, day: date, k: int
) -> tuple[pd.DataFrame, str | None]:
    """The published rows of D with rank <= k and their model version; fails when D has none."""
    rows = _partition(spark, settings, catalog.RECO_USER_RECOMMENDATIONS, day).where(F.col("rank") <= k)
    published = rows.select("user_id", "rank", "item_id", "model_version").toPandas()
    if published.empty:
        raise NothingPublishedError(
            f"no {catalog.RECO_USER_RECOMMENDATIONS.name} rows for run_date {day}: "
            f"run `shoprec recommend --date {day}` first"
        )
    version = published_model_version(published["model_version"].dropna().unique().tolist())
    return published.drop(columns="model_version"), version


def evaluable_horizons(
    spark: SparkSession, settings: Settings, day: date, horizons: tuple[int, ...]
) -> tuple[list[int], dict[int, str]]:
    """The horizons whose days are all in clean.events, and why the others are not; fails when none is."""
    ready, skipped = [], {}
    for horizon in horizons:
        days = [day + timedelta(days=n) for n in range(1, horizon + 1)]
        try:
            inputs.require_days(
                spark,
                settings,
                catalog.CLEAN_EVENTS,
                days,
                f"(the next {horizon} day(s) after run_date {day})",
            )
        except inputs.MissingInputError as exc:
            skipped[horizon] = str(exc)
        else:
            ready.append(horizon)
    if not ready:
        first = min(horizons)
        raise inputs.MissingInputError(f"run_date {day} cannot be evaluated yet: {skipped[first]}")
    return ready, skipped


def load_history(settings: Settings, first: date | None, last: date) -> pd.DataFrame:
    """clean.events of first..last (first None: the whole history) with HISTORY_COLUMNS, via delta-rs.

    event_date comes as datetime64.
    """
    filters: list[tuple[str, str, object]] = [("event_date", "<=", last)]
    if first is not None:
        filters.append(("event_date", ">=", first))
    table = lake.delta_table(catalog.CLEAN_EVENTS, settings).to_pyarrow_table(
        filters=filters, columns=HISTORY_COLUMNS
    )
    # event_date as datetime64: tens of millions of Python date objects are slow to make and to compare
    return table.to_pandas(date_as_object=False)


def load_candidates(
    spark: SparkSession, settings: Settings, day: date, users: np.ndarray
) -> pd.DataFrame | None:
    """reco.candidates of D for `users` (user_id, item_id, sources), or None when D's set was not stored."""
    rows = _partition(spark, settings, catalog.RECO_CANDIDATES, day)
    if not rows.limit(1).collect():
        return None
    wanted = spark.createDataFrame(pd.DataFrame({"user_id": users.astype("int64")}))
    return rows.join(wanted, "user_id", "left_semi").select("user_id", "item_id", "sources").toPandas()


def load_catalogue(spark: SparkSession, settings: Settings, day: date, history: pd.DataFrame) -> np.ndarray:
    """The recommendable item ids on D; fails when there are none.

    clean.items valid on D; for a shop without any catalogue (clean.items empty) the items of the
    30 days up to D, the same rule as jobs/candidates.py's catalogue.
    """
    items = engine.read(spark, catalog.CLEAN_ITEMS, settings)
    if items.limit(1).collect():
        ids = items.where(valid_on(F.lit(day))).select("item_id").distinct().toPandas()["item_id"].to_numpy()
    else:
        ids = baselines.since(history, day, 30)["item_id"].unique()
    if len(ids) == 0:
        raise inputs.MissingInputError(
            f"{catalog.CLEAN_ITEMS.name} has no items valid on {day}: run shoprec clean --date {day}"
        )
    return np.sort(ids)


def load_inputs(
    spark: SparkSession,
    settings: Settings,
    day: date,
    *,
    horizons: tuple[int, ...],
    k: int,
) -> EvalInputs:
    """Read what run_date D's evaluation needs (see the module docstring for the rules)."""
    published, version = load_published(spark, settings, day, k)
    ready, skipped = evaluable_horizons(spark, settings, day, horizons)
    future = load_history(settings, day + timedelta(days=1), day + timedelta(days=max(ready)))
    wanted = future[future["event_type"].isin(TARGET_EVENTS) & future["user_id"].isin(published["user_id"])]
    targets = {}
    for horizon in ready:
        within = wanted[wanted["event_date"] <= pd.Timestamp(day + timedelta(days=horizon))]
        targets[horizon] = within[["user_id", "item_id"]].drop_duplicates().reset_index(drop=True)
    evaluated = np.sort(pd.concat([t["user_id"] for t in targets.values()]).unique())
    history = load_history(settings, None, day)
    return EvalInputs(
        run_date=day,
        history=history,
        published=published[published["user_id"].isin(evaluated)].reset_index(drop=True),
        targets=targets,
        candidates=load_candidates(spark, settings, day, evaluated),
        catalogue=load_catalogue(spark, settings, day, history),
        model_version=version,
        skipped=skipped,
    )
