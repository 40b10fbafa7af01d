"""`shoprec airflow up|down|status|run`: the local Airflow that schedules the `shoprec_daily` DAG."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from shoprec_airflow.local_airflow import LocalAirflow

from shoprec_cli.common import UserFacingError, echo_progress, parse_date, settings

app = typer.Typer(help="The local Airflow (api-server, scheduler, dag-processor, triggerer) on 127.0.0.1.")


def _stack() -> LocalAirflow:
    from shoprec_airflow.local_airflow import LocalAirflow

    return LocalAirflow(settings())


@app.command("up")
def up() -> None:
    """Start the local Airflow (configured under SHOPREC_HOME/airflow); prints the admin password once."""
    from shoprec_airflow.local_airflow import ADMIN_USER, AirflowStackError

    stack = _stack()
    try:
        password = stack.start(progress=echo_progress)
    except AirflowStackError as exc:
        raise UserFacingError(str(exc)) from exc
    typer.echo(f"Airflow UI and API: {stack.url}  (user {ADMIN_USER})")
    if password is not None:
        typer.echo(f"generated password for {ADMIN_USER} (shown once): {password}")
    typer.echo(f"the password is kept in {stack.passwords_file} (mode 0600)")


@app.command("down")
def down() -> None:
    """Stop the Airflow components `shoprec airflow up` started (no other process is touched)."""
    stopped = _stack().stop()
    typer.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@app.command("status")
def status() -> None:
    """Each component's state and memory, and whether the API answers."""
    stack = _stack()
    components = stack.status()
    for component in components:
        typer.echo(component.describe())
    total = sum(c.rss_bytes for c in components)
    typer.echo(
        f"{'total':<14} {total / 2**20:,.0f} MiB; API {stack.url}: {'up' if stack.healthy() else 'down'}"
    )


@app.command("run")
def run(
    day: Annotated[str, typer.Option("--date", help="Logical date (the day processed), YYYY-MM-DD.")],
    conf: Annotated[
        str, typer.Option(help='DAG params as JSON, e.g. \'{"k": 10, "rebuild_from": "2026-01-01"}\'.')
    ] = "{}",
    dag_id: Annotated[str, typer.Option(help="The DAG to run.")] = "shoprec_daily",
) -> None:
    """Run a DAG for one day in this process with `airflow dags test` (no scheduler needed)."""
    from shoprec_airflow.local_airflow import AirflowStackError

    run_date = parse_date(day, "--date")
    try:
        params = json.loads(conf)
    except ValueError as exc:
        raise typer.BadParameter(f"not JSON: {exc}", param_hint="--conf") from None
    if not isinstance(params, dict):
        raise typer.BadParameter("give a JSON object", param_hint="--conf")
    stack = _stack()
    try:
        stack.prepare()
        stack.airflow("dags", "test", dag_id, run_date.isoformat(), "--conf", json.dumps(params))
    except AirflowStackError as exc:
        raise UserFacingError(f"{dag_id} for {run_date} did not succeed: {exc}") from exc
