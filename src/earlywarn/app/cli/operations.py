"""Operations commands: ``create-key`` and ``serve`` (the API with the scheduler)."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from earlywarn.app import logs
from earlywarn.app.cli._shared import console, database, err, load_config
from earlywarn.app.factory import create_app
from earlywarn.app.pipeline import prepare_database
from earlywarn.auth import repository as auth_repository
from earlywarn.auth import service as auth_service
from earlywarn.db import session_scope
from earlywarn.settings import get_settings
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


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address")] = None,
    port: Annotated[int | None, typer.Option(help="Port")] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler")] = False,
) -> None:
    """Run the API and the scheduled pipeline (one process)."""

    logs.configure()
    settings = get_settings()
    config = load_config(settings)
    with database(settings) as (engine, factory):
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
        uvicorn.run(
            api,
            host=host or settings.host,
            port=port or settings.port,
            workers=1,
            log_config=None,  # uvicorn's lines go through the JSON handler too
        )
