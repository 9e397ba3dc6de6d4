"""Accounts commands: ``create-user`` (a person's web-interface account)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from earlywarn.app.cli._shared import console, database, fail
from earlywarn.auth import accounts
from earlywarn.db import session_scope
from earlywarn.settings import get_settings
from earlywarn.types import Role


def create_user(
    email: Annotated[str, typer.Argument(help="The person's e-mail address (their login)")],
    role: Annotated[Role, typer.Option(help="analyst, focal_point or admin")],
    focal_point_id: Annotated[int | None, typer.Option(help="Link a focal_point user")] = None,
) -> None:
    """Create a web-interface account; the password is read from standard input or prompted."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    settings = get_settings()
    with database(settings) as (_, factory):
        try:
            with session_scope(factory) as session:
                user = accounts.create_user(
                    session,
                    email=email,
                    password=password,
                    role=role,
                    focal_point_id=focal_point_id,
                )
        except accounts.AccountError as exc:
            raise fail(str(exc)) from exc
        console.print(f"created user {user.id} {user.email} ({role.value})")
