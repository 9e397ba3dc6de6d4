"""An application on the test database, browsers' clients for it, and one user per role."""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.app.factory import create_app
from earlywarn.auth import accounts
from earlywarn.auth.models import FocalPoint
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PASSWORD = "correct horse battery staple"
EMAILS = {
    Role.ANALYST: "analyst@example.org",
    Role.FOCAL_POINT: "desk@example.org",
    Role.ADMIN: "admin@example.org",
}


def web_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "scheduler_enabled": False,
        "bootstrap_admin_key": None,
        "worldbank_base_url": "http://127.0.0.1:1",
        "http_max_attempts": 1,
        "http_timeout_seconds": 1.0,
        "public_base_url": "http://testserver",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def app(engine: Engine, configuration: Configuration, tmp_path: Path) -> FastAPI:
    return create_app(settings=web_settings(tmp_path), engine=engine, configuration=configuration)


@pytest.fixture
def new_client(app: FastAPI) -> Iterator[Callable[[], TestClient]]:
    """Each call is a separate browser (its own cookie jar)."""
    clients: list[TestClient] = []

    def make() -> TestClient:
        client = TestClient(app, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def focal_point_id(session_factory: sessionmaker[Session]) -> int:
    with session_scope(session_factory) as session:
        focal_point = FocalPoint(name="Desk officer", email="desk@example.org", active=True)
        session.add(focal_point)
        session.flush()
        return focal_point.id


@pytest.fixture
def users(session_factory: sessionmaker[Session], focal_point_id: int) -> dict[Role, str]:
    """One account per role (password ``PASSWORD``); returns their addresses."""
    with session_scope(session_factory) as session:
        for role, email in EMAILS.items():
            accounts.create_user(
                session,
                email=email,
                password=PASSWORD,
                role=role,
                focal_point_id=focal_point_id if role is Role.FOCAL_POINT else None,
            )
    return dict(EMAILS)


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    page = client.get("/login", params={"next": next_path})
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": form_token(page.text),
            "next": next_path,
        },
    )
