"""An acknowledgement reaches the escalation tiers already paged, not only the subscribers,
exactly once per recipient; tiers not reached yet are not told. Delivered to a real SMTP
server and a real HTTP receiver on loopback. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting import lifecycle
from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEventKind
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, DeliveryConfig, EscalationConfig
from earlywarn.notify.alert_events import AlertNotifier
from earlywarn.notify.channels import SmtpSettings
from earlywarn.notify.delivery import DeliveryWorker
from earlywarn.notify.escalation import escalate_due
from earlywarn.notify.models import OutboxMessage, OutboxStatus, Subscription
from earlywarn.types import RiskLevel

POLICY = DeliveryConfig(
    max_attempts=3,
    backoff_initial_seconds=0.01,
    backoff_max_seconds=0.02,
    request_timeout_seconds=3,
    disable_endpoint_after_failures=3,
    lease_seconds=1,
    batch_size=20,
    poll_interval_seconds=0.05,
)


def _config(base: Configuration) -> Configuration:
    rule = TypeAdapter(AlertRule).validate_python(
        {
            "id": "elevated",
            "kind": "level_at_least",
            "enter_level": "warning",
            "exit_level": "concern",
        }
    )
    escalation = EscalationConfig.model_validate(
        {
            "tiers": [
                {"name": "regional", "after_minutes": 60},
                {"name": "headquarters", "after_minutes": 180},
            ],
            "reminder_interval_minutes": 120,
            "max_reminders": 1,
        }
    )
    return dataclasses.replace(
        base,
        alerting=base.alerting.model_copy(update={"rules": [rule], "escalation": escalation}),
    )


def test_acknowledgement_reaches_the_paged_tiers_once_each(
    session: Session,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    make_receiver: Callable[..., Any],
    smtp_server: Any,
) -> None:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    regional_hook = make_receiver()
    hq_hook = make_receiver()

    def fp(name: str, **extra: Any) -> FocalPoint:
        point = FocalPoint(name=name, email=f"{name.lower()}@example.org", active=True, **extra)
        session.add(point)
        session.flush()
        return point

    desk = fp("Desk")
    regional = fp(
        "Regional", escalation_tier="regional", region="Africa", webhook_url=regional_hook.url
    )
    hq = fp("HQ", escalation_tier="headquarters", webhook_url=hq_hook.url)
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3="SDN", min_level=RiskLevel.LOW, channel="email"
        )
    )
    session.flush()
    config = _config(configuration)
    notifier = AlertNotifier(config.alerting.escalation)
    evaluation = evaluate_alerts(
        session,
        config,
        RunRef(None, date(2026, 11, 2)),
        [CountryInput(iso3="SDN", level=RiskLevel.WARNING, composite=0.6)],
    )
    notifier.hand_over(session, evaluation.updates)
    session.flush()
    (alert,) = session.scalars(select(Alert)).all()
    # Nobody acted for an hour: the regional tier is paged; headquarters is not reached yet.
    (paged,) = escalate_due(session, alert.opened_at + timedelta(minutes=61))
    assert paged.kind is AlertEventKind.TIER_ESCALATED
    notifier.hand_over(
        session,
        [lifecycle.acknowledge(session, alert.id, actor="key:7:desk", note="desk convened")],
    )
    acknowledged = alert.id
    session.commit()

    with session_factory() as check:
        rows = check.scalars(
            select(OutboxMessage).where(
                OutboxMessage.alert_id == acknowledged,
                OutboxMessage.payload["type"].as_string() == "alert.acknowledged",
            )
        ).all()
        told = Counter((m.focal_point_id, m.channel.value, m.purpose) for m in rows)
    assert told == Counter(
        {
            (desk.id, "email", "alert"): 1,  # the subscriber, on its subscription's channel
            (regional.id, "email", "acknowledgement"): 1,  # the paged tier, as it was paged
            (regional.id, "webhook", "acknowledgement"): 1,
        }
    ), "headquarters was never paged, and nobody hears it twice"

    worker = DeliveryWorker(
        session_factory,
        POLICY,
        SmtpSettings(host=smtp_server.host, port=smtp_server.port, sender="ew@example.org"),
        base_url="https://earlywarn.example.org",
        allow_hosts=["127.0.0.1"],  # the test receivers listen on loopback
    )
    deadline = time.monotonic() + 20
    while True:
        worker.deliver_due()
        with session_factory() as check:
            pending = check.scalars(
                select(OutboxMessage).where(OutboxMessage.status != OutboxStatus.SENT)
            ).all()
        if not pending:
            break
        assert time.monotonic() < deadline, f"undelivered: {[m.id for m in pending]}"
        time.sleep(0.02)
    worker.close()

    acks = [
        m for m in smtp_server.inbox.messages if m["Subject"].startswith("[earlywarn] ACKNOWLEDGED")
    ]
    assert sorted(m["To"] for m in acks) == ["desk@example.org", "regional@example.org"]
    body = acks[0].get_body(preferencelist=("plain",)).get_content()
    assert "Acknowledged by key:7:desk: desk convened" in body
    hook_acks = [p for p in regional_hook.application.values() if p["type"] == "alert.acknowledged"]
    assert len(hook_acks) == 1
    assert hook_acks[0]["purpose"] == "acknowledgement"
    assert hook_acks[0]["event"]["note"] == "desk convened"
    assert [p["type"] for p in hq_hook.application.values()] == []
    assert "hq@example.org" not in [m["To"] for m in smtp_server.inbox.messages]
    with session_factory() as check:
        recipients = set(check.scalars(select(OutboxMessage.focal_point_id)))
    assert hq.id not in recipients
