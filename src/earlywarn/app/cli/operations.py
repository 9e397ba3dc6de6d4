"""Operations commands: ``create-key`` and the processes: ``serve`` (everything in one process,
the embedded default), and for a cluster ``api``, ``scheduler`` and ``worker``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app import logs
from earlywarn.app.cli._shared import console, database, err, load_config
from earlywarn.app.cli.alerts import run_worker
from earlywarn.app.cluster.http import create_scheduler_app
from earlywarn.app.factory import create_app
from earlywarn.app.migrations import startup_lock
from earlywarn.app.pipeline import prepare_database
from earlywarn.app.scheduler import cluster_scheduler
from earlywarn.auth import repository as auth_repository
from earlywarn.auth import service as auth_service
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings, get_settings
from earlywarn.types import Role


def create_key(
    name: Annotated[str, typer.Option(help="Who or what the key is for")],
    role: Annotated[Role, typer.Option(help="analyst, focal_point or admin")],
    focal_point_id: Annotated[int | None, typer.Option(help="Link a focal_point key")] = None,
) -> None:
    """Create an API key and print it once (only its hash is stored)."""

    settings = get_settings()
    with database(settings) as (_, factory):
        with session_scope(factory) as session:
            try:
                # The same checks as POST /api-keys: a focal_point key names its focal point.
                key, raw = auth_service.issue_key(
                    session, name=name, role=role, focal_point_id=focal_point_id
                )
            except (auth_service.KeyRequestError, auth_service.KeyConflict) as exc:
                console.print(f"[red]refused:[/red] {exc}")
                raise typer.Exit(code=2) from exc
            console.print(f"created key {key.id} ({role.value}) for '{name}':")
        console.print(raw)


def _start_up(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, config: Configuration
) -> None:
    """Seed, mirror the configuration and create the first admin key, one replica at a time:
    replicas starting together never insert the same rows twice, and only the first one finds
    no admin and prints a key."""
    with startup_lock(engine):
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


Host = Annotated[str | None, typer.Option(help="Bind address (default EARLYWARN_HOST)")]
Port = Annotated[int | None, typer.Option(help="Port (default EARLYWARN_PORT)")]


def serve(
    host: Host = None,
    port: Port = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler")] = False,
) -> None:
    """Run the API, the scheduled pipeline and delivery in one process (the embedded default)."""

    logs.configure()
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (engine, factory):
        _start_up(engine, factory, settings, config)
        api = create_app(
            settings=settings,
            engine=engine,
            configuration=config,
            start_scheduler=settings.scheduler_enabled and not no_scheduler,
        )
        uvicorn.run(
            api,
            host=host or settings.host,
            port=port or settings.port,
            workers=1,
            log_config=None,  # uvicorn's lines go through the JSON handler too
        )


def api(
    host: Host = None,
    port: Port = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes")] = 1,
) -> None:
    """Run the API only (no scheduler, no delivery), in N worker processes. Run as many
    replicas as you like behind a load balancer; see `earlywarn scheduler` and `worker`."""

    logs.configure()
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (engine, factory):
        _start_up(engine, factory, settings, config)
    uvicorn.run(
        "earlywarn.app.asgi:api_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
    )


def scheduler(
    host: Annotated[str | None, typer.Option(help="Bind address of its probes")] = None,
    port: Annotated[int, typer.Option(help="Port of its /livez, /readyz and /metrics")] = 8001,
) -> None:
    """Run the scheduled jobs (pipeline, sources) only. Start two or more: on PostgreSQL one
    leads (an advisory lock) and the others take over within 15 s when it dies; each
    scheduled slot runs once cluster-wide. Its probes answer on --port."""

    logs.configure()
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (engine, factory):
        _start_up(engine, factory, settings, config)
        app = create_scheduler_app(
            settings=settings,
            engine=engine,
            configuration=config,
            build=lambda observer: cluster_scheduler(engine, factory, settings, config, observer),
        )
        uvicorn.run(app, host=host or settings.host, port=port, workers=1, log_config=None)


def worker() -> None:
    """Run outbox delivery (webhooks, e-mail) and escalation only. Start as many as you like:
    rows are claimed with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL), never sent by two."""

    run_worker(once=False)
