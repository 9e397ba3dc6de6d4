"""Shared fixtures. Every database test runs once on SQLite and once on PostgreSQL.

PostgreSQL is asked for by setting ``EARLYWARN_TEST_POSTGRES_URL`` (``.ci/run`` does). When it
is set and the server cannot be reached the tests fail; when it is unset they are skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.db import create_db_engine, make_session_factory
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.migrations import upgrade_to_head
from earlywarn.models_registry import Base

REPO_DIR = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_DIR / "config"
SHARED_DIR = Path(os.environ.get("EARLYWARN_SHARED_DIR", REPO_DIR.parent / "shared"))
POSTGRES_URL_ENV = "EARLYWARN_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]


def _fresh_postgres(url: str) -> Engine:
    engine = create_db_engine(url)
    with engine.begin() as conn:  # fails loudly when the server is down: that is the point
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


def _engine_for(backend: str, engines: dict[str, Engine], tmp_dir: Path) -> Engine:
    if backend not in engines:
        if backend == "sqlite":
            engine = create_db_engine(f"sqlite:///{tmp_dir / 'earlywarn-test.db'}")
        else:
            url = os.environ.get(POSTGRES_URL_ENV)
            if not url:
                pytest.skip(f"PostgreSQL not requested: set {POSTGRES_URL_ENV} to run it")
            engine = _fresh_postgres(url)
        upgrade_to_head(engine)  # the migration from empty is exercised on every test run
        engines[backend] = engine
    return engines[backend]


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def engine(
    request: pytest.FixtureRequest,
    _engines: dict[str, Engine],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    backend: str = request.param
    eng = _engine_for(backend, _engines, tmp_path_factory.getbasetemp())
    _empty_all_tables(eng)
    yield eng
    _empty_all_tables(eng)


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as s:
        yield s


@pytest.fixture(scope="session")
def configuration() -> Configuration:
    return load_configuration(CONFIG_DIR)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared material not found at {SHARED_DIR}")
    return SHARED_DIR
