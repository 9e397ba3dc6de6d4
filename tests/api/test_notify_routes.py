"""Focal point and subscription management over HTTP: CRUD, and 4xx with reasons."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.countries.models import Country
from earlywarn.db import session_scope
from earlywarn.types import Role


@pytest.fixture
def admin(keys: dict[Role, str]) -> dict[str, str]:
    return {"X-API-Key": keys[Role.ADMIN]}


@pytest.fixture
def countries(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        session.add_all([Country(iso3="SDN", name="Sudan"), Country(iso3="TCD", name="Chad")])


def _create(client: Any, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post("/focal-points", json={"name": "Sudan desk", **body}, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_focal_point_crud(client: Any, admin: dict[str, str]) -> None:
    created = _create(client, admin, organisation="OSAPG", email="sudan.desk@example.org")
    assert created["active"] is True
    assert created["webhook_url"] is None
    url = f"/focal-points/{created['id']}"

    assert created.pop("webhook_secret") is None  # no webhook endpoint, no secret
    assert client.get(url, headers=admin).json() == created
    listed = client.get("/focal-points", headers=admin).json()
    assert created["id"] in {fp["id"] for fp in listed}

    patched = client.patch(
        url,
        json={"name": "Sudan & Chad desk", "webhook_url": "https://hooks.example.org/ew"},
        headers=admin,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Sudan & Chad desk"
    assert patched.json()["webhook_url"] == "https://hooks.example.org/ew"
    # Fields left out are untouched.
    assert patched.json()["email"] == "sudan.desk@example.org"
    assert patched.json()["organisation"] == "OSAPG"

    removed = client.patch(url, json={"organisation": None}, headers=admin)
    assert removed.json()["organisation"] is None


def test_the_webhook_secret_is_shown_once_when_the_endpoint_is_created(
    client: Any, admin: dict[str, str]
) -> None:
    with_hook = _create(client, admin, webhook_url="https://hooks.example.org/a")
    secret = with_hook["webhook_secret"]
    assert secret.startswith("whsec_")
    url = f"/focal-points/{with_hook['id']}"
    # Never again: not on reading, listing or changing the focal point.
    assert "webhook_secret" not in client.get(url, headers=admin).json()
    listed = client.get("/focal-points", headers=admin).json()
    assert all("webhook_secret" not in fp for fp in listed)
    assert secret not in client.get("/focal-points", headers=admin).text
    renamed = client.patch(url, json={"name": "Renamed"}, headers=admin)
    assert renamed.json()["webhook_secret"] is None
    # A focal point given its first webhook later gets a new secret, in that response only.
    plain = _create(client, admin, email="x@example.org")
    added = client.patch(
        f"/focal-points/{plain['id']}",
        json={"webhook_url": "https://hooks.example.org/b"},
        headers=admin,
    )
    assert added.status_code == 200, added.text
    first = added.json()["webhook_secret"]
    assert first.startswith("whsec_")
    assert first != secret
    again = client.patch(
        f"/focal-points/{plain['id']}",
        json={"webhook_url": "https://hooks.example.org/c"},
        headers=admin,
    )
    assert again.json()["webhook_secret"] is None


def test_invalid_contact_details_are_422_with_field_and_reason(
    client: Any, admin: dict[str, str]
) -> None:
    response = client.post(
        "/focal-points",
        json={"name": "Desk", "email": "desk.example.org", "webhook_url": "ftp://x.example.org"},
        headers=admin,
    )
    assert response.status_code == 422
    errors = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert "exactly one '@'" in errors[("body", "email")]
    assert "http:// or https://" in errors[("body", "webhook_url")]

    blank_name = client.post("/focal-points", json={"name": "  "}, headers=admin)
    assert blank_name.status_code == 422
    assert blank_name.json()["detail"][0]["loc"] == ["body", "name"]

    # Nothing was stored: only the focal point of the ``keys`` fixture exists.
    names = [fp["name"] for fp in client.get("/focal-points", headers=admin).json()]
    assert names == ["Desk officer"]


def test_unknown_focal_point_is_404_with_reason(client: Any, admin: dict[str, str]) -> None:
    for method, path, body in [
        ("GET", "/focal-points/424242", None),
        ("PATCH", "/focal-points/424242", {"name": "x"}),
        ("DELETE", "/focal-points/424242", None),
        ("GET", "/focal-points/424242/subscriptions", None),
        ("POST", "/focal-points/424242/subscriptions", {"channel": "email"}),
    ]:
        response = client.request(method, path, json=body, headers=admin)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "focal point 424242 does not exist"}


def test_delete_deactivates_keeps_history_and_revokes_its_keys(
    client: Any, admin: dict[str, str], keys: dict[Role, str], focal_point_id: int
) -> None:
    focal_point_key = {"X-API-Key": keys[Role.FOCAL_POINT]}
    # The focal point key works before (403 on an admin route means it was recognised).
    assert client.get("/focal-points", headers=focal_point_key).status_code == 403

    response = client.delete(f"/focal-points/{focal_point_id}", headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert client.get(f"/focal-points/{focal_point_id}", headers=admin).status_code == 200
    inactive = client.get("/focal-points", params={"active": "false"}, headers=admin).json()
    assert [fp["id"] for fp in inactive] == [focal_point_id]
    assert client.get("/focal-points", params={"active": "true"}, headers=admin).json() == []
    assert client.get("/focal-points", headers=focal_point_key).status_code == 401

    reactivated = client.patch(
        f"/focal-points/{focal_point_id}", json={"active": True}, headers=admin
    )
    assert reactivated.json()["active"] is True
    # Reactivation does not bring revoked keys back.
    assert client.get("/focal-points", headers=focal_point_key).status_code == 401


@pytest.mark.usefixtures("countries")
def test_subscription_lifecycle(client: Any, admin: dict[str, str]) -> None:
    fp = _create(client, admin, email="desk@example.org", webhook_url="https://h.example.org/")
    subs_url = f"/focal-points/{fp['id']}/subscriptions"

    sudan = client.post(
        subs_url,
        json={"country_iso3": "sdn", "min_level": "concern", "channel": "email"},
        headers=admin,
    )
    assert sudan.status_code == 201, sudan.text
    assert sudan.json()["country_iso3"] == "SDN"
    assert sudan.json()["min_level"] == "concern"
    everywhere = client.post(
        subs_url, json={"country_iso3": None, "channel": "webhook"}, headers=admin
    )
    assert everywhere.status_code == 201, everywhere.text
    assert everywhere.json()["min_level"] == "warning"

    listed = client.get(subs_url, headers=admin).json()
    assert [s["id"] for s in listed] == [sudan.json()["id"], everywhere.json()["id"]]

    deleted = client.delete(f"/subscriptions/{sudan.json()['id']}", headers=admin)
    assert deleted.status_code == 204
    again = client.delete(f"/subscriptions/{sudan.json()['id']}", headers=admin)
    assert again.status_code == 404
    assert again.json()["detail"] == f"subscription {sudan.json()['id']} does not exist"
    assert [s["id"] for s in client.get(subs_url, headers=admin).json()] == [
        everywhere.json()["id"]
    ]


@pytest.mark.usefixtures("countries")
def test_subscription_refusals_name_their_reason(client: Any, admin: dict[str, str]) -> None:
    fp = _create(client, admin, email="desk@example.org")
    subs_url = f"/focal-points/{fp['id']}/subscriptions"

    no_webhook = client.post(subs_url, json={"channel": "webhook"}, headers=admin)
    assert no_webhook.status_code == 422
    assert "has no webhook_url" in no_webhook.json()["detail"]

    unknown = client.post(subs_url, json={"country_iso3": "XYZ", "channel": "email"}, headers=admin)
    assert unknown.status_code == 422
    assert unknown.json()["detail"] == "unknown country 'XYZ'"

    malformed = client.post(
        subs_url, json={"country_iso3": "SD", "channel": "email"}, headers=admin
    )
    assert malformed.status_code == 422
    assert malformed.json()["detail"][0]["loc"] == ["body", "country_iso3"]

    bad_level = client.post(
        subs_url, json={"min_level": "severe", "channel": "email"}, headers=admin
    )
    assert bad_level.status_code == 422
    assert bad_level.json()["detail"][0]["loc"] == ["body", "min_level"]

    first = client.post(subs_url, json={"country_iso3": "TCD", "channel": "email"}, headers=admin)
    assert first.status_code == 201
    duplicate = client.post(
        subs_url,
        json={"country_iso3": "TCD", "min_level": "low", "channel": "email"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    assert "already has email subscription" in duplicate.json()["detail"]

    in_use = client.patch(f"/focal-points/{fp['id']}", json={"email": None}, headers=admin)
    assert in_use.status_code == 409
    assert "cannot remove email" in in_use.json()["detail"]
    assert client.get(f"/focal-points/{fp['id']}", headers=admin).json()["email"] == (
        "desk@example.org"
    )

    client.delete(f"/focal-points/{fp['id']}", headers=admin)
    inactive = client.post(subs_url, json={"channel": "email"}, headers=admin)
    assert inactive.status_code == 409
    assert "inactive" in inactive.json()["detail"]

    assert len(client.get(subs_url, headers=admin).json()) == 1


def test_outbox_listing_validates_its_filters(client: Any, admin: dict[str, str]) -> None:
    assert client.get("/outbox", headers=admin).json() == []
    bad = client.get("/outbox", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "status"]
    too_many = client.get("/outbox", params={"limit": 5000}, headers=admin)
    assert too_many.status_code == 422
