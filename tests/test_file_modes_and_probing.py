"""The SQLite file and its WAL are owner-only; another focal point's subscription gets the very
answer a missing one gets."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import create_key
from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import Configuration
from earlywarn.notify.models import Channel, Subscription
from earlywarn.settings import Settings
from earlywarn.types import Role


def test_the_sqlite_file_and_its_wal_are_owner_only(tmp_path: Path) -> None:
    database = tmp_path / "data" / "earlywarn.db"
    engine = create_db_engine(f"sqlite:///{database}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        files = [database, database.with_name("earlywarn.db-wal")]
        for path in files:
            assert path.exists(), path
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        engine.dispose()


def test_another_focal_points_subscription_looks_missing(
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
    engine: Any,
) -> None:
    from fastapi.testclient import TestClient

    factory = make_session_factory(engine)
    with session_scope(factory) as session:
        mine = FocalPoint(name="Mine", email="mine@example.org", active=True)
        theirs = FocalPoint(name="Theirs", email="theirs@example.org", active=True)
        session.add_all([mine, theirs])
        session.flush()
        other = Subscription(focal_point_id=theirs.id, channel=Channel.EMAIL)
        session.add(other)
        session.flush()
        other_id = other.id
        _, raw = create_key(session, name="desk", role=Role.FOCAL_POINT, focal_point_id=mine.id)
    settings = Settings(
        _env_file=None, data_dir=tmp_path, scheduler_enabled=False, bootstrap_admin_key=None
    )
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with TestClient(app) as client:
        headers = {"X-API-Key": raw}
        theirs_answer = client.delete(f"/subscriptions/{other_id}", headers=headers)
        missing_id = other_id + 1000
        missing_answer = client.delete(f"/subscriptions/{missing_id}", headers=headers)
    assert theirs_answer.status_code == missing_answer.status_code == 404
    assert theirs_answer.json()["detail"] == f"subscription {other_id} does not exist"
    assert missing_answer.json()["detail"] == f"subscription {missing_id} does not exist"
