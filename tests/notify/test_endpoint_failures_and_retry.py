"""E-mail endpoints disabled after consecutive failures, and failed deliveries re-queued by an
administrator, against real servers on loopback: an aiosmtpd server that refuses (5xx, then
4xx) and recovers, and an HTTP receiver that keeps failing. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import StarletteDeprecationWarning

from earlywarn.alerting.models import AlertEvent, AlertEventKind
from earlywarn.app.factory import create_app
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import create_key
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import DeliveryConfig
from earlywarn.notify import outbox, service
from earlywarn.notify.channels import SmtpSettings
from earlywarn.notify.delivery import DeliveryWorker
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
    Subscription,
)
from earlywarn.notify.schemas import FocalPointCreate
from earlywarn.settings import Settings
from earlywarn.types import RiskLevel, Role

from .conftest import free_port

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

POLICY = DeliveryConfig(
    max_attempts=3,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.02,
    request_timeout_seconds=3,
    disable_endpoint_after_failures=3,
    lease_seconds=1,
    batch_size=1,  # one message per pass: the order of failures is the test's
    poll_interval_seconds=0.05,
)


class _Refusing:
    """An SMTP handler that answers DATA with ``refuse`` (e.g. "554 ...") while it is set."""

    def __init__(self) -> None:
        self.refuse: list[str] = []
        self.always_refuse: str | None = None
        self.accepted: list[EmailMessage] = []
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        answer = self.always_refuse or (self.refuse.pop(0) if self.refuse else None)
        if answer is not None:
            self.refused += 1
            return answer
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.accepted.append(message)
        return "250 OK"


@dataclass
class _Smtp:
    port: int
    handler: _Refusing


@pytest.fixture
def smtp() -> Iterator[_Smtp]:
    handler = _Refusing()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield _Smtp(port, handler)
    controller.stop()


@pytest.fixture
def client(engine: Engine, configuration: Configuration, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, data_dir=tmp_path, scheduler_enabled=False)
    app = create_app(settings=settings, engine=engine, configuration=configuration)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin_key(session: Session) -> dict[str, str]:
    _, raw = create_key(session, name="ops", role=Role.ADMIN)
    session.commit()
    return {"X-API-Key": raw}


def _worker(factory: sessionmaker[Session], smtp_port: int) -> DeliveryWorker:
    return DeliveryWorker(
        factory,
        POLICY,
        SmtpSettings(
            host="127.0.0.1", port=smtp_port, sender="earlywarn@example.org", timeout_seconds=3
        ),
        base_url="https://earlywarn.example.org",
        allow_hosts=["127.0.0.1"],  # the test receivers listen on loopback
    )


def _until(worker: DeliveryWorker, done: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "delivery did not finish in time"
        worker.deliver_due()
        time.sleep(0.02)


def _statuses(factory: sessionmaker[Session], ids: list[int]) -> list[OutboxStatus]:
    with factory() as session:
        return [session.get_one(OutboxMessage, i).status for i in ids]


def _outcomes(factory: sessionmaker[Session], message_id: int) -> list[str]:
    with factory() as session:
        return list(
            session.scalars(
                select(DeliveryAttempt.outcome)
                .where(DeliveryAttempt.outbox_message_id == message_id)
                .order_by(DeliveryAttempt.id)
            )
        )


def _desk_with_alerts(
    session: Session, make_alert: Any, add_event: Any, channel: Channel, **targets: Any
) -> tuple[FocalPoint, list[OutboxMessage]]:
    """A focal point subscribed to everything on ``channel``, and four messages owed to it:
    three alerts opened and one escalated."""
    desk = service.create_focal_point(session, FocalPointCreate(name="Sudan desk", **targets))
    session.add(Subscription(focal_point_id=desk.id, min_level=RiskLevel.CONCERN, channel=channel))
    session.flush()
    messages: list[OutboxMessage] = []
    first = None
    for iso3 in ("SDN", "TCD", "MMR"):
        alert, opened = make_alert(iso3, RiskLevel.WARNING)
        first = first or alert
        messages += outbox.enqueue_alert_event(session, alert, opened)
    assert first is not None
    escalated = add_event(first, AlertEventKind.ESCALATED, RiskLevel.EMERGENCY)
    messages += outbox.enqueue_alert_event(session, first, escalated)
    session.commit()
    assert len(messages) == 4
    return desk, messages


def test_smtp_refusals_disable_the_address_tell_admins_and_recover(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    add_event: Any,
    make_receiver: Callable[..., Any],
    smtp: _Smtp,
    client: TestClient,
    admin_key: dict[str, str],
) -> None:
    ops_hook = make_receiver()
    service.create_focal_point(
        session,
        FocalPointCreate(name="Ops", webhook_url=ops_hook.url, is_administrator=True),
    )
    desk, messages = _desk_with_alerts(
        session, make_alert, add_event, Channel.EMAIL, email="desk@example.org"
    )
    ids = [m.id for m in messages]
    smtp.handler.always_refuse = "554 5.7.1 Message rejected"
    worker = _worker(session_factory, smtp.port)

    def disabled() -> bool:
        with session_factory() as s:
            return s.get_one(FocalPoint, desk.id).email_disabled_at is not None

    _until(worker, disabled)
    # A 5xx is permanent: three messages failed after one attempt each, the fourth is held.
    assert _statuses(session_factory, ids) == [OutboxStatus.FAILED] * 3 + [OutboxStatus.PENDING]
    assert smtp.handler.refused == 3
    with session_factory() as s:
        point = s.get_one(FocalPoint, desk.id)
        assert point.email_consecutive_failures == 3
        assert point.email_disabled_reason is not None
        assert "SMTP 554" in point.email_disabled_reason
    # Administrators are told, here on their webhook.
    _until(worker, lambda: len(ops_hook.application) == 1)
    (notice,) = ops_hook.application.values()
    assert notice["type"] == "notice"
    assert "e-mail address of focal point Sudan desk disabled" in notice["notice"]["subject"]
    assert notice["notice"]["details"]["channel"] == "email"
    assert notice["notice"]["details"]["target"] == "desk@example.org"
    # The held message is not even tried while the address is disabled.
    time.sleep(0.05)
    assert worker.deliver_due().claimed == 0
    assert smtp.handler.refused == 3

    # The server recovers; an administrator re-enables the address through the API.
    smtp.handler.always_refuse = None
    enabled = client.post(f"/focal-points/{desk.id}/email/enable", headers=admin_key)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["email_disabled_at"] is None
    assert enabled.json()["email_consecutive_failures"] == 0
    _until(worker, lambda: _statuses(session_factory, ids)[3] is OutboxStatus.SENT)

    # ... and re-queues the three that failed while it was refusing.
    requeued = client.post(
        "/outbox/retry",
        json={"focal_point_id": desk.id, "reason": "mail server fixed"},
        headers=admin_key,
    )
    assert requeued.status_code == 200, requeued.text
    assert sorted(m["id"] for m in requeued.json()) == ids[:3]
    _until(worker, lambda: set(_statuses(session_factory, ids)) == {OutboxStatus.SENT})
    worker.close()
    assert len(smtp.handler.accepted) == 4
    assert _outcomes(session_factory, ids[0]) == ["permanent", "requeued", "delivered"]


def test_transient_smtp_failures_count_and_a_success_resets_the_count(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    add_event: Any,
    smtp: _Smtp,
) -> None:
    desk, messages = _desk_with_alerts(
        session, make_alert, add_event, Channel.EMAIL, email="desk@example.org"
    )
    smtp.handler.refuse = ["451 4.3.0 Try again later"] * 2
    worker = _worker(session_factory, smtp.port)

    def failures() -> int:
        with session_factory() as s:
            return s.get_one(FocalPoint, desk.id).email_consecutive_failures

    _until(worker, lambda: failures() == 2)
    ids = [m.id for m in messages]
    _until(worker, lambda: set(_statuses(session_factory, ids)) == {OutboxStatus.SENT})
    worker.close()
    outcomes = [o for i in ids for o in _outcomes(session_factory, i)]
    assert sorted(outcomes) == ["delivered"] * 4 + ["retry"] * 2, "a 4xx is retried"
    with session_factory() as s:
        point = s.get_one(FocalPoint, desk.id)
        assert point.email_disabled_at is None, "two failures are below the limit of three"
        assert point.email_consecutive_failures == 0, "a delivery resets the count"


def test_exhausted_webhook_deliveries_are_requeued_with_the_same_webhook_id(
    session: Session,
    session_factory: sessionmaker[Session],
    make_alert: Any,
    add_event: Any,
    receiver: Any,
    client: TestClient,
    admin_key: dict[str, str],
) -> None:
    """A flaky (not down) endpoint: one message runs out of attempts, and an administrator
    re-queues it; the receiver gets the same webhook-id, the trail shows who and why."""
    desk = service.create_focal_point(
        session, FocalPointCreate(name="Sudan desk", webhook_url=receiver.url)
    )
    session.add(Subscription(focal_point_id=desk.id, min_level=RiskLevel.LOW, channel="webhook"))
    session.flush()
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    (message,) = outbox.enqueue_alert_event(session, alert, opened)
    other_alert, other_opened = make_alert("TCD", RiskLevel.WARNING)
    (other,) = outbox.enqueue_alert_event(session, other_alert, other_opened)
    session.commit()
    # Flaky, not down: the other message gets through between the first's failures, so the
    # endpoint stays enabled (consecutive failures 1, 0, 1, 2) while the first one runs out
    # of its three attempts.
    receiver.script = [503, 200, 503, 503]
    worker = _worker(session_factory, 9)
    _until(worker, lambda: _statuses(session_factory, [message.id]) == [OutboxStatus.FAILED])
    assert _outcomes(session_factory, message.id) == ["retry", "retry", "exhausted"]
    assert _statuses(session_factory, [other.id]) == [OutboxStatus.SENT]
    with session_factory() as s:
        assert s.get_one(FocalPoint, desk.id).webhook_disabled_at is None

    # One more alert is owed before the re-queue, so it goes first and keeps the endpoint's
    # failure count low (0 after it, 1 after the re-queued message's next 503).
    third_alert, third_opened = make_alert("MMR", RiskLevel.WARNING)
    (third,) = outbox.enqueue_alert_event(session, third_alert, third_opened)
    session.commit()
    retried = client.post(f"/outbox/{message.id}/retry", json={"reason": "x"}, headers=admin_key)
    assert retried.status_code == 200, retried.text
    assert [(m["id"], m["status"]) for m in retried.json()] == [(message.id, "pending")]
    # Refusals: not failed (any more), unknown message, bulk without a filter.
    again = client.post(f"/outbox/{message.id}/retry", json={"reason": "x"}, headers=admin_key)
    assert again.status_code == 409
    assert "only failed messages are re-queued" in again.json()["detail"]
    assert (
        client.post("/outbox/99999/retry", json={"reason": "x"}, headers=admin_key).status_code
        == 404
    )
    no_filter = client.post("/outbox/retry", json={"reason": "x"}, headers=admin_key)
    assert no_filter.status_code == 422
    assert "alert_id" in no_filter.json()["detail"]

    # Still flaky: with a fresh budget a 503 is retried rather than exhausting the message.
    receiver.script = [200, 503]
    _until(worker, lambda: _statuses(session_factory, [message.id]) == [OutboxStatus.SENT])
    worker.close()
    assert _outcomes(session_factory, message.id) == [
        "retry",
        "retry",
        "exhausted",
        "requeued",
        "retry",
        "delivered",
    ]
    webhook_id = f"msg_earlywarn_{message.id}"
    ids_seen = [r.headers["webhook-id"] for r in receiver.requests]
    assert ids_seen.count(webhook_id) == 5, "three attempts, then two after the re-queue"
    assert sorted(receiver.application) == sorted(
        f"msg_earlywarn_{m.id}" for m in (message, other, third)
    )

    trail = [
        (e.kind, e.actor, e.note, e.details)
        for e in session_factory().scalars(
            select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id)
        )
    ]
    assert trail[-1][0] is AlertEventKind.DELIVERY_REQUEUED
    assert trail[-1][1].startswith("key:")
    assert trail[-1][1].endswith(":ops")
    assert trail[-1][2] == "x"
    assert trail[-1][3] == {"outbox_message_ids": [message.id]}
    deliveries = client.get(f"/alerts/{alert.id}/deliveries", headers=admin_key).json()
    (delivery,) = deliveries
    assert [a["outcome"] for a in delivery["attempts_log"]][3] == "requeued"
    assert delivery["attempts_log"][3]["error"].endswith(": x")

    # Bulk by alert: nothing failed any more, so nothing is re-queued.
    bulk = client.post(
        "/outbox/retry", json={"alert_id": alert.id, "reason": "sweep"}, headers=admin_key
    )
    assert bulk.status_code == 200
    assert bulk.json() == []
    with session_scope(session_factory) as s:
        assert s.get_one(OutboxMessage, message.id).status is OutboxStatus.SENT
