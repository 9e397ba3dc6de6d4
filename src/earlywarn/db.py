"""Engine, sessions and the declarative base shared by every stage's ``models.py``.

Services never commit: the request (``get_session``) or the job (``session_scope``) that owns the
session commits on success and rolls back on error, so nothing half-written becomes visible.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import JSON, TypeDecorator

from earlywarn import db_deadlines

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; earlywarn stores UTC-aware timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class _LimitSettings(Protocol):
    """The settings fields :class:`DatabaseLimits` is read from (db does not import settings)."""

    @property
    def database_connect_timeout_seconds(self) -> int: ...
    @property
    def database_statement_timeout_seconds(self) -> float: ...
    @property
    def database_pool_size(self) -> int: ...
    @property
    def database_pool_max_overflow(self) -> int: ...
    @property
    def database_pool_timeout_seconds(self) -> float: ...


@dataclass(frozen=True)
class DatabaseLimits:
    """How long a caller may wait for the database before it is told the database is down.

    Without these a dead or hung database holds every request (and the thread serving it)
    indefinitely; with them the caller gets an error the API turns into a 503.
    """

    connect_timeout_seconds: int = 5
    statement_timeout_seconds: float = 30.0
    pool_size: int = 10
    pool_max_overflow: int = 10
    pool_timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: _LimitSettings) -> DatabaseLimits:
        return cls(
            connect_timeout_seconds=settings.database_connect_timeout_seconds,
            statement_timeout_seconds=settings.database_statement_timeout_seconds,
            pool_size=settings.database_pool_size,
            pool_max_overflow=settings.database_pool_max_overflow,
            pool_timeout_seconds=settings.database_pool_timeout_seconds,
        )


def create_db_engine(
    url: str, *, echo: bool = False, limits: DatabaseLimits | None = None
) -> Engine:
    limits = limits if limits is not None else DatabaseLimits()
    parsed = make_url(url)
    pool_args: dict[str, Any] = {
        "pool_size": limits.pool_size,
        "max_overflow": limits.pool_max_overflow,
        "pool_timeout": limits.pool_timeout_seconds,
    }
    if parsed.get_backend_name() == "sqlite":
        in_memory = not parsed.database or parsed.database == ":memory:"
        if not in_memory:
            database = Path(parsed.database or "")
            database.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only before SQLite opens it: SQLite gives its -wal and -shm files
            # the database file's mode, so they are owner-only too.
            database.touch(mode=0o600, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            # SQLite's only wait is for another writer's lock: bounded like a statement.
            connect_args={"timeout": limits.statement_timeout_seconds},
            **({} if in_memory else pool_args),
        )
        event.listen(engine, "connect", _sqlite_pragmas(limits))
        return engine
    connect_args: dict[str, Any] = {
        # libpq counts whole seconds and treats anything below 2 as 2.
        "connect_timeout": max(2, int(limits.connect_timeout_seconds)),
    }
    if "options" not in parsed.query:
        statement_ms = int(limits.statement_timeout_seconds * 1000)
        connect_args["options"] = f"-c statement_timeout={statement_ms}"
    engine = create_engine(url, echo=echo, connect_args=connect_args, **pool_args)
    db_deadlines.install(engine, limits.statement_timeout_seconds)
    return engine


def _sqlite_pragmas(limits: DatabaseLimits) -> Any:
    busy_ms = int(limits.statement_timeout_seconds * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite ignores foreign keys unless asked; WAL lets the API read while a job writes.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    return on_connect


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work for jobs and commands: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
