"""A SQLite file that became read-only and a disk that filled up: every request that needs to
write gets a clean 503 with a reason, and ``/healthz`` says what is wrong instead of "ok".

The disk is a small tmpfs of the test's own (root only; skipped with the reason otherwise). The
database file is made read-only with ``chattr +i`` as root (root ignores permission bits), or by
its mode otherwise.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from earlywarn.app.factory import create_app
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.auth.service import create_key
from earlywarn.db import DatabaseLimits, create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role


@pytest.fixture
def sqlite_app(
    small_tmpfs: Callable[..., Path],
    fault_settings: Callable[..., Settings],
    configuration: Configuration,
    testclient_class: Any,
) -> Iterator[tuple[Any, dict[str, str], Engine, Path]]:
    data_dir = small_tmpfs("24m")
    settings = fault_settings(data_dir=data_dir)
    engine = create_db_engine(
        settings.resolved_database_url(), limits=DatabaseLimits.from_settings(settings)
    )
    upgrade_to_head(engine)
    with session_scope(make_session_factory(engine)) as session:
        _, analyst = create_key(session, name="analyst", role=Role.ANALYST)
        _, admin = create_key(session, name="admin", role=Role.ADMIN)
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with testclient_class(app) as client:
        yield client, {"analyst": analyst, "admin": admin}, engine, data_dir / "earlywarn.db"
    engine.dispose()


def _new_key(client: Any, admin: str) -> Any:
    return client.post(
        "/api-keys", headers={"X-API-Key": admin}, json={"name": "new", "role": "analyst"}
    )


def _make_read_only(database: Path) -> Callable[[], None]:
    """Make the file read-only for this process; returns the undo."""
    if os.geteuid() != 0:
        database.chmod(0o444)
        return lambda: database.chmod(0o644)
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only for root")
    done = subprocess.run(["chattr", "+i", str(database)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not supported here: {done.stderr.strip()}")
    return lambda: subprocess.run(["chattr", "-i", str(database)], check=True)


def test_a_read_only_database_file_is_a_clean_503_and_healthz_says_so(
    sqlite_app: tuple[Any, dict[str, str], Engine, Path],
) -> None:
    client, keys, engine, database = sqlite_app
    assert _new_key(client, keys["admin"]).status_code == 201
    engine.dispose()  # closed cleanly: the WAL is folded back into the file
    undo = _make_read_only(database)
    try:
        engine.dispose()  # connections opened from now on find the file read-only
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.headers["retry-after"] == "7"
        assert health.json() == {
            "status": "degraded",
            "database": "read-only (no write permission)",
        }
        response = _new_key(client, keys["admin"])
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "7"
        assert response.json() == {"detail": "database is read-only: changes cannot be saved now"}
    finally:
        undo()
        engine.dispose()
    assert _new_key(client, keys["admin"]).status_code == 201
    assert client.get("/healthz").status_code == 200


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    chunk = b"\0" * (1 << 20)
    stopped_by = 0
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(chunk)
        except OSError as exc:
            stopped_by = exc.errno or 0
    assert stopped_by == errno.ENOSPC
    return filler


def test_a_full_disk_is_a_clean_503_and_healthz_says_so(
    sqlite_app: tuple[Any, dict[str, str], Engine, Path],
) -> None:
    client, keys, engine, database = sqlite_app
    assert _new_key(client, keys["admin"]).status_code == 201
    engine.dispose()  # no WAL left whose space a new write could reuse
    filler = _fill(database.parent)
    try:
        response = _new_key(client, keys["admin"])
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "7"
        # SQLite says "disk is full" or, when its WAL cannot grow, "disk I/O error".
        assert response.json()["detail"] in {
            "database disk is full: changes cannot be saved now",
            "database disk error (full or failing): changes cannot be saved now",
        }
        health = client.get("/healthz")
        assert health.status_code == 503
        # Reads may still work on open connections (degraded) or not at all (unavailable):
        # either way the probe names the cause.
        assert health.json()["database"] == "disk full"
        assert health.json()["status"] in {"degraded", "unavailable"}
    finally:
        filler.unlink()
        engine.dispose()
    assert _new_key(client, keys["admin"]).status_code == 201
    assert client.get("/healthz").status_code == 200


def test_reads_need_no_write_access(
    sqlite_app: tuple[Any, dict[str, str], Engine, Path],
) -> None:
    """A key never used before (its use is due) reads a read-only database: 200, not 503."""
    client, keys, engine, database = sqlite_app
    engine.dispose()
    undo = _make_read_only(database)
    try:
        engine.dispose()
        response = client.get("/alerts", headers={"X-API-Key": keys["analyst"]})
        assert response.status_code == 200, response.text
        assert client.get("/api-keys", headers={"X-API-Key": keys["admin"]}).status_code == 200
    finally:
        undo()
        engine.dispose()
