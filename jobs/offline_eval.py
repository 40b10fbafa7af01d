"""Offline evaluation: the recommendations published for run_date D against what users did next.

Notation: D = run_date, h = the horizon in days (1 = the next day, 7 = the next week), K = the
cut-off. The targets of a user are the distinct items they carted or bought on D + 1 .. D + h
("purchase+cart"). The users evaluated at horizon h are those with published rows for D *and* a
target in the horizon; every method is scored on exactly these users, so the rows of one
(run_date, horizon) compare like with like.

Methods: ``published`` (the platform's rows of D with rank <= K), the baselines of
`jobs.baselines` (popularity, recent_popularity, item_knn, cooccurrence and, for shops where
repeat purchases are normal, buy_again; computed from the event history up to D alone), and on
demo data the planted-preference ceiling (`shoprec_demo.planted_ceiling`, only when the demo truth
files exist: this job's one use of the demo package). Whether already-bought items may be listed
is the shop's setting (`repeat_purchases`), honoured by the baselines as by the published lists.
Metrics: `jobs.ranking_metrics` at every K; ``lift`` = published NDCG@K over the
best baseline's NDCG@K (planted ceiling excluded), on the published row.

Candidate recall: when recommend stored the candidate set of D (reco.candidates), the share of
each user's targets found anywhere in it, overall and per source (a ranker cannot recover what
retrieval missed), goes to ops.candidate_recall.

The inputs are read by `jobs.eval_inputs`: a horizon whose days are not all in clean.events yet is
skipped (named in the result); with no evaluable horizon the run fails naming the missing days and
the command that builds them. Reruns replace the rows of (run_date, horizon) in one Delta commit
per table and horizon.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession

from jobs import baselines, eval_inputs
from jobs.eval_inputs import EvalInputs
from jobs.ranking_metrics import candidate_recall, coverage, novelty, ranking_metrics
from shoprec import catalog, engine
from shoprec.config import Settings
from shoprec_demo import planted_ceiling

TARGET = "purchase+cart"
HORIZONS = (1, 7)
KS = (10, 20)
NOVELTY_DAYS = 7
PUBLISHED = "published"
PLANTED = "planted_ceiling"
ALL_SOURCES = "all"


@dataclass(frozen=True)
class MethodMetrics:
    """One method's metrics at (horizon, K) over the evaluated users (None when no user was evaluated)."""

    method: str
    horizon_days: int
    k: int
    users: int
    precision: float | None
    recall: float | None
    ndcg: float | None
    map: float | None
    hit_rate: float | None
    coverage: float | None
    novelty: float | None
    lift: float | None = None
    model_version: str | None = None


@dataclass(frozen=True)
class SourceRecall:
    """Candidate recall of one source (or all of them) at one horizon."""

    horizon_days: int
    source: str
    users: int
    recall: float | None
    candidates_per_user: float | None


