"""An application on the test database, a client for it, and one API key per role."""

from __future__ import annotations

import functools
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
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role

# starlette warns that it prefers the httpx2 package, which the project does not depend on;
# the warning is about the test client's transport, not about code under test.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _isolated_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "scheduler_enabled": False,
        "bootstrap_admin_key": None,
        # Any route that fetches data fails at once instead of reaching the internet.
        "worldbank_base_url": "http://127.0.0.1:1",
        "http_max_attempts": 1,
        "http_timeout_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings isolated from the environment and .env; keyword arguments override fields."""
    return functools.partial(_isolated_settings, tmp_path)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def app(engine: Engine, configuration: Configuration, settings: Settings) -> FastAPI:
    return create_app(settings=settings, engine=engine, configuration=configuration)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # The context manager runs the application's lifespan (start-up and shutdown).
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def testclient_class() -> type[TestClient]:
    """For tests that build their own app and client (imports need the warning filter)."""
    return TestClient


@pytest.fixture
def focal_point_id(session_factory: sessionmaker[Session]) -> int:
    with session_scope(session_factory) as session:
        focal_point = FocalPoint(name="Desk officer", email="desk@example.org", active=True)
        session.add(focal_point)
        session.flush()
        return focal_point.id


@pytest.fixture
def keys(session_factory: sessionmaker[Session], focal_point_id: int) -> dict[Role, str]:
    """A raw key for each role; the focal point key belongs to ``focal_point_id``."""
    raw: dict[Role, str] = {}
    with session_scope(session_factory) as session:
        for role in Role:
            _, raw[role] = create_key(
                session,
                name=f"test-{role.value}",
                role=role,
                focal_point_id=focal_point_id if role is Role.FOCAL_POINT else None,
            )
    return raw
