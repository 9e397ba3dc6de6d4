"""API keys over HTTP: issued once, stored as a hash, listed without secrets, revoked for good."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth.models import ApiKey, FocalPoint
from earlywarn.framework.config import Configuration
from earlywarn.settings import Settings
from earlywarn.types import Role


@pytest.fixture
def admin(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ADMIN]}


def test_lifecycle_create_use_revoke(
    client: Any, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    created = client.post(
        "/api-keys", json={"name": "second admin", "role": "admin"}, headers=admin
    )
    assert created.status_code == 201, created.text
    body = created.json()
    raw_key = body["key"]
    assert body["name"] == "second admin"
    assert body["role"] == "admin"
    assert body["prefix"] == raw_key[:10]
    assert body["revoked_at"] is None

    # Only the SHA-256 digest is stored; the key itself appears in no column.
    with session_factory() as session:
        row = session.get(ApiKey, body["id"])
        assert row is not None
        assert row.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
        stored = [str(value) for value in vars(row).values()]
        assert raw_key not in stored

    new_key = {"X-API-Key": raw_key}
    listed = client.get("/api-keys", headers=new_key)
    assert listed.status_code == 200
    entry = next(k for k in listed.json() if k["id"] == body["id"])
    assert "key" not in entry
    assert "key_hash" not in entry
    assert row.key_hash not in listed.text
    assert raw_key not in listed.text
    assert entry["last_used_at"] is not None

    revoked = client.delete(f"/api-keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None

    refused = client.get("/api-keys", headers=new_key)
    assert refused.status_code == 401
    assert refused.json() == {"detail": "unknown or revoked API key"}
    # Revoking again is harmless and changes nothing.
    again = client.delete(f"/api-keys/{body['id']}", headers=admin)
    assert again.status_code == 200
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]


def test_missing_and_wrong_keys_are_401(client: Any) -> None:
    missing = client.get("/api-keys")
    assert missing.status_code == 401
    assert "X-API-Key" in missing.json()["detail"]
    wrong = client.get("/api-keys", headers={"X-API-Key": "ew_" + "x" * 40})
    assert wrong.status_code == 401


def test_revoking_an_unknown_key_is_404(client: Any, admin: dict[str, str]) -> None:
    response = client.delete("/api-keys/987654", headers=admin)
    assert response.status_code == 404
    assert response.json() == {"detail": "API key 987654 does not exist"}


def test_the_last_admin_key_cannot_be_revoked(
    client: Any, admin: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        admin_id = session.scalars(select(ApiKey.id).where(ApiKey.role == Role.ADMIN)).one()
    response = client.delete(f"/api-keys/{admin_id}", headers=admin)
    assert response.status_code == 409
    assert "last active admin key" in response.json()["detail"]
    assert client.get("/api-keys", headers=admin).status_code == 200


def test_focal_point_keys_must_name_an_active_focal_point(
    client: Any, admin: dict[str, str], focal_point_id: int
) -> None:
    def create(**body: Any) -> Any:
        return client.post("/api-keys", json={"name": "fp", **body}, headers=admin)

    without = create(role="focal_point")
    assert without.status_code == 422
    assert without.json()["detail"] == "a focal_point key needs focal_point_id"

    unknown = create(role="focal_point", focal_point_id=555555)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "focal point 555555 does not exist"

    analyst = create(role="analyst", focal_point_id=focal_point_id)
    assert analyst.status_code == 422
    assert "only allowed for role 'focal_point'" in analyst.json()["detail"]

    good = create(role="focal_point", focal_point_id=focal_point_id)
    assert good.status_code == 201, good.text
    assert good.json()["focal_point_id"] == focal_point_id

    client.delete(f"/focal-points/{focal_point_id}", headers=admin)
    inactive = create(role="focal_point", focal_point_id=focal_point_id)
    assert inactive.status_code == 409
    assert "inactive" in inactive.json()["detail"]


def test_bad_key_requests_are_422_with_locations(client: Any, admin: dict[str, str]) -> None:
    response = client.post("/api-keys", json={"name": "", "role": "root"}, headers=admin)
    assert response.status_code == 422
    locations = {tuple(error["loc"]) for error in response.json()["detail"]}
    assert locations == {("body", "name"), ("body", "role")}


def test_bootstrap_admin_key_is_registered_once_at_start_up(
    engine: Any,
    configuration: Configuration,
    make_settings: Callable[..., Settings],
    session_factory: sessionmaker[Session],
    testclient_class: Any,
) -> None:
    raw_key = "ew_bootstrap_" + "k" * 32
    settings = make_settings(bootstrap_admin_key=raw_key)
    for _ in range(2):  # a restart must not register it twice
        app = create_app(settings=settings, engine=engine, configuration=configuration)
        with testclient_class(app) as client:
            response = client.get("/api-keys", headers={"X-API-Key": raw_key})
            assert response.status_code == 200, response.text
    with session_factory() as session:
        names = list(session.scalars(select(ApiKey.name)))
        assert names == ["bootstrap-admin"]
        assert session.scalars(select(FocalPoint)).all() == []
