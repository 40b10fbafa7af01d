"""`shoprec_daily`: one day of the recommendation pipeline, for the day of the run's logical date.

Thin wiring only: every task runs exactly one `shoprec` command, shown at the top of its log, so
any step can be rerun by hand with the same command. Tables written by a task are its outlets
(Assets named like the catalog tables), so downstream DAGs can be scheduled on them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TriggerRule, task

from shoprec_airflow import assets
from shoprec_airflow.cadence import WEEKDAYS, training_due
from shoprec_airflow.operator import ShoprecOperator

DAY = "{{ ds }}"
FIRST_DAY = "{{ params.rebuild_from or ds }}"
FIRST_LABEL_DAY = "{{ macros.ds_add(params.rebuild_from, 1) if params.rebuild_from else ds }}"
PREVIOUS_DAY = "{{ macros.ds_add(ds, -1) }}"
INPUT_TABLES = (
    "raw.events",
    "clean.events",
    "clean.items",
    "clean.users",
    "features.user_daily",
    "features.item_daily",
    "features.user_category",
    "features.item_cooccurrence",
)

with DAG(
    dag_id="shoprec_daily",
    description="Events -> features -> validated training examples -> DLRM -> published recommendations.",
    doc_md=__doc__,
    # The run for day D starts at 03:00 UTC on D + 1, once D's exports have landed; `ds` is D.
    schedule=CronDataIntervalTimetable("0 3 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # day D's features read the tables days before D wrote
    dagrun_timeout=timedelta(hours=12),
    default_args={
        "owner": "shoprec",
        # One day at a time per step, also in backfills (which may run several days at once): shared
        # tables (clean.items, reco.latest, the registry) never see two writers. Not depends_on_past: with
        # max_active_runs it deadlocks when a run is triggered for a day before an active run's day.
        "max_active_tis_per_dag": 1,
        "retries": 2,  # crashes and kills only: explained failures (`error: …`) fail at once
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": timedelta(hours=1),
    },
    params={
        "k": Param(20, type="integer", minimum=1, maximum=500, description="Items recommended per user."),
        "training_cadence": Param(
            "weekly",
            enum=["daily", "weekly"],
            description="Retrain daily, or weekly on the training weekday; otherwise the champion is reused.",
        ),
        "training_weekday": Param("monday", enum=list(WEEKDAYS), description="Weekday of weekly training."),
        "train_days": Param(7, type="integer", minimum=1, maximum=90, description="Label days to train on."),
        "train_ranks": Param(
            1, type="integer", minimum=1, maximum=64, description="torchrun ranks (CPU processes or GPUs)."
        ),
        "epochs": Param(
            1, type="integer", minimum=1, maximum=100, description="Passes over the training days."
        ),
        "batch_size": Param(2048, type="integer", minimum=1, description="Rows per rank and step."),
        "embedding_dim": Param(64, type="integer", minimum=4, maximum=1024, description="Embedding size."),
        "rebuild_from": Param(
            None,
            type=["null", "string"],
            format="date",
            description="First day (YYYY-MM-DD) to (re)build ingest, clean and features from, and training "
            "examples from the day after; empty = only the run's day. Use it on a new lake or after an outage.",
        ),
    },
    tags=["shoprec"],
) as dag:
    ingest = ShoprecOperator(
        task_id="ingest",
        arguments=["ingest", "--start", FIRST_DAY, "--end", DAY],
        outlets=assets.tables(
            "raw.events",
            "raw.events_rejected",
            "raw.items",
            "raw.users",
            "raw.catalog_rejected",
            "ops.ingest_runs",
        ),
    )
    clean = ShoprecOperator(
        task_id="clean",
        arguments=["clean", "--start", FIRST_DAY, "--end", DAY],
        outlets=assets.tables("clean.events", "clean.items", "clean.users"),
    )
    features = ShoprecOperator(
        task_id="features",
        arguments=["features", "--start", FIRST_DAY, "--end", DAY],
        outlets=assets.tables(
            "features.user_daily",
            "features.item_daily",
            "features.user_category",
            "features.item_cooccurrence",
        ),
    )
    validate_inputs = ShoprecOperator(
        task_id="validate_inputs",
        doc_md="The gate: nothing downstream runs (and nothing is published) unless every suite passes.",
        arguments=["validate", *(a for name in INPUT_TABLES for a in ("--table", name)), "--date", DAY],
        outlets=assets.tables("ops.validation_results"),
        retries=0,
    )
    evaluate_previous_day = ShoprecOperator(
        task_id="evaluate_previous_day",
        doc_md="Scores the previous day's published recommendations on this day's carts and purchases "
        "(skipped when that day has none).",
        arguments=[
            "evaluate",
            "--date",
            PREVIOUS_DAY,
            "--k",
            "{{ params.k }}",
            "--horizon",
            "1",
            "--skip-missing",
        ],
        outlets=assets.tables("ops.eval_metrics"),
    )
    examples = ShoprecOperator(
        task_id="examples",
        arguments=["examples", "--start", FIRST_LABEL_DAY, "--end", DAY],
        outlets=assets.tables("training.examples"),
    )
    validate_examples = ShoprecOperator(
        task_id="validate_examples",
        arguments=["validate", "--table", "training.examples", "--date", DAY],
        outlets=assets.tables("ops.validation_results"),
        retries=0,
    )

    @task.branch(task_id="training_due")
    def choose_training(params: dict, ds: str) -> str:
        """Train on the cadence (and whenever there is no champion yet); otherwise reuse the champion."""
        from models.registry import Registry
        from shoprec.config import Settings

        has_champion = Registry.for_settings(Settings()).champion() is not None
        due = training_due(
            date.fromisoformat(ds),
            params["training_cadence"],
            params["training_weekday"],
            has_champion=has_champion,
        )
        return "train" if due else "reuse_champion"

    train = ShoprecOperator(
        task_id="train",
        doc_md="Trains on the label days before the run's day, evaluates on it, registers the model in "
        "MLflow and moves the champion alias if the new model does not lose.",
        arguments=[
            "train",
            "--date",
            DAY,
            "--days",
            "{{ params.train_days }}",
            "--nproc",
            "{{ params.train_ranks }}",
            "--epochs",
            "{{ params.epochs }}",
            "--batch-size",
            "{{ params.batch_size }}",
            "--embedding-dim",
            "{{ params.embedding_dim }}",
        ],
        execution_timeout=timedelta(hours=4),
        outlets=[assets.RANKER],
    )
    reuse_champion = ShoprecOperator(task_id="reuse_champion", arguments=["models", "show"])
    recommend = ShoprecOperator(
        task_id="recommend",
        doc_md="Candidates, DLRM ranking and the top K; the staged set is validated and published in one "
        "commit per table only when its suite passes.",
        arguments=["recommend", "--date", DAY, "--k", "{{ params.k }}"],
        trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        execution_timeout=timedelta(hours=2),
        outlets=assets.tables("reco.user_recommendations", "reco.latest", "reco.item_audiences"),
    )
    validate_published = ShoprecOperator(
        task_id="validate_published",
        doc_md="The published audiences and reco.latest against their suites (the recommendations' own suite "
        "gates them before they are published).",
        arguments=["validate", "--table", "reco.item_audiences", "--table", "reco.latest", "--date", DAY],
        outlets=assets.tables("ops.validation_results"),
        retries=0,
    )

    ingest >> clean >> features >> validate_inputs >> [examples, evaluate_previous_day]
    examples >> validate_examples >> choose_training() >> [train, reuse_champion] >> recommend
    recommend >> validate_published
