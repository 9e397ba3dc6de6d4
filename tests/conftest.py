"""Shared fixtures. Every database test runs once on SQLite and once on PostgreSQL.

PostgreSQL is asked for by setting ``EARLYWARN_TEST_POSTGRES_URL`` (``.ci/run`` does). When it
is set and the server cannot be reached the tests fail; when it is unset they are skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn import encryption
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.app.models_registry import Base
from earlywarn.db import create_db_engine, make_session_factory
from earlywarn.framework.config import Configuration, load_configuration

REPO_DIR = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_DIR / "config"
SHARED_DIR = Path(os.environ.get("EARLYWARN_SHARED_DIR", REPO_DIR.parent / "shared"))
POSTGRES_URL_ENV = "EARLYWARN_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgresql"]

# One key for the whole session, as a deployment sets EARLYWARN_SECRET_KEYS for every process:
# applications, commands and child processes of the tests all read and write the same secrets.
# Tests of the key handling itself pass their own keys (tests/notify/test_secrets_at_rest.py).
TEST_SECRET_KEY = "HPnnXLqEqxSqg4hgO2LWy8pVlyIhGEwzGz5QklYl1W0="
os.environ.setdefault(encryption.SECRET_KEYS_ENV, TEST_SECRET_KEY)
encryption.configure(
    encryption.KeyRing(encryption.parse_keys(os.environ[encryption.SECRET_KEYS_ENV]))
)


class _TestDatabases:
    """One migrated database per backend for the whole test session, created on first use."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.engines: dict[str, Engine] = {}
        self._postgres_admin: Engine | None = None
        self._postgres_db: str | None = None

    def engine(self, backend: str) -> Engine:
        if backend not in self.engines:
            if backend == "sqlite":
                engine = create_db_engine(f"sqlite:///{self.tmp_dir / 'earlywarn-test.db'}")
            else:
                url = os.environ.get(POSTGRES_URL_ENV)
                if not url:
                    pytest.skip(f"PostgreSQL not requested: set {POSTGRES_URL_ENV} to run it")
                engine = self._fresh_postgres(url)
            upgrade_to_head(engine)  # the migration from empty runs on every test session
            self.engines[backend] = engine
        return self.engines[backend]

    def _fresh_postgres(self, url: str) -> Engine:
        """A new, empty database on the server at ``url``: several runs can share a server."""
        self._postgres_admin = create_engine(url, isolation_level="AUTOCOMMIT")
        self._postgres_db = f"earlywarn_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        # Fails loudly when the server is down: a PostgreSQL run that was asked for never skips.
        with self._postgres_admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self._postgres_db}"'))
        return create_db_engine(
            make_url(url).set(database=self._postgres_db).render_as_string(hide_password=False)
        )

    def close(self) -> None:
        for engine in self.engines.values():
            engine.dispose()
        if self._postgres_admin is not None:
            with self._postgres_admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._postgres_db}" WITH (FORCE)'))
            self._postgres_admin.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_TestDatabases]:
    databases = _TestDatabases(tmp_path_factory.mktemp("db"))
    yield databases
    databases.close()


def _empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, _databases: _TestDatabases) -> Iterator[Engine]:
    eng = _databases.engine(request.param)
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
