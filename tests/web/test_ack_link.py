"""The one-click acknowledge link: sent in a real e-mail through a real SMTP server on
loopback, opened without signing in, acknowledging only after the confirmation's POST."""

from __future__ import annotations

import re
import socket
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import itsdangerous.timed
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.notify import ack_links, outbox
from earlywarn.notify.delivery import worker_from_settings
from earlywarn.notify.models import Channel, Subscription
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel

from .conftest import TestClient, web_settings

LINK = re.compile(r"http://testserver(/ack/[A-Za-z0-9_.\-]+)")


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@dataclass
class Mail:
    port: int
    inbox: _Inbox


@pytest.fixture
def mail() -> Iterator[Mail]:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield Mail(port, inbox)
    controller.stop()


@pytest.fixture
def settings(tmp_path: Path, mail: Mail) -> Settings:
    return web_settings(tmp_path, smtp_port=mail.port, smtp_from="earlywarn@example.org")


@pytest.fixture
def app(engine: Engine, configuration: Configuration, settings: Settings) -> FastAPI:
    return create_app_for(engine, configuration, settings)


def create_app_for(engine: Engine, configuration: Configuration, settings: Settings) -> FastAPI:
    from earlywarn.app.factory import create_app

    return create_app(settings=settings, engine=engine, configuration=configuration)


def _alert_told_to(session_factory: sessionmaker[Session]) -> tuple[int, int, int]:
    """A firing Kenya alert, the Kenya desk subscribed to it by e-mail, a bystander desk, and
    the alert's message queued. Returns (alert, desk, bystander) ids."""
    with session_scope(session_factory) as session:
        seed_countries(session)
        desk = FocalPoint(name="Kenya desk", email="desk@example.org", active=True)
        bystander = FocalPoint(name="Andes desk", email="andes@example.org", active=True)
        session.add_all([desk, bystander])
        session.flush()
        session.add(
            Subscription(focal_point_id=desk.id, country_iso3="KEN",
                         min_level=RiskLevel.CONCERN, channel=Channel.EMAIL)
        )  # fmt: skip
        alert = Alert(
            rule_id="elevated_risk", country_iso3="KEN", subject="KEN",
            rule_kind="level_at_least", dedup_key="elevated_risk:KEN", level=RiskLevel.WARNING,
            summary="Kenya: atrocity risk at or above 'warning'.",
            evidence={"as_of": "2025-06-30", "composite": 0.42, "level": "warning"}, actions={},
        )  # fmt: skip
        session.add(alert)
        session.flush()
        event = AlertEvent(alert_id=alert.id, kind=AlertEventKind.OPENED, at=alert.opened_at,
                           to_level=RiskLevel.WARNING)  # fmt: skip
        session.add(event)
        session.flush()
        assert len(outbox.enqueue_alert_event(session, alert, event)) == 1
        return alert.id, desk.id, bystander.id


def _deliver(session_factory: sessionmaker[Session], settings: Settings, mail: Mail) -> str:
    policy_ = DeliveryConfig(backoff_initial_seconds=0.01, batch_size=10)
    worker = worker_from_settings(session_factory, settings, policy_)
    try:
        worker.drain()
    finally:
        worker.close()
    (message,) = mail.inbox.messages
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    found = LINK.search(text)
    assert found, text
    assert f'href="http://testserver{found.group(1)}"' in html
    assert "one click, no sign-in" in text
    return found.group(1)


def test_the_emailed_link_confirms_then_acknowledges_as_its_focal_point(
    new_client: Callable[[], TestClient],
    session_factory: sessionmaker[Session],
    settings: Settings,
    mail: Mail,
) -> None:
    alert_id, desk_id, _ = _alert_told_to(session_factory)
    path = _deliver(session_factory, settings, mail)
    browser = new_client()  # never signed in
    page = browser.get(path)
    assert page.status_code == 200
    assert "Confirm: acknowledge this alert as Kenya desk" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    browser.get(path)
    with session_factory() as session:
        assert session.get_one(Alert, alert_id).state is AlertState.FIRING  # GETs change nothing

    done = browser.post(path, data={"note": "Called the UNCT; meeting tomorrow."})
    assert done.status_code == 303
    assert done.headers["location"] == path
    after = browser.get(path)
    assert "This alert is acknowledged by focal_point:" in after.text
    assert 'id="ack-form"' not in after.text
    with session_factory() as session:
        alert = session.get_one(Alert, alert_id)
        assert alert.state is AlertState.ACKNOWLEDGED
        assert alert.acknowledged_by == f"focal_point:{desk_id}:Kenya desk (e-mail link)"
        event = session.scalars(
            select(AlertEvent).where(
                AlertEvent.alert_id == alert_id, AlertEvent.kind == AlertEventKind.ACKNOWLEDGED
            )
        ).one()
        assert event.note == "Called the UNCT; meeting tomorrow."
        assert event.actor == alert.acknowledged_by
    twice = browser.post(path, data={"note": "again"})
    assert twice.status_code == 409
    assert "already acknowledged" in twice.text


