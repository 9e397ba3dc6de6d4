"""An API key's last use is written at most once per interval, in a transaction of its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth import usage
from earlywarn.auth.models import ApiKey
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role


def _last_used(factory: sessionmaker[Session], key_id: int) -> Any:
    with factory() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        return key.last_used_at


def test_use_is_due_only_once_per_interval() -> None:
    now = utc_now()
    every = timedelta(minutes=15)
    assert usage.use_is_due(None, now, every)
    assert not usage.use_is_due(now - timedelta(minutes=14), now, every)
    assert usage.use_is_due(now - timedelta(minutes=15), now, every)


def test_requests_write_the_last_use_at_most_once_per_interval(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Any,
) -> None:
    from fastapi.testclient import TestClient

    # The test moves the stored last use back by hand, which a remembered key would not see
    # until its cache entry expires (auth.cache): verified keys are not remembered here.
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        scheduler_enabled=False,
        bootstrap_admin_key=None,
        api_key_cache_seconds=0,
    )
    with session_scope(session_factory) as session:
        key, raw = create_key(session, name="reader", role=Role.ANALYST)
    headers = {"X-API-Key": raw}
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with TestClient(app) as client:
        assert client.get("/alerts", headers=headers).status_code == 200
        first = _last_used(session_factory, key.id)
        assert first is not None

        assert client.get("/alerts", headers=headers).status_code == 200
        assert _last_used(session_factory, key.id) == first  # within the interval: no write

        earlier = utc_now() - timedelta(minutes=16)
        with session_scope(session_factory) as session:
            stored = session.get(ApiKey, key.id)
            assert stored is not None
            stored.last_used_at = earlier
        assert client.get("/alerts", headers=headers).status_code == 200
        assert _last_used(session_factory, key.id) > earlier + timedelta(minutes=15)


def test_a_failed_write_is_reported_not_raised(engine: Engine) -> None:
    # An id no row has: the statement runs and changes nothing. A dead engine: the write fails.
    assert usage.record_use(engine, 2_000_000_000, utc_now(), timedelta(minutes=1))
    from earlywarn.db import create_db_engine

    dead = create_db_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    try:
        assert not usage.record_use(dead, 1, utc_now(), timedelta(minutes=1))
    finally:
        dead.dispose()


def test_recording_a_use_never_needs_a_second_connection(
    engine: Engine, configuration: Configuration, tmp_path: Any
) -> None:
    """With one pooled connection, a request whose key use is due still gets through (it used
    to hold its connection while waiting for another: a deadlock under load, then 503s)."""
    from fastapi.testclient import TestClient

    from earlywarn.db import DatabaseLimits, create_db_engine, make_session_factory

    url = engine.url.render_as_string(hide_password=False)
    small = create_db_engine(
        url, limits=DatabaseLimits(pool_size=1, pool_max_overflow=0, pool_timeout_seconds=1)
    )
    try:
        with session_scope(make_session_factory(small)) as session:
            key, raw = create_key(session, name="reader", role=Role.ANALYST)
        settings = Settings(
            _env_file=None, data_dir=tmp_path, scheduler_enabled=False, bootstrap_admin_key=None
        )
        app = create_app(settings=settings, engine=small, configuration=configuration)
        with TestClient(app) as client:
            assert client.get("/alerts", headers={"X-API-Key": raw}).status_code == 200
        assert _last_used(make_session_factory(small), key.id) is not None
    finally:
        small.dispose()
