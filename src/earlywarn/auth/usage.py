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

from earlywarn.auth.models import ApiKey

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
