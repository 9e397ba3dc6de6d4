"""The administration pages: focal points with their endpoints and subscriptions, API keys and
source health. Forms are posted as a browser would, with the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth.models import ApiKey, FocalPoint
from earlywarn.auth.service import create_key
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope, utc_now
from earlywarn.framework.config import Configuration
from earlywarn.notify.models import Subscription
from earlywarn.observations.models import IngestRun, RunStatus, Source
from earlywarn.types import Role

from .conftest import TestClient, form_token, sign_in, web_settings

ADMIN_PAGES = ("/admin/focal-points", "/admin/api-keys", "/admin/sources")
HOOK = "http://127.0.0.1:9/earlywarn-hook"


@pytest.fixture
def app(engine: Engine, configuration: Configuration, tmp_path: Path) -> FastAPI:
    # Webhooks to loopback are allowed here, as the test receivers elsewhere listen there.
    settings = web_settings(tmp_path, webhook_allow_hosts="127.0.0.1")
    return create_app(settings=settings, engine=engine, configuration=configuration)


def _admin(new_client: Callable[[], TestClient], users: dict[Role, str]) -> tuple[TestClient, str]:
    client = new_client()
    sign_in(client, users[Role.ADMIN])
    page = client.get("/admin/focal-points")
    assert page.status_code == 200
    return client, form_token(page.text)


def _secret_on(page: str) -> str:
    match = re.search(r'<code class="reveal">(whsec_[^<]+)</code>', page)
    assert match, "the page shows no webhook secret"
    return match.group(1)


def test_analysts_and_focal_points_are_refused_every_admin_page_and_form(
    new_client: Callable[[], TestClient], users: dict[Role, str], focal_point_id: int
) -> None:
    for role in (Role.ANALYST, Role.FOCAL_POINT):
        client = new_client()
        sign_in(client, users[role])
        token = form_token(client.get("/account").text)
        for path in ADMIN_PAGES:
            refused = client.get(path)
            assert refused.status_code == 403, path
            assert "may not admin" in refused.text
        assert "/admin/focal-points" not in client.get("/account").text  # no nav link
        for path, data in (
            ("/admin/focal-points", {"name": "Mallory"}),
            (f"/admin/focal-points/{focal_point_id}/deactivate", {}),
            ("/admin/api-keys", {"name": "x", "role": "admin"}),
        ):
            assert client.post(path, data={"csrf_token": token, **data}).status_code == 403
    anonymous = new_client().get("/admin/sources")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/admin/sources"


def test_an_admin_creates_a_focal_point_and_sees_its_webhook_secret_once(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
) -> None:
    client, token = _admin(new_client, users)
    assert 'href="/admin/focal-points"' in client.get("/").text  # the nav names it
    fields = {"name": "Sahel desk", "organisation": "OSAPG", "email": "sahel@example.org"}
    no_csrf = client.post("/admin/focal-points", data={**fields, "webhook_url": HOOK})
    assert no_csrf.status_code == 403
    bad = client.post(
        "/admin/focal-points", data={"csrf_token": token, **fields, "email": "sahel@@example"}
    )
    assert bad.status_code == 400
    assert "email: " in bad.text
    assert "exactly one" in bad.text
    assert 'value="Sahel desk"' in bad.text  # the form keeps what was typed
    created = client.post(
        "/admin/focal-points",
        data={"csrf_token": token, **fields, "webhook_url": HOOK, "is_administrator": "on"},
    )
    assert created.status_code == 200
    secret = _secret_on(created.text)
    with session_factory() as session:
        focal_point = session.scalars(
            select(FocalPoint).where(FocalPoint.name == "Sahel desk")
        ).one()
        assert focal_point.webhook_secret == secret
        assert focal_point.is_administrator
        assert (focal_point.email, focal_point.webhook_url) == ("sahel@example.org", HOOK)
    again = client.get(f"/admin/focal-points/{focal_point.id}")
    assert secret not in again.text  # shown once
    listing = client.get("/admin/focal-points")
    assert f'href="/admin/focal-points/{focal_point.id}">Sahel desk</a>' in listing.text
    assert secret not in listing.text
    # A webhook host the service must not reach is refused, as by the API.
    private = client.post(
        "/admin/focal-points",
        data={"csrf_token": token, "name": "x", "webhook_url": "http://10.0.0.8/hook"},
    )
    assert private.status_code == 400
    assert "10.0.0.8" in private.text


def test_an_admin_edits_a_focal_point_manages_subscriptions_and_deactivates_it(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    focal_point_id: int,
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        create_key(
            session, name="desk machine", role=Role.FOCAL_POINT, focal_point_id=focal_point_id
        )
    client, token = _admin(new_client, users)
    page = f"/admin/focal-points/{focal_point_id}"
    added = client.post(
        f"{page}/subscriptions",
        data={"csrf_token": token, "channel": "email", "country_iso3": "KEN",
              "min_level": "concern", "rule_kinds": ["level_at_least", "level_rise"]},
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert "Subscription #" in added.text
    twice = client.post(
        f"{page}/subscriptions",
        data={"csrf_token": token, "channel": "email", "country_iso3": "KEN",
              "min_level": "warning", "rule_kinds": ["level_at_least", "level_rise"]},
    )  # fmt: skip
    assert twice.status_code == 400
    assert "already has email subscription" in twice.text
    no_target = client.post(
        f"{page}/subscriptions", data={"csrf_token": token, "channel": "webhook"}
    )
    assert no_target.status_code == 400
    assert "has no webhook_url" in no_target.text
    with session_factory() as session:
        (subscription,) = session.scalars(
            select(Subscription).where(Subscription.focal_point_id == focal_point_id)
        )
        assert (subscription.country_iso3, subscription.min_level.value) == ("KEN", "concern")
        assert subscription.rule_kinds == ["level_at_least", "level_rise"]

    keep = {"csrf_token": token, "name": "Kenya desk", "organisation": "", "email": ""}
    in_use = client.post(page, data=keep)
    assert in_use.status_code == 400
    assert "cannot remove email" in in_use.text
    # Adding a webhook endpoint: a new secret, shown once.
    saved = client.post(page, data={**keep, "email": "desk@example.org", "webhook_url": HOOK})
    assert saved.status_code == 200
    secret = _secret_on(saved.text)
    with session_factory() as session:
        focal_point = session.get_one(FocalPoint, focal_point_id)
        assert (focal_point.name, focal_point.webhook_url) == ("Kenya desk", HOOK)
        assert focal_point.webhook_secret == secret
    rotated = client.post(f"{page}/webhook/rotate-secret", data={"csrf_token": token})
    assert _secret_on(rotated.text) != secret

    deleted = client.post(
        f"/admin/subscriptions/{subscription.id}/delete", data={"csrf_token": token}
    )
    assert deleted.status_code == 303
    off = client.post(f"{page}/deactivate", data={"csrf_token": token})
    assert off.status_code == 303
    with session_factory() as session:
        assert not session.get_one(FocalPoint, focal_point_id).active
        assert session.scalars(select(Subscription)).all() == []
        key = session.scalars(select(ApiKey).where(ApiKey.name == "desk machine")).one()
        assert key.revoked_at is not None  # its keys stop working with it
    shown = client.get(page).text
    assert "Inactive" in shown
    assert "Reactivate Kenya desk" in shown
    assert client.post(f"{page}/activate", data={"csrf_token": token}).status_code == 303
    with session_factory() as session:
        assert session.get_one(FocalPoint, focal_point_id).active
    assert client.get("/admin/focal-points/99999").status_code == 404


def test_an_admin_issues_a_key_shown_once_and_revokes_it(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    focal_point_id: int,
) -> None:
    with session_scope(session_factory) as session:
        seed_countries(session)
        (only_admin_key, _) = create_key(session, name="ops", role=Role.ADMIN)
        only_admin_id = only_admin_key.id
    client, token = _admin(new_client, users)
    issued = client.post(
        "/admin/api-keys",
        data={"csrf_token": token, "name": "Desk dashboard", "role": "focal_point",
              "focal_point_id": str(focal_point_id)},
    )  # fmt: skip
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    raw = re.search(r'<code class="reveal">(ew_[^<]+)</code>', issued.text)
    assert raw is not None
    key = raw.group(1)
    api = new_client()
    assert api.get("/countries/KEN", headers={"X-API-Key": key}).status_code == 200
    listing = client.get("/admin/api-keys").text
    assert key not in listing
    assert "Desk dashboard" in listing
    assert "focal point" in listing
    assert "never" not in listing.split("Desk dashboard")[1].split("</tr>")[0]
    missing_fp = client.post(
        "/admin/api-keys", data={"csrf_token": token, "name": "x", "role": "focal_point"}
    )
    assert missing_fp.status_code == 400
    assert "needs focal_point_id" in missing_fp.text
    no_name = client.post("/admin/api-keys", data={"csrf_token": token, "role": "analyst"})
    assert no_name.status_code == 400
    with session_factory() as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.name == "Desk dashboard")).one()
    assert (
        client.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token}).status_code
        == 303
    )
    assert api.get("/countries/KEN", headers={"X-API-Key": key}).status_code == 401
    last = client.post(f"/admin/api-keys/{only_admin_id}/revoke", data={"csrf_token": token})
    assert last.status_code == 409
    assert "last active admin key" in last.text


def test_the_sources_page_shows_every_configured_source_and_the_failures(
    new_client: Callable[[], TestClient],
    users: dict[Role, str],
    session_factory: sessionmaker[Session],
    configuration: Configuration,
) -> None:
    with session_scope(session_factory) as session:
        session.add(Source(id="worldbank", name="World Bank WDI", kind="api"))
        session.flush()
        session.add(
            IngestRun(
                source_id="worldbank",
                status=RunStatus.FAILED,
                trigger="schedule",
                started_at=utc_now(),
                finished_at=utc_now(),
                error="HTTP 503 from api.worldbank.org",
            )
        )
    client, _ = _admin(new_client, users)
    page = client.get("/admin/sources")
    assert page.status_code == 200
    for source_id in configuration.sources.scheduled_sources():
        assert f'id="source-{source_id}"' in page.text
    row = page.text.split('id="source-worldbank"')[1].split("</tr>")[0]
    assert "<strong>failing</strong>" in row
    assert "HTTP 503 from api.worldbank.org" in row
    failed = page.text.split('id="failed-runs"')[1]
    assert "worldbank" in failed
    assert "schedule" in failed