def test_a_tampered_expired_or_foreign_link_is_refused_with_a_clear_page(
    new_client: Callable[[], TestClient],
    session_factory: sessionmaker[Session],
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alert_id, desk_id, bystander_id = _alert_told_to(session_factory)
    links: ack_links.AckLinks = app.state.ack_links
    browser = new_client()
    token = links.token(alert_id, desk_id)
    # Another alert's id in the same signature: the signature no longer matches.
    forged = token.replace(token.split(".")[0], links.token(alert_id + 1, desk_id).split(".")[0])
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "x" * 600):
        page = browser.get(f"/ack/{bad}")
        assert page.status_code == 400
        assert "not valid" in page.text
        assert browser.post(f"/ack/{bad}", data={"note": "x"}).status_code == 400
    # Signed eight days ago; links last seven.
    real_now = time.time()
    monkeypatch.setattr(
        itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(real_now) - 8 * 86400
    )
    old = links.token(alert_id, desk_id)
    monkeypatch.undo()
    expired = browser.get(f"/ack/{old}")
    assert expired.status_code == 410
    assert "has expired (links are valid for 7 days)" in expired.text
    assert browser.post(f"/ack/{old}", data={}).status_code == 410
    # A genuine link for a focal point the alert does not concern: notify's rule refuses it.
    foreign = links.path(alert_id, bystander_id)
    assert browser.get(foreign).status_code == 403
    refused = browser.post(foreign, data={})
    assert refused.status_code == 403
    assert "was not told about alert" in refused.text
    with session_factory() as session:
        assert session.get_one(Alert, alert_id).state is AlertState.FIRING


def test_a_deactivated_focal_points_link_stops_working(
    new_client: Callable[[], TestClient],
    session_factory: sessionmaker[Session],
    app: FastAPI,
) -> None:
    alert_id, desk_id, _ = _alert_told_to(session_factory)
    path = app.state.ack_links.path(alert_id, desk_id)
    with session_scope(session_factory) as session:
        session.get_one(FocalPoint, desk_id).active = False
    browser = new_client()
    shown = browser.get(path)
    assert shown.status_code == 403
    assert "not an active focal point" in shown.text
    assert 'id="ack-form"' not in shown.text
    refused = browser.post(path, data={})
    assert refused.status_code == 403
    assert "not an active focal point" in refused.text


def test_the_generated_secret_is_private_stable_and_replaced_by_a_configured_one(
    tmp_path: Path,
) -> None:
    settings = web_settings(tmp_path)
    first = ack_links.from_settings(settings)
    secret_file = tmp_path / ack_links.SECRET_FILE_NAME
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    token = first.token(7, 3)
    again = ack_links.from_settings(settings)  # another process of the same installation
    assert again.read(token) == ack_links.AckGrant(alert_id=7, focal_point_id=3)
    assert [p.name for p in tmp_path.iterdir()] == [ack_links.SECRET_FILE_NAME]
    configured = ack_links.from_settings(
        web_settings(tmp_path, ack_link_secret="s" * 40, ack_link_max_age_hours=2)
    )
    assert configured.max_age == timedelta(hours=2)
    with pytest.raises(ack_links.AckLinkInvalid):
        configured.read(token)
    with pytest.raises(ValueError, match="32"):
        ack_links.AckLinks("short", timedelta(hours=1))
    not_a_directory = tmp_path / ack_links.SECRET_FILE_NAME / "data"
    with pytest.raises(ack_links.AckLinkError, match="EARLYWARN_ACK_LINK_SECRET"):
        ack_links.from_settings(web_settings(not_a_directory))
