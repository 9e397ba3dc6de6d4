"""Leader election: a PostgreSQL session-level advisory lock held on a dedicated connection.

The lock lives exactly as long as the database session that took it. A leader that dies
(SIGKILL, crash, its host lost) loses its session and so the lock; a follower retrying every
tick takes it then. How fast the server notices depends on how the leader died:

* process killed or crashed: the kernel closes its socket, the server ends the session at once;
  the takeover happens at the follower's next tick (``scheduler_tick_seconds``, 2 s by default);
* host or network lost (no socket close): the server's TCP keepalives on this connection
  (idle 5 s, then 3 probes 2 s apart) end the session within about 11 s.

So a follower leads within 15 s of the leader's death with the defaults (11 s + one 2 s tick).
The leader checks its connection every tick and stops leading as soon as it is broken.

On SQLite (one node, by definition) every scheduler leads: the slot records still keep two
schedulers on the same file from running a slot twice.
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# Any fixed 64-bit number, distinct from the scoring and start-up locks.
SCHEDULER_LOCK_KEY = 0x6577736368656475  # "ewschedu"

# Server-side keepalives (seconds) of the lock's session: how soon a vanished leader host is
# noticed. Client-side ones (libpq) make the leader notice a vanished server as soon.
KEEPALIVE_IDLE_SECONDS = 5
KEEPALIVE_INTERVAL_SECONDS = 2
KEEPALIVE_COUNT = 3


def _connect_args() -> dict[str, Any]:
    server = (
        f"-c tcp_keepalives_idle={KEEPALIVE_IDLE_SECONDS} "
        f"-c tcp_keepalives_interval={KEEPALIVE_INTERVAL_SECONDS} "
        f"-c tcp_keepalives_count={KEEPALIVE_COUNT} "
        # The lock's own statements are instant; a hung server must not hang the tick.
        "-c statement_timeout=5000"
    )
    return {
        "connect_timeout": 5,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_COUNT,
        "options": server,
    }


class LeaderLock:
    """``try_acquire`` every tick: True while this process leads."""

    def __init__(self, engine: Engine, key: int = SCHEDULER_LOCK_KEY) -> None:
        self.key = key
        self.postgres = engine.dialect.name == "postgresql"
        self._engine: Engine | None = None
        if self.postgres:
            # Its own engine without a pool: the lock's connection is never handed to anyone else.
            self._engine = create_engine(
                engine.url, poolclass=NullPool, connect_args=_connect_args()
            )
        self._connection: Connection | None = None
        self.held = not self.postgres

    def try_acquire(self) -> bool:
        if not self.postgres:
            return True
        try:
            if self._connection is None:
                assert self._engine is not None
                self._connection = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT"
                )
            if self.held:
                # Still ours as long as the session that took it answers.
                self._connection.execute(text("SELECT 1"))
                return True
            self.held = bool(
                self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
                ).scalar_one()
            )
        except SQLAlchemyError as exc:
            if self.held:
                log.warning("scheduler leadership lost: its database session broke: %s", exc)
            self._drop_connection()
        return self.held

    def _drop_connection(self) -> None:
        self.held = False
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except SQLAlchemyError:
                pass
            self._connection = None

    def release(self) -> None:
        if not self.postgres:
            return
        if self._connection is not None and self.held:
            # Closing the session below releases it anyway.
            with suppress(SQLAlchemyError):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        self._drop_connection()
        if self._engine is not None:
            self._engine.dispose()
