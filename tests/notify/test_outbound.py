"""Outbound safety: webhook destinations, what is kept of a reply, e-mail addresses and
headers, and messages that cannot be built."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.factory import create_app
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.notify import outbound
from earlywarn.notify.channels import SmtpSettings, build_email
from earlywarn.notify.delivery import DeliveryWorker
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
)
from earlywarn.notify.schemas import check_email
from earlywarn.settings import Settings
from earlywarn.types import Role

POLICY = DeliveryConfig(
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.02,
    max_attempts=1,
    disable_endpoint_after_failures=1,
)

REFUSED_URLS = [
    "http://127.0.0.1/hook",
    "http://0x7f000001/hook",
    "http://[::1]:8080/hook",
    "http://localhost:5432/",  # a DNS name that resolves to 127.0.0.1
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
]


def _fake_resolver(table: dict[str, list[str]]) -> outbound.Resolver:
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_destinations_are_refused(url: str) -> None:
    with pytest.raises(outbound.UnsafeDestination, match="EARLYWARN_WEBHOOK_ALLOW_HOSTS"):
        outbound.check_destination(url, ())


def test_a_public_name_that_resolves_to_loopback_is_refused() -> None:
    resolve = _fake_resolver({"hooks.example.org": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(outbound.UnsafeDestination, match="loopback"):
        outbound.check_destination("https://hooks.example.org/x", (), resolve)


def test_a_public_destination_is_pinned_to_the_checked_address() -> None:
    resolve = _fake_resolver({"hooks.example.org": ["93.184.216.34"]})
    target = outbound.check_destination("https://hooks.example.org:8443/x?a=1", (), resolve)
    assert target.url == "https://93.184.216.34:8443/x?a=1"
    assert target.headers == {"host": "hooks.example.org:8443"}
    assert target.extensions == {"sni_hostname": "hooks.example.org"}


def test_the_allow_list_names_hosts_an_administrator_trusts() -> None:
    assert outbound.check_destination("http://127.0.0.1:9/x", ["127.0.0.1"]).url == (
        "http://127.0.0.1:9/x"
    )
    assert outbound.check_destination("http://[::1]/x", ["::1"]).url == "http://[::1]/x"


def test_unresolvable_names_are_accepted_at_registration_only() -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise outbound.UnresolvableDestination("no")

    outbound.check_registration("https://not-yet.example.org/", (), nowhere)
    with pytest.raises(outbound.UnresolvableDestination):
        outbound.check_destination("https://not-yet.example.org/", (), nowhere)


def _client(
    engine: Engine, configuration: Configuration, tmp_path: Path, **settings: Any
) -> tuple[Any, dict[str, str]]:
    from fastapi.testclient import TestClient

    app = create_app(
        settings=Settings(
            _env_file=None,
            data_dir=tmp_path,
            scheduler_enabled=False,
            bootstrap_admin_key=None,
            **settings,
        ),
        engine=engine,
        configuration=configuration,
    )
    with session_scope(sessionmaker(bind=engine)) as session:
        _, raw = create_key(session, name="admin", role=Role.ADMIN)
    return TestClient(app), {"X-API-Key": raw}


def test_registration_refuses_internal_webhooks_unless_allowed(
    engine: Engine, configuration: Configuration, tmp_path: Path
) -> None:
    client, admin = _client(engine, configuration, tmp_path)
    for url in REFUSED_URLS:
        response = client.post(
            "/focal-points", headers=admin, json={"name": "Desk", "webhook_url": url}
        )
        assert response.status_code == 422, url
        assert "resolves to a" in response.json()["detail"]
    created = client.post("/focal-points", headers=admin, json={"name": "Desk"}).json()
    patched = client.patch(
        f"/focal-points/{created['id']}", headers=admin, json={"webhook_url": REFUSED_URLS[0]}
    )
    assert patched.status_code == 422

    allowed, admin2 = _client(engine, configuration, tmp_path, webhook_allow_hosts="127.0.0.1")
    ok = allowed.post(
        "/focal-points", headers=admin2, json={"name": "Lab", "webhook_url": REFUSED_URLS[0]}
    )
    assert ok.status_code == 201, ok.text


def test_comma_separated_addresses_are_refused(
    engine: Engine, configuration: Configuration, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match="not one valid e-mail address"):
        check_email("root,ops2@example.org")
    client, admin = _client(engine, configuration, tmp_path)
    response = client.post(
        "/focal-points", headers=admin, json={"name": "Ops", "email": "root,ops2@example.org"}
    )
    assert response.status_code == 422


def _message(session: Session, focal_point: FocalPoint, channel: Channel, payload: Any) -> int:
    message = OutboxMessage(
        dedup_key=f"test:{channel.value}:{focal_point.id}",
        purpose="notice",
        focal_point_id=focal_point.id,
        channel=channel,
        target=focal_point.webhook_url if channel is Channel.WEBHOOK else focal_point.email,
        payload=payload,
    )
    session.add(message)
    session.commit()
    return message.id


def _worker(factory: sessionmaker[Session], **kwargs: Any) -> DeliveryWorker:
    return DeliveryWorker(
        factory,
        POLICY,
        SmtpSettings(host="127.0.0.1", port=9, sender="ew@example.org", timeout_seconds=2),
        base_url="https://earlywarn.example.org",
        **kwargs,
    )


@pytest.fixture
def noisy_receiver() -> Iterator[Callable[[], int]]:
    """A receiver that answers 500 with a long, multi-line body, and counts the requests."""
    hits: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            hits.append(1)
            body = ("internal: db=10.0.0.7\r\npassword=hunter2\n" * 100).encode()
            self.send_response(500)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.hits = hits  # type: ignore[attr-defined]
    yield lambda: server.server_address[1]  # type: ignore[return-value]
    server.shutdown()
    server.server_close()
    assert hits is not None


def test_send_time_refuses_an_internal_destination_without_contacting_it(
    session: Session,
    session_factory: sessionmaker[Session],
    noisy_receiver: Callable[[], int],
) -> None:
    # Stored before the registration check existed (or by hand): the worker checks again.
    url = f"http://127.0.0.1:{noisy_receiver()}/hook"
    desk = FocalPoint(name="Desk", webhook_url=url, active=True)
    session.add(desk)
    session.commit()
    message_id = _message(session, desk, Channel.WEBHOOK, {"notice": {}})
    _worker(session_factory).deliver_due()
    with session_factory() as check:
        message = check.get_one(OutboxMessage, message_id)
        assert message.status is OutboxStatus.FAILED
        assert message.last_error is not None
        assert message.last_error.startswith("destination refused: webhook host '127.0.0.1'")


def test_only_a_short_one_line_excerpt_of_a_reply_is_kept(
    session: Session,
    session_factory: sessionmaker[Session],
    noisy_receiver: Callable[[], int],
) -> None:
    url = f"http://127.0.0.1:{noisy_receiver()}/hook"
    desk = FocalPoint(name="Desk", webhook_url=url, active=True)
    session.add(desk)
    session.commit()
    message_id = _message(session, desk, Channel.WEBHOOK, {"notice": {}})
    _worker(session_factory, allow_hosts=["127.0.0.1"]).deliver_due()
    with session_factory() as check:
        message = check.get_one(OutboxMessage, message_id)
        assert message.last_error is not None
        assert message.last_error.startswith("HTTP 500: internal: db=10.0.0.7 password=hunter2")
        assert "\n" not in message.last_error
        assert "\r" not in message.last_error
        assert len(message.last_error) <= len("HTTP 500: ") + outbound.REPLY_EXCERPT_CHARS + 3
        attempt = check.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.outbox_message_id == message_id)
        ).one()
        assert attempt.error == message.last_error


def test_a_name_with_a_line_break_cannot_add_headers() -> None:
    payload = {
        "notice": {
            "subject": "webhook of focal point Desk\r\nBcc: spy@example.org disabled",
            "text": "t",
            "details": {},
        }
    }
    message = build_email(
        payload, sender="ew@example.org", recipient="ops@example.org", base_url="https://x"
    )
    assert message["Subject"] == (
        "[earlywarn] webhook of focal point Desk Bcc: spy@example.org disabled"
    )
    assert message["Bcc"] is None


def test_a_message_that_cannot_be_built_fails_alone_and_is_not_held_against_the_address(
    session: Session, session_factory: sessionmaker[Session]
) -> None:
    ops = FocalPoint(name="Ops", email="ops@example.org", active=True, is_administrator=True)
    session.add(ops)
    session.commit()
    message_id = _message(session, ops, Channel.EMAIL, {"unexpected": "shape"})
    _worker(session_factory).deliver_due()
    with session_factory() as check:
        message = check.get_one(OutboxMessage, message_id)
        assert message.status is OutboxStatus.FAILED
        assert message.attempts == 1  # permanent: not retried
        assert message.last_error == "message could not be built: KeyError"
        point = check.get_one(FocalPoint, ops.id)
        assert point.email_consecutive_failures == 0
        assert point.email_disabled_at is None
