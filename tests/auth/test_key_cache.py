"""Verified API keys are remembered briefly per process (auth.cache), never at the cost of a
revocation: revoking in this process takes effect at once, elsewhere within the TTL."""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.app.factory import create_app
from earlywarn.auth.cache import PrincipalCache
from earlywarn.auth.models import ApiKey, FocalPoint
from earlywarn.auth.service import Principal, create_key
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


def _client(engine: Engine, configuration: Configuration, tmp_path: Path, **settings: Any) -> Any:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "scheduler_enabled": False,
        "bootstrap_admin_key": None,
    }
    values.update(settings)
    app = create_app(
        settings=Settings(_env_file=None, **values), engine=engine, configuration=configuration
    )
    return TestClient(app)


def _keys(factory: sessionmaker[Session]) -> tuple[dict[str, str], int]:
    """Raw keys by name (and the reader's id as ``reader_id``), and the focal point's id."""
    with session_scope(factory) as session:
        focal_point = FocalPoint(name="Desk", email="desk@example.org", active=True)
        session.add(focal_point)
        session.flush()
        _, admin = create_key(session, name="admin", role=Role.ADMIN)
        _, other_admin = create_key(session, name="admin 2", role=Role.ADMIN)
        reader_key, reader = create_key(session, name="reader", role=Role.ANALYST)
        _, desk = create_key(
            session, name="desk", role=Role.FOCAL_POINT, focal_point_id=focal_point.id
        )
        keys = {"admin": admin, "other_admin": other_admin, "reader": reader, "desk": desk}
        keys["reader_id"] = str(reader_key.id)
        return keys, focal_point.id


def _revoke_in_database(factory: sessionmaker[Session], key_id: int) -> None:
    """What another replica's revocation looks like from this process: only the row changes."""
    with session_scope(factory) as session:
        key = session.get(ApiKey, key_id)
        assert key is not None
        key.revoked_at = utc_now()


def test_revoking_through_the_api_takes_effect_at_once(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    keys, focal_point_id = _keys(session_factory)
    admin = {"X-API-Key": keys["admin"]}
    with _client(engine, configuration, tmp_path, api_key_cache_seconds=300) as client:
        for name in ("reader", "desk", "other_admin"):
            assert client.get("/alerts", headers={"X-API-Key": keys[name]}).status_code == 200
        reader_id = int(keys["reader_id"])
        assert client.delete(f"/api-keys/{reader_id}", headers=admin).status_code == 200
        refused = client.get("/alerts", headers={"X-API-Key": keys["reader"]})
        assert refused.status_code == 401
        assert refused.json()["detail"] == "unknown or revoked API key"
        # Deactivating a focal point revokes its keys: forgotten at once as well.
        assert client.delete(f"/focal-points/{focal_point_id}", headers=admin).status_code == 200
        assert client.get("/alerts", headers={"X-API-Key": keys["desk"]}).status_code == 401
        # Keys nobody revoked keep working.
        assert client.get("/alerts", headers={"X-API-Key": keys["other_admin"]}).status_code == 200


def test_a_revocation_elsewhere_is_seen_within_the_ttl(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    keys, _ = _keys(session_factory)
    reader = {"X-API-Key": keys["reader"]}
    with _client(engine, configuration, tmp_path, api_key_cache_seconds=1.0) as client:
        assert client.get("/alerts", headers=reader).status_code == 200
        _revoke_in_database(session_factory, int(keys["reader_id"]))
        # Remembered for at most the TTL (what docs/operations.md promises), then refused.
        deadline = time.monotonic() + 10
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = client.get("/alerts", headers=reader).status_code
            time.sleep(0.1)
        assert status == 401


def test_without_a_cache_a_revocation_elsewhere_is_seen_at_once(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    keys, _ = _keys(session_factory)
    reader = {"X-API-Key": keys["reader"]}
    with _client(engine, configuration, tmp_path, api_key_cache_seconds=0) as client:
        assert client.get("/alerts", headers=reader).status_code == 200
        _revoke_in_database(session_factory, int(keys["reader_id"]))
        assert client.get("/alerts", headers=reader).status_code == 401


def test_an_unknown_key_is_not_remembered(
    engine: Engine,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    tmp_path: Path,
) -> None:
    raw = "ew_" + "k" * 40
    with _client(engine, configuration, tmp_path, api_key_cache_seconds=300) as client:
        assert client.get("/alerts", headers={"X-API-Key": raw}).status_code == 401
        with session_scope(session_factory) as session:
            create_key(session, name="late", role=Role.ANALYST, raw_key=raw)
        assert client.get("/alerts", headers={"X-API-Key": raw}).status_code == 200


def test_a_lookup_that_raced_a_revocation_is_not_remembered() -> None:
    cache = PrincipalCache(ttl_seconds=300)
    principal = Principal(1, "reader", Role.ANALYST, None)
    generation = cache.generation
    cache.forget_all()  # a revocation committed while the lookup was reading
    cache.put("digest", principal, generation)
    assert cache.get("digest") is None
    cache.put("digest", principal, cache.generation)
    assert cache.get("digest") == principal
    expired = PrincipalCache(ttl_seconds=0)
    expired.put("digest", principal, expired.generation)
    assert expired.get("digest") is None
