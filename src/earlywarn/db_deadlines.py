"""A client-side deadline for every PostgreSQL round trip.

PostgreSQL's own ``statement_timeout`` is enforced by the server process running the statement.
A server that is hung (out of memory, stopped, a network path that swallows packets while the
kernel still acknowledges them) never enforces it, and libpq waits forever for the answer: every
request thread that touches the database would hang with it.

So each connection that starts a round trip (a statement, a commit or rollback, the pool's
liveness ping) is registered here with a deadline a little after the server's own timeout. One
watchdog thread checks the registrations; a connection still waiting for the server past its
deadline has its socket shut down. The waiting call then fails at once with a disconnect error,
SQLAlchemy discards the connection, and the API answers 503. A connection that is idle at its
deadline (the answer came, nobody disarmed it yet) is left alone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

logger = logging.getLogger(__name__)

# The server gets the first chance to cancel a slow statement (a clean error that keeps the
# connection); only when it has not done so this much later is the server taken to be hung.
GRACE_SECONDS = 2.0
_TICK_SECONDS = 0.2


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, Any]] = {}
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        with self._lock:
            self._armed[id(dbapi_connection)] = (time.monotonic() + seconds, dbapi_connection)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="earlywarn-db-deadlines", daemon=True
                )
                self._thread.start()

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        while True:
            time.sleep(_TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                expired = [c for deadline, c in self._armed.values() if deadline <= now]
                for connection in expired:
                    self._armed.pop(id(connection), None)
            for connection in expired:
                _abort_if_waiting(connection)


def _abort_if_waiting(connection: Any) -> None:
    """Shut down the socket of a psycopg connection still waiting for the server's answer."""
    try:
        # ACTIVE: a command was sent and its result has not been read yet.
        if connection.closed or connection.info.transaction_status.name != "ACTIVE":
            return
        fd = os.dup(connection.fileno())
    except Exception:  # a connection closed meanwhile has nothing left to abort
        return
    try:
        # Shutting down (not closing) wakes the thread blocked on the socket: libpq reads EOF,
        # psycopg marks the connection broken and raises OperationalError.
        with socket.socket(fileno=fd) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        logger.warning("database did not answer in time: connection aborted")
    except OSError as exc:
        logger.debug("could not abort a hung database connection: %s", exc)


_watchdog = _Watchdog()


def install(engine: Engine, statement_timeout_seconds: float) -> None:
    """Guard every round trip on ``engine`` (PostgreSQL) with the client-side deadline."""
    seconds = statement_timeout_seconds + GRACE_SECONDS

    def arm_for_statement(conn: Any, *_args: Any) -> None:
        if not conn.invalidated:
            _watchdog.arm(conn.connection.dbapi_connection, seconds)

    def arm_for_connection(dbapi_connection: Any, *_args: Any) -> None:
        _watchdog.arm(dbapi_connection, seconds)

    def disarm_for_statement(conn: Any, *_args: Any) -> None:
        if not conn.invalidated:
            _watchdog.disarm(conn.connection.dbapi_connection)

    def disarm_for_error(context: Any) -> None:
        connection = context.connection
        if connection is not None and not connection.invalidated:
            _watchdog.disarm(connection.connection.dbapi_connection)

    def disarm_for_connection(dbapi_connection: Any, *_args: Any) -> None:
        if dbapi_connection is not None:
            _watchdog.disarm(dbapi_connection)

    def fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["earlywarn_fresh"] = True

    def ping_on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # SQLAlchemy's own pre-ping runs before any event could arm the deadline, so this is
        # the pre-ping, with the deadline: a dead or hung server fails it quickly and the
        # pool tries a fresh connection (bounded by the connect timeout).
        if record.info.pop("earlywarn_fresh", False):
            return
        _watchdog.arm(dbapi_connection, seconds)
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"pre-ping failed: {type(exc).__name__}") from exc
        finally:
            _watchdog.disarm(dbapi_connection)
        if not alive:
            raise DisconnectionError("pre-ping failed")

    event.listen(engine, "before_cursor_execute", arm_for_statement)
    event.listen(engine, "after_cursor_execute", disarm_for_statement)
    event.listen(engine, "handle_error", disarm_for_error)
    event.listen(engine, "commit", arm_for_statement)
    event.listen(engine, "rollback", arm_for_statement)
    event.listen(engine.pool, "reset", arm_for_connection)
    event.listen(engine.pool, "checkin", disarm_for_connection)
    event.listen(engine.pool, "close", disarm_for_connection)
    event.listen(engine.pool, "connect", fresh)
    event.listen(engine.pool, "checkout", ping_on_checkout)
