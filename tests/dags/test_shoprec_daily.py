"""The DAG files parse, wire the pipeline in order, and every task runs a real `shoprec` command."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest
import typer.main

from shoprec import catalog
from shoprec.config import Settings
from shoprec_airflow.cadence import training_due
from shoprec_airflow.operator import ShoprecOperator
from shoprec_cli import app


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(Settings().dags))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["shoprec_daily"]


def test_dags_import_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert "shoprec_daily" in dagbag.dags
    assert Path(Settings().dags, "shoprec_daily.py").exists()


def test_no_cycles_and_the_pipeline_order(dag) -> None:
    dag.check_cycle()  # raises on a cycle
    order = [
        "ingest",
        "clean",
        "features",
        "validate_inputs",
        "examples",
        "validate_examples",
        "training_due",
        "train",
        "recommend",
    ]
    for upstream, downstream in itertools.pairwise(order):
        assert upstream in dag.get_task(downstream).upstream_task_ids
    assert dag.get_task("reuse_champion").upstream_task_ids == {"training_due"}
    assert dag.get_task("recommend").upstream_task_ids == {"train", "reuse_champion"}
    assert dag.get_task("recommend").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("evaluate_previous_day").upstream_task_ids == {"validate_inputs"}


def _cli_command(words: list[str]):
    """The Click command behind `shoprec <words>` (Typer ships its own Click)."""
    command = typer.main.get_command(app)
    for word in words:
        subcommands = getattr(command, "commands", {})
        assert word in subcommands, f"`shoprec {' '.join(words)}`: {word} is not a command"
        command = subcommands[word]
    return command


def test_every_task_runs_an_existing_shoprec_command_with_known_options(dag) -> None:
    control = {"training_due"}  # the branch decides, it runs no command
    operators = [t for t in dag.tasks if t.task_id not in control]
    assert operators
    assert all(isinstance(t, ShoprecOperator) for t in operators)
    for task in operators:
        words = task.command.split()
        command = _cli_command(words)
        known = {name for p in command.params for name in p.opts}
        options = [a for a in task.arguments[len(words) :] if a.startswith("--")]
        assert set(options) <= known, f"{task.task_id}: unknown options {set(options) - known}"


def test_tasks_publish_assets_named_like_the_catalog_tables(dag) -> None:
    written = {a.name for t in dag.tasks for a in t.outlets}
    assert {
        "raw.events",
        "clean.events",
        "features.user_daily",
        "training.examples",
        "reco.user_recommendations",
        "reco.latest",
        "ops.eval_metrics",
        f"models.{catalog.RANKER_MODEL}",
    } <= written
    assert written - {f"models.{catalog.RANKER_MODEL}"} <= set(catalog.TABLES)


def test_scheduling_defaults(dag) -> None:
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.params["k"] == 20
    assert dag.params["training_cadence"] == "weekly"
    for task in dag.tasks:
        assert task.execution_timeout is not None
        assert task.max_active_tis_per_dag == 1  # one writer per table, also in backfills
        assert not task.depends_on_past  # with max_active_runs=1 it deadlocks runs triggered out of order
    assert dag.get_task("ingest").retries == 2
    assert dag.get_task("validate_inputs").retries == 0  # a failed gate is not transient


def test_templated_arguments_render_per_day(dag) -> None:
    task = dag.get_task("examples")
    assert task.arguments == [
        "examples",
        "--start",
        "{{ macros.ds_add(params.rebuild_from, 1) if params.rebuild_from else ds }}",
        "--end",
        "{{ ds }}",
    ]
    assert "--skip-missing" in dag.get_task("evaluate_previous_day").arguments


@pytest.mark.parametrize(
    ("day", "cadence", "has_champion", "due"),
    [
        (date(2026, 1, 12), "weekly", True, True),  # a Monday
        (date(2026, 1, 13), "weekly", True, False),
        (date(2026, 1, 13), "weekly", False, True),  # nothing to reuse yet
        (date(2026, 1, 13), "daily", True, True),
    ],
)
def test_training_cadence(day: date, cadence: str, has_champion: bool, due: bool) -> None:
    assert training_due(day, cadence, "monday", has_champion=has_champion) is due  # type: ignore[arg-type]


def test_training_cadence_rejects_unknown_values() -> None:
    with pytest.raises(ValueError, match="cadence"):
        training_due(date(2026, 1, 13), "hourly", "monday", has_champion=True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weekday"):
        training_due(date(2026, 1, 13), "weekly", "mon", has_champion=True)


def test_operator_surfaces_the_cli_reason_and_does_not_retry_it() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    failing = ShoprecOperator(task_id="bad", arguments=["validate", "--table", "no.such_table"])
    with pytest.raises(
        AirflowFailException, match=r"shoprec validate failed: unknown table 'no\.such_table'"
    ):
        failing.execute({})


def test_operator_runs_a_command_without_a_shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPREC_HOME", str(tmp_path))
    listing = ShoprecOperator(task_id="tables", arguments=["lake", "tables", "; touch injected"])
    with pytest.raises(Exception, match=r"exited with code 2"):
        listing.execute({})  # the extra argument is one literal word: a usage error, not a shell command
    assert not Path("injected").exists()
    ShoprecOperator(task_id="tables", arguments=["lake", "tables"]).execute({})
