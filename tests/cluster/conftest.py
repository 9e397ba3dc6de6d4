"""Fresh, empty databases (not migrated) for start-up tests, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from tests.conftest import BACKENDS, POSTGRES_URL_ENV


def postgres_url() -> str:
    url = os.environ.get(POSTGRES_URL_ENV)
    if not url:
        pytest.skip(f"PostgreSQL not requested: set {POSTGRES_URL_ENV} to run it")
    return url


@pytest.fixture
def new_postgres_database() -> Iterator[str]:
    """An empty database of its own on the test server; fails when the server is down."""
    url = postgres_url()
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"earlywarn_cluster_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("new_postgres_database")
    return url
