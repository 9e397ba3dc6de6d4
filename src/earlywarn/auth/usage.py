"""When each API key was last used, recorded without making reads depend on writes.

Every authenticated request used to write ``api_keys.last_used_at`` inside its own transaction:
a read-only or full disk turned every read into an error, and on SQLite a read waited for any
running import to release the write lock. Now the time is written at most once per interval per
key, in a short transaction of its own that waits at most ``LOCK_WAIT_MS`` for a lock; when that
write fails the request goes on regardless (the time is only informational).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from earlywarn.auth.models import ApiKey
from earlywarn.db import utc_now

logger = logging.getLogger(__name__)

LOCK_WAIT_MS = 250


def use_is_due(last_used_at: datetime | None, now: datetime, every: timedelta) -> bool:
    return last_used_at is None or now - last_used_at >= every


def record_use(engine: Engine, key_id: int, now: datetime, every: timedelta) -> bool:
    """Write ``now`` as the key's last use unless a write within ``every`` is already there
    (another process may have written it meanwhile). False when the write failed."""
    cutoff = now - every
    statement = (
        update(ApiKey)
        .where(
            ApiKey.id == key_id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= cutoff),
        )
        .values(last_used_at=now)
    )
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
                conn.exec_driver_sql(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
                try:
                    conn.execute(statement)
                    conn.commit()
                finally:
                    conn.rollback()
                    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(previous or 0)}")
            else:
                # SET LOCAL: only for this transaction, the pooled connection keeps its settings.
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {LOCK_WAIT_MS}")
                conn.execute(statement)
                conn.commit()
    except SQLAlchemyError as exc:
        logger.warning("could not record the use of API key %s: %s", key_id, type(exc).__name__)
        return False
    return True


def note_use(
    session: Session,
    key_id: int,
    last_used_at: datetime | None,
    every: timedelta,
    now: datetime | None = None,
) -> None:
    """Record a use of the key if one is due; never raises for a failed write."""
    now = now if now is not None else utc_now()
    if not use_is_due(last_used_at, now, every):
        return
    if session.new or session.dirty or session.deleted:
        return  # never commit a request's pending work early; the use is recorded next time
    # End the request's read so far (nothing to write) and give its connection back: the
    # write below takes a pooled connection of its own, and a request holding one while
    # waiting for a second deadlocks a busy pool (every thread holds one, all wait).
    session.commit()
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if record_use(engine, key_id, now, every):
        # The request's own copy of the key shows the new time too, without writing it again.
        key = session.get(ApiKey, key_id)
        if key is not None:
            set_committed_value(key, "last_used_at", now)
