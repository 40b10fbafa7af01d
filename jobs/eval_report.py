"""The evaluation's history and plot: ops.eval_metrics over run dates as a PNG under SHOPREC_HOME/reports."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from shoprec import catalog, engine
from shoprec.config import Settings

REPORT_FILE = Path("reports") / "eval_metrics.png"


def metrics_history(spark: SparkSession, settings: Settings, k: int, horizon: int) -> pd.DataFrame:
    """Every run_date's ops.eval_metrics rows at cut-off k and horizon, by run_date and method."""
    table = catalog.OPS_EVAL_METRICS
    rows = (
        engine.read(spark, table, settings)
        .where((F.col("k") == k) & (F.col("horizon_days") == horizon))
        .toPandas()
    )
    return rows.sort_values(["run_date", "method"]).reset_index(drop=True)


def report_path(settings: Settings) -> Path:
    """Where `metrics_plot` goes: SHOPREC_HOME/reports/eval_metrics.png."""
    return settings.home.resolve() / REPORT_FILE


PLOTTED: Mapping[str, str] = {"recall": "Recall", "ndcg": "NDCG"}


def metrics_plot(history: pd.DataFrame, path: Path, k: int, horizon: int, target: str) -> Path:
    """A PNG of recall and NDCG at k over run_date, one line per method (in order of appearance); returns its path."""
    from matplotlib import dates
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    FigureCanvasAgg(figure)  # Agg: no display, no global pyplot state
    axes = figure.subplots(1, len(PLOTTED), sharex=True)
    days = pd.to_datetime(history["run_date"])
    for ax, (column, label) in zip(axes, PLOTTED.items(), strict=True):
        for method in dict.fromkeys(history["method"]):
            rows = history["method"] == method
            ax.plot(days[rows], history.loc[rows, column], marker="o", label=method)
        ax.set_title(f"{label}@{k} ({target}, next {horizon} day(s))")
        ax.set_xlabel("run_date")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        locator = dates.AutoDateLocator(maxticks=8) if days.nunique() > 1 else dates.DayLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
    if days.nunique() == 1:  # one run_date: a day either side instead of matplotlib's default years
        axes[0].set_xlim(days.iloc[0] - pd.Timedelta(days=1), days.iloc[0] + pd.Timedelta(days=1))
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside right upper", fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