@dataclass(frozen=True)
class EvalStats:
    """What one evaluation of a run_date wrote."""

    run_date: date
    target: str
    methods: tuple[MethodMetrics, ...]
    recall: tuple[SourceRecall, ...] = ()
    skipped: dict[int, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for logs."""
        horizons = sorted({m.horizon_days for m in self.methods})
        skipped = "".join(f"; horizon {h} skipped: {why}" for h, why in self.skipped.items())
        return f"evaluated run_date {self.run_date} ({self.target}) at horizons {horizons} day(s){skipped}"

    def table(self) -> str:
        """The methods x metrics tables the CLI prints, one per (horizon, K), then candidate recall."""
        lines = [self.summary()]
        for horizon, k in sorted({(m.horizon_days, m.k) for m in self.methods}):
            rows = [m for m in self.methods if (m.horizon_days, m.k) == (horizon, k)]
            lines.append(f"next {horizon} day(s), K = {k}, {rows[0].users:,} users")
            lines.append(
                f"  {'method':18} {'precision':>9} {'recall':>8} {'ndcg':>8} {'map':>8} {'hit_rate':>8} "
                f"{'coverage':>8} {'novelty':>8} {'lift':>6}  model_version"
            )
            for m in rows:
                cells = " ".join(
                    _cell(v, w, d)
                    for v, w, d in (
                        (m.precision, 9, 4),
                        (m.recall, 8, 4),
                        (m.ndcg, 8, 4),
                        (m.map, 8, 4),
                        (m.hit_rate, 8, 4),
                        (m.coverage, 8, 4),
                        (m.novelty, 8, 2),
                        (m.lift, 6, 2),
                    )
                )
                lines.append(f"  {m.method:18} {cells}  {m.model_version or '-'}")
        if self.recall:
            lines.append("candidate recall (targets found anywhere in the candidate set)")
            for r in self.recall:
                lines.append(
                    f"  next {r.horizon_days} day(s) {r.source:14} {_cell(r.recall, 8, 4)} "
                    f"{_cell(r.candidates_per_user, 8, 1)} candidates/user, {r.users:,} users"
                )
        return "\n".join(lines)


def _cell(value: float | None, width: int, decimals: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


# --- methods and metrics ------------------------------------------------------------------------


def method_lists(
    data: EvalInputs,
    k: int,
    *,
    repeat_purchases: bool,
    truth: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every method's (user_id, rank, item_id) lists of length k for the evaluated users."""
    users = data.users()
    lists = {PUBLISHED: data.published[["user_id", "rank", "item_id"]]}
    lists |= baselines.baseline_lists(
        data.history, data.run_date, users, k, repeat_purchases=repeat_purchases
    )
    if truth is not None:
        preferences, items = truth
        bought = (
            baselines.bought_recently(data.history, data.run_date, users)
            if not repeat_purchases
            else pd.DataFrame(columns=["user_id", "item_id"], dtype="int64")
        )
        eval_date = data.run_date + timedelta(days=1)
        planted = planted_ceiling.planted_lists(
            preferences, items, data.catalogue, users, bought, eval_date, k
        )
        lists[PLANTED] = baselines.filled(planted, lists["popularity"], k)
    return lists


def horizon_metrics(
    lists: dict[str, pd.DataFrame], data: EvalInputs, horizon: int, ks: tuple[int, ...]
) -> list[MethodMetrics]:
    """Every method's metrics at each K over the users evaluated at `horizon`; lift on the published rows."""
    target = data.targets[horizon]
    users = np.sort(target["user_id"].unique())
    window = baselines.since(data.history, data.run_date, NOVELTY_DAYS)
    interactions = window.groupby("item_id").size()
    size = len(data.catalogue)
    result = []
    for k in ks:
        rows = []
        for method, frame in lists.items():
            scored = frame[frame["user_id"].isin(users)]
            top = scored.sort_values(["user_id", "rank"]).groupby("user_id").head(k)
            rows.append(
                MethodMetrics(
                    method=method,
                    horizon_days=horizon,
                    k=k,
                    users=len(users),
                    **ranking_metrics(scored, target, k),
                    coverage=coverage(top, size) if len(users) else None,
                    novelty=novelty(top, interactions, size) if len(users) else None,
                    model_version=data.model_version if method == PUBLISHED else None,
                )
            )
        best = max(
            (m.ndcg for m in rows if m.method not in (PUBLISHED, PLANTED) and m.ndcg is not None),
            default=None,
        )
        result += [
            MethodMetrics(**{**m.__dict__, "lift": m.ndcg / best})
            if m.method == PUBLISHED and best and m.ndcg is not None
            else m
            for m in rows
        ]
    return result


def source_recall(data: EvalInputs, horizon: int) -> list[SourceRecall]:
    """Candidate recall at `horizon`, over all sources and per source (empty when no set was stored)."""
    if data.candidates is None:
        return []
    target = data.targets[horizon]
    users = target["user_id"].nunique()
    mine = data.candidates[data.candidates["user_id"].isin(target["user_id"])]
    # recall needs only the candidates that are targets; the sizes come from the few distinct source lists
    hits = mine.merge(target[["user_id", "item_id"]].drop_duplicates(), on=["user_id", "item_id"])
    per_source = hits.assign(source=hits["sources"].str.split(",")).explode("source")
    sizes: Counter[str] = Counter()
    for sources, rows in mine["sources"].value_counts().items():
        for source in sources.split(","):
            sizes[source] += rows
    result = [
        SourceRecall(
            horizon, ALL_SOURCES, users, candidate_recall(hits, target), len(mine) / users if users else None
        )
    ]
    for source in sorted(sizes):
        found = per_source[per_source["source"] == source]
        result.append(
            SourceRecall(horizon, source, users, candidate_recall(found, target), sizes[source] / users)
        )
    return result


# --- output -------------------------------------------------------------------------------------


def _rows(items: list[object], table: catalog.Table, stamp: dict[str, object]) -> list[tuple]:
    values = [{**stamp, **{f.name: getattr(item, f.name) for f in fields(item)}} for item in items]  # type: ignore[arg-type]
    return [tuple(row.get(c) for c in table.column_names) for row in values]


def write(spark: SparkSession, settings: Settings, stats: EvalStats) -> None:
    """Replace ops.eval_metrics' and ops.candidate_recall's rows of each evaluated (run_date, horizon)."""
    evaluated_at = datetime.now(UTC)
    for horizon in sorted({m.horizon_days for m in stats.methods}):
        stamp = {
            "run_date": stats.run_date,
            "eval_date": stats.run_date + timedelta(days=1),
            "target": stats.target,
            "evaluated_at": evaluated_at,
        }
        key = {"run_date": stats.run_date, "horizon_days": horizon}
        for table, items in (
            (catalog.OPS_EVAL_METRICS, [m for m in stats.methods if m.horizon_days == horizon]),
            (catalog.OPS_CANDIDATE_RECALL, [r for r in stats.recall if r.horizon_days == horizon]),
        ):
            rows = spark.createDataFrame(_rows(items, table, stamp), engine.spark_schema(table))
            engine.replace_rows(rows, table, settings, key)


def run(
    spark: SparkSession,
    settings: Settings,
    day: date,
    *,
    ks: tuple[int, ...] = KS,
    horizons: tuple[int, ...] = HORIZONS,
    repeat_purchases: bool = False,
) -> EvalStats:
    """Evaluate run_date D's recommendations and the baselines at every horizon and K; record the results.

    Raises:
        NothingPublishedError: D has no published rows.
        MissingInputError: No horizon's days are in clean.events yet, or the catalogue of D is empty.
        ValueError: A K or horizon below 1.
    """
    if min(ks) < 1 or min(horizons) < 1:
        raise ValueError(f"every K and horizon must be at least 1, got K {ks} and horizons {horizons}")
    data = eval_inputs.load_inputs(spark, settings, day, horizons=horizons, k=max(ks))
    truth = planted_ceiling.read_truth(settings.demo_truth)
    lists = method_lists(data, max(ks), repeat_purchases=repeat_purchases, truth=truth)
    methods, recall = [], []
    for horizon in sorted(data.targets):
        methods += horizon_metrics(lists, data, horizon, tuple(sorted(ks)))
        recall += source_recall(data, horizon)
    stats = EvalStats(day, TARGET, tuple(methods), tuple(recall), data.skipped)
    write(spark, settings, stats)
    return stats
