"""Whether the database can take writes: the part of health that ``SELECT 1`` does not see.

A read-only or full disk still answers reads, so a plain connectivity probe says "ok" while
every change (and every request that records something) fails. These checks are cheap enough
for every probe: a ``statvfs`` and an access check for a SQLite file, one setting for
PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text

# Below this much free space SQLite cannot be trusted to finish a write (a page, the WAL, a
# checkpoint): the disk is reported full before the first write fails.
MIN_FREE_BYTES = 1024 * 1024


def sqlite_storage_problem(database: Path) -> str | None:
    """None when the SQLite file and its directory can take writes, else a short reason."""
    directory = database.parent
    try:
        stats = os.statvfs(directory)
    except OSError:
        return "unavailable (data directory missing)"
    if stats.f_flag & os.ST_RDONLY:
        return "read-only (file system mounted read-only)"
    if not os.access(directory, os.W_OK) or (
        database.exists() and not os.access(database, os.W_OK)
    ):
        return "read-only (no write permission)"
    if stats.f_bavail * stats.f_frsize < MIN_FREE_BYTES:
        return "disk full"
    return None


def storage_problem(engine: Engine, *, reachable: bool = True) -> str | None:
    """None when the database accepts writes as far as can be told without writing.

    For SQLite this is also the likely cause when the file cannot even be opened (a full disk
    leaves no room for its shared-memory file), so it is checked whether or not the database
    answered; a PostgreSQL server is only asked when it is ``reachable``.
    """
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            return None
        return sqlite_storage_problem(Path(url.database))
    if not reachable:
        return None
    with engine.connect() as conn:
        read_only = conn.execute(text("SELECT current_setting('transaction_read_only')"))
        if read_only.scalar_one() == "on":
            return "read-only (the server only accepts reads)"
    return None
