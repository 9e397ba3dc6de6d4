"""Run the Alembic migrations from code (``earlywarn init-db``, the service start, tests).

Replicas starting together must not migrate at the same time (two ``CREATE TABLE`` of the same
table, or two inserts of the same seed row, fail with a unique violation): every start-up step
that writes runs under ``startup_lock``. The second replica waits, then finds the schema at head
and migrates nothing.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from earlywarn.settings import get_settings

# Any fixed 64-bit number, distinct from the scoring and scheduler locks.
STARTUP_LOCK_KEY = 0x6577737461727475  # "ewstartu"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(get_settings().alembic_dir))
    cfg.attributes["url"] = url
    return cfg


@contextmanager
def startup_lock(engine: Engine) -> Iterator[None]:
    """One process at a time per database: a PostgreSQL session advisory lock on a connection
    of its own, or, for a SQLite file (several processes of one host), an exclusive ``flock``
    on a file beside it. An in-memory SQLite database has one process by definition."""
    if engine.dialect.name == "postgresql":
        # A connection outside the engine's pool: the work under the lock needs the pool's
        # connections (a pool of one must not deadlock against its own lock).
        own = create_engine(engine.url, poolclass=NullPool, connect_args={"connect_timeout": 10})
        try:
            with own.connect() as connection:
                yield from _hold_advisory_lock(connection)
        finally:
            own.dispose()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.startup-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _hold_advisory_lock(connection: Connection) -> Iterator[None]:
    # Polled, not a blocking pg_advisory_lock: a wait longer than a statement timeout (another
    # replica's long migration) must not fail this start.
    while not connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": STARTUP_LOCK_KEY}
    ).scalar_one():
        connection.commit()
        time.sleep(0.2)
    connection.commit()
    try:
        yield
    finally:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": STARTUP_LOCK_KEY})
        connection.commit()


def _upgrade(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def upgrade_to_head(engine: Engine) -> None:
    with startup_lock(engine):
        _upgrade(engine)


def downgrade_to_base(engine: Engine) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")
