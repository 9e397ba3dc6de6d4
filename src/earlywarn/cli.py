"""The ``earlywarn`` command line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import ConfigError, Configuration, load_configuration
from earlywarn.ingest.models import IngestRun, RunStatus
from earlywarn.migrations import upgrade_to_head
from earlywarn.settings import Settings, get_settings
from earlywarn.types import Role

app = typer.Typer(
    help="earlywarn: atrocity-risk early warning for focal points, analysts and administrators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)  # error messages stay whole for grep and logs


class ImportFormat(StrEnum):
    AUTO = "auto"
    CSV = "csv"
    EWP = "ewp"


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _config(settings: Settings) -> Configuration:
    try:
        return load_configuration(settings.config_dir)
    except ConfigError as exc:
        raise _fail(f"invalid configuration: {exc}") from exc


@contextmanager
def _database(settings: Settings) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """The engine, migrated to the latest schema (creating the SQLite file on first use),
    closed when the command ends."""
    engine = create_db_engine(settings.resolved_database_url())
    try:
        upgrade_to_head(engine)
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()


def _print_run(run: IngestRun) -> None:
    colour = {RunStatus.SUCCEEDED: "green", RunStatus.UNCHANGED: "yellow"}.get(run.status, "red")
    console.print(
        f"[{colour}]{run.source_id}: {run.status.value}[/] (run {run.id}) "
        f"read {run.rows_read}, new or revised {run.rows_loaded}, "
        f"unchanged {run.rows_unchanged}, skipped {run.rows_skipped}"
    )
    if run.error:
        err.print(f"  [red]{run.error}[/]")


@app.command("init-db")
def init_db() -> None:
    """Create or upgrade the database, seed countries and load the configuration."""
    from earlywarn.pipeline import prepare_database

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (engine, factory):
        weight_set_id = prepare_database(factory, config)
        console.print(
            f"database ready at {engine.url.render_as_string(hide_password=True)} "
            f"(weight set {weight_set_id})"
        )


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        ImportFormat, typer.Option("--format", "-f", help="csv (long format), ewp, or auto")
    ] = ImportFormat.AUTO,
) -> None:
    """Import a file: the long-format CSV (iso3,variable,year,value[,source]) or the EWP file."""
    from earlywarn.ingest import service as ingest_service
    from earlywarn.pipeline import prepare_database

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        prepare_database(factory, config)
        chosen = fmt
        if chosen is ImportFormat.AUTO:
            with path.open(encoding="utf-8", errors="replace") as handle:
                header = handle.readline()
            chosen = ImportFormat.EWP if "ewp_name" in header else ImportFormat.CSV
        run = ingest_service.import_file(
            factory, path, "ewp" if chosen is ImportFormat.EWP else "csv"
        )
        _print_run(run)
        if run.status is RunStatus.FAILED:
            raise typer.Exit(code=1)


@app.command()
def ingest(
    source: Annotated[
        str, typer.Option(help="'all' configured sources, or one source id such as worldbank")
    ] = "all",
) -> None:
    """Fetch data from the configured live sources (config/sources.yaml)."""
    from earlywarn.ingest import service as ingest_service
    from earlywarn.pipeline import prepare_database

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        prepare_database(factory, config)
        if source == "all":
            runs = ingest_service.ingest_configured_sources(
                factory, settings, config, trigger="cli"
            )
        elif source == "worldbank":
            runs = [ingest_service.ingest_worldbank(factory, settings, config, trigger="cli")]
        else:
            raise _fail(f"unknown source '{source}' (known: all, worldbank)")
        for run in runs:
            _print_run(run)
        if any(r.status is RunStatus.FAILED for r in runs):
            raise typer.Exit(code=1)


def _print_summary(factory: sessionmaker[Session], score_run_id: int) -> None:
    from earlywarn.scoring import repository as scoring_repository

    with session_scope(factory) as session:
        scores = scoring_repository.scores_for_run(session, score_run_id, limit=15)
        table = Table(title=f"Highest risk (score run {score_run_id})")
        for column in ("rank", "country", "composite", "level", "coverage"):
            table.add_column(column)
        for rank, s in enumerate(scores, start=1):
            if s.composite is None:
                break
            table.add_row(
                str(rank),
                s.country_iso3,
                f"{s.composite:.3f}",
                s.level.value if s.level else "-",
                f"{s.coverage:.0%}",
            )
        console.print(table)


@app.command()
def score(
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this date (YYYY-MM-DD); default today")
    ] = None,
) -> None:
    """Score every country and evaluate alerts on the data already loaded."""
    from earlywarn.pipeline import score_and_alert

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        summary = score_and_alert(factory, config, as_of=_parse_date(as_of))
        console.print(
            f"score run {summary.score_run_id}: {summary.countries_rated} countries rated "
            f"({summary.countries_with_data} with data); alerts opened {summary.alerts_opened}, "
            f"escalated {summary.alerts_escalated}, resolved {summary.alerts_resolved}; "
            f"outbox messages {summary.outbox_messages}"
        )
        _print_summary(factory, summary.score_run_id)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"--as-of must be a date like 2025-12-31, got '{value}'") from exc


@app.command("run-once")
def run_once(
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (YYYY-MM-DD)")] = None,
    skip_ingest: Annotated[
        bool, typer.Option("--skip-ingest", help="Score the data already loaded")
    ] = False,
) -> None:
    """Run the whole pipeline once: ingest configured sources, score, evaluate alerts."""
    from earlywarn.pipeline import run_pipeline

    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (_, factory):
        as_of_date = _parse_date(as_of)
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as progress:
            task = progress.add_task("starting", total=None)
            result = run_pipeline(
                factory,
                settings,
                config,
                ingest=not skip_ingest,
                as_of=as_of_date,
                progress=lambda step: progress.update(task, description=step),
            )
        for run in result.ingest_runs:
            _print_run(run)
        assert result.scoring is not None
        s = result.scoring
        console.print(
            f"score run {s.score_run_id} as of {s.as_of}: {s.countries_rated} countries rated; "
            f"alerts opened {s.alerts_opened}, escalated {s.alerts_escalated}, "
            f"de-escalated {s.alerts_deescalated}, resolved {s.alerts_resolved}; "
            f"outbox messages {s.outbox_messages}"
        )
        _print_summary(factory, s.score_run_id)


@app.command("create-key")
def create_key(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    role: Annotated[Role, typer.Option(help="analyst, focal_point or admin")],
    focal_point_id: Annotated[int | None, typer.Option(help="Link a focal_point key")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""
    from earlywarn.auth import service as auth_service

    settings = get_settings()
    with _database(settings) as (_, factory):
        with session_scope(factory) as session:
            key, raw = auth_service.create_key(
                session, name=name, role=role, focal_point_id=focal_point_id
            )
            console.print(f"created key {key.id} ({role.value}) for '{name}':")
        console.print(raw)


@app.command()
def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit (for cron).")
    ] = False,
) -> None:
    """Run the delivery worker: outbox -> webhooks and e-mail, with retries; and escalations.

    Safe to run next to `serve` or another worker: rows are claimed with a lease (and SKIP
    LOCKED on PostgreSQL). A worker killed mid-delivery loses nothing: its lease expires and
    the message is sent again with the same webhook-id.
    """
    import signal

    from earlywarn.alerting.service import escalate_due
    from earlywarn.notify.delivery import DeliveryStats, worker_from_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    config = _config(settings)
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))

    def report(stats: DeliveryStats) -> None:
        if stats.claimed:
            console.print(
                f"delivered {stats.delivered}, retrying {stats.retried}, failed {stats.failed}"
                + (
                    f", endpoints disabled {stats.endpoints_disabled}"
                    if stats.endpoints_disabled
                    else ""
                )
            )

    with _database(settings) as (_, factory):
        worker = worker_from_settings(factory, settings, config.alerting.delivery)
        try:
            if once:
                with session_scope(factory) as session:
                    escalate_due(session)
                report(worker.drain())
            else:
                console.print("delivery worker running; Ctrl-C or SIGTERM stops it")
                with suppress(KeyboardInterrupt):
                    worker.run(stop=lambda: bool(stopping), on_pass=report)
        finally:
            worker.close()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler")] = False,
) -> None:
    """Run the API and the scheduled pipeline (one process)."""
    import uvicorn

    from earlywarn.api.app import create_app
    from earlywarn.auth import repository as auth_repository
    from earlywarn.auth import service as auth_service
    from earlywarn.pipeline import prepare_database

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    config = _config(settings)
    with _database(settings) as (engine, factory):
        prepare_database(factory, config)
        with session_scope(factory) as session:
            if settings.bootstrap_admin_key is None and (
                auth_repository.count_active_with_role(session, Role.ADMIN) == 0
            ):
                _, raw = auth_service.create_key(session, name="first-admin", role=Role.ADMIN)
                err.print(
                    "[bold yellow]No admin API key existed, so one was created. "
                    "It is shown only now:[/]\n" + raw
                )
        api = create_app(
            settings=settings,
            engine=engine,
            configuration=config,
            start_scheduler=settings.scheduler_enabled and not no_scheduler,
        )
        uvicorn.run(api, host=host or settings.host, port=port or settings.port, workers=1)


if __name__ == "__main__":
    app()
