"""Constraint violations become 409 with a short reason; bugs are not disguised as 4xx."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from earlywarn.api.deps import SessionDep
from earlywarn.auth.models import ApiKey
from earlywarn.notify.models import Channel, Subscription
from earlywarn.types import Role


@pytest.fixture
def app_with_faults(app: FastAPI) -> FastAPI:
    """The real application plus routes that break constraints the way a bug or race would."""

    @app.post("/_test/duplicate-key")
    def duplicate_key(session: SessionDep) -> None:
        for name in ("one", "two"):
            session.add(ApiKey(name=name, role=Role.ANALYST, key_prefix="ew_", key_hash="d" * 64))
            session.flush()

    @app.post("/_test/dangling-subscription")
    def dangling_subscription(session: SessionDep) -> None:
        session.add(Subscription(focal_point_id=999_999, channel=Channel.EMAIL))
        session.flush()

    @app.post("/_test/bug")
    def bug() -> None:
        raise ValueError("a programming error")

    return app


def test_unique_violation_is_409_without_sql(app_with_faults: FastAPI, client: Any) -> None:
    response = client.post("/_test/duplicate-key")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "conflict: a record with the same unique value already exists"
    }
    for leaked in ("INSERT", "api_keys", "key_hash", "dddd"):
        assert leaked not in response.text


def test_foreign_key_violation_is_409_without_sql(app_with_faults: FastAPI, client: Any) -> None:
    response = client.post("/_test/dangling-subscription")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "conflict: the change refers to a record that does not exist or is still in use"
    }
    assert "subscriptions" not in response.text


def test_the_failed_request_left_nothing_behind(
    app_with_faults: FastAPI, client: Any, keys: dict[Role, str]
) -> None:
    client.post("/_test/duplicate-key")
    listed = client.get("/api-keys", headers={"X-API-Key": keys[Role.ADMIN]}).json()
    assert {key["name"] for key in listed} == {f"test-{role.value}" for role in Role}


def test_value_errors_stay_server_errors(app_with_faults: FastAPI, testclient_class: Any) -> None:
    with testclient_class(app_with_faults, raise_server_exceptions=False) as client:
        response = client.post("/_test/bug")
    assert response.status_code == 500


def test_validation_errors_keep_their_field_locations(client: Any, keys: dict[Role, str]) -> None:
    response = client.post(
        "/focal-points", json={"organisation": "x"}, headers={"X-API-Key": keys[Role.ADMIN]}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
