"""Leader election (a PostgreSQL session advisory lock; SQLite always leads) and safe
concurrent start-up: migrations and the first admin key, once, however many replicas start."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from tests.cluster.conftest import postgres_url

from earlywarn import encryption
from earlywarn.app.cli import operations
from earlywarn.app.cluster.leader import LeaderLock
from earlywarn.app.migrations import upgrade_to_head
from earlywarn.auth.models import ApiKey
from earlywarn.db import create_db_engine, make_session_factory
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role


def test_one_leader_on_postgresql_and_a_follower_takes_over_when_its_session_dies(
    new_postgres_database: str,
) -> None:
    engine = create_db_engine(new_postgres_database)
    leader, follower = LeaderLock(engine), LeaderLock(engine)
    admin = create_engine(postgres_url(), isolation_level="AUTOCOMMIT")
    try:
        assert leader.try_acquire() is True
        assert follower.try_acquire() is False
        assert leader.try_acquire() is True  # still held: its session answers
        # The leader's process dies: the server ends its session, and the lock with it.
        assert leader._connection is not None
        pid = leader._connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with admin.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        # The backend exits a moment after the signal; a follower retries every tick.
        deadline = time.monotonic() + 10
        while not follower.try_acquire():
            assert time.monotonic() < deadline, "the lock outlived its session"
            time.sleep(0.05)
        # The old leader notices at its next check and stops leading.
        assert leader.try_acquire() is False
        follower.release()
        assert leader.try_acquire() is True
    finally:
        leader.release()
        follower.release()
        admin.dispose()
        engine.dispose()


def test_every_scheduler_leads_on_sqlite(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'one-node.db'}")
    try:
        assert LeaderLock(engine).try_acquire()
        assert LeaderLock(engine).try_acquire()
    finally:
        engine.dispose()


def test_replicas_starting_together_migrate_once_and_print_one_admin_key(
    empty_database_url: str,
    configuration: Configuration,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None, database_url=empty_database_url, data_dir=tmp_path)
    engines: list[Engine] = [create_db_engine(empty_database_url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(engines))

    def replica(engine: Engine) -> None:
        try:
            barrier.wait()
            upgrade_to_head(engine)
            operations._start_up(engine, make_session_factory(engine), settings, configuration)
        except BaseException as exc:  # reported below, with the others'
            errors.append(exc)

    threads = [threading.Thread(target=replica, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    try:
        assert errors == []
        with make_session_factory(engines[0])() as session:
            admins = session.scalar(
                select(func.count()).select_from(ApiKey).where(ApiKey.role == Role.ADMIN)
            )
        assert admins == 1
        assert capsys.readouterr().err.count("No admin API key existed") == 1
    finally:
        for engine in engines:
            engine.dispose()


def test_two_init_db_at_once_both_succeed(empty_database_url: str, tmp_path: Path) -> None:
    """Two ``earlywarn init-db`` processes on one empty database (the issue saw the second
    fail with UniqueViolation): the second waits for the first and finds the work done."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARLYWARN_")}
    env.update(
        EARLYWARN_DATABASE_URL=empty_database_url,
        EARLYWARN_DATA_DIR=str(tmp_path),
        EARLYWARN_SECRET_KEYS=os.environ[encryption.SECRET_KEYS_ENV],
    )
    command = [str(Path(sys.executable).parent / "earlywarn"), "init-db"]
    runs = [
        subprocess.Popen(
            command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert all("database ready at" in output for output in outputs)
