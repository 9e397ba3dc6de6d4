"""One message per recipient, country and run; a new subscription is sent the alerts already
open (once); the focal point that acknowledges is not told about it. Delivered to a real SMTP
server and a real HTTP receiver on loopback. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.alerting import lifecycle
from earlywarn.alerting.evaluation import evaluate_alerts
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.alerting.rules import CountryInput, RunRef
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.framework.config import Configuration
from earlywarn.framework.config_schemas import AlertRule, DeliveryConfig
from earlywarn.notify import grouped, outbox, repository
from earlywarn.notify.alert_events import AlertNotifier
from earlywarn.notify.channels import SmtpSettings
from earlywarn.notify.delivery import DeliveryWorker
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
_RULE = TypeAdapter(AlertRule)
RULES = [
    {"id": "elevated", "kind": "level_at_least", "enter_level": "warning", "exit_level": "concern"},
    {"id": "attack", "kind": "risk_factor", "factor": 11, "enter": 0.7, "exit": 0.55,
     "level": "emergency"},
]  # fmt: skip


def _config(base: Configuration) -> Configuration:
    rules: list[Any] = [_RULE.validate_python(r) for r in RULES]
    return dataclasses.replace(base, alerting=base.alerting.model_copy(update={"rules": rules}))


def _sudan(level: RiskLevel = RiskLevel.EMERGENCY) -> CountryInput:
    return CountryInput(
        iso3="SDN", level=level, composite=0.8, factor_scores={11: 0.9, 1: 0.8, 6: 0.7}
    )


def _run(session: Session, config: Configuration, notifier: AlertNotifier, day: int) -> int:
    evaluation = evaluate_alerts(session, config, RunRef(None, date(2026, 11, day)), [_sudan()])
    return notifier.hand_over(session, evaluation.updates)


def _deliver(factory: sessionmaker[Session], smtp_server: Any) -> None:
    worker = DeliveryWorker(
        factory,
        POLICY,
        SmtpSettings(host=smtp_server.host, port=smtp_server.port, sender="ew@example.org"),
        base_url="https://earlywarn.example.org",
        allow_hosts=["127.0.0.1"],  # the test receivers listen on loopback
    )
    stats = worker.drain()
    worker.close()
    assert stats.failed == 0


def _point(session: Session, name: str, **extra: Any) -> FocalPoint:
    point = FocalPoint(name=name, email=f"{name.lower()}@example.org", active=True, **extra)
    session.add(point)
    session.flush()
    return point


def test_two_rules_firing_for_a_country_reach_a_recipient_as_one_message_per_run(
    session: Session,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    make_receiver: Callable[..., Any],
    smtp_server: Any,
) -> None:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    hook = make_receiver()
    desk = _point(session, "Desk", webhook_url=hook.url)
    for channel in ("email", "webhook"):
        session.add(
            Subscription(
                focal_point_id=desk.id, country_iso3="SDN", min_level=RiskLevel.LOW,
                channel=channel,
            )
        )  # fmt: skip
    session.flush()
    config = _config(configuration)
    notifier = AlertNotifier(config.alerting.escalation, config.action_map.priority.max_actions)

    first = evaluate_alerts(session, config, RunRef(None, date(2026, 11, 2)), [_sudan()])
    assert notifier.hand_over(session, first.updates) == 2  # one e-mail and one webhook
    alerts = session.scalars(select(Alert).order_by(Alert.id)).all()
    assert {a.rule_id for a in alerts} == {"elevated", "attack"}
    assert len({a.dedup_key for a in alerts}) == 2, "the alerts stay separate"
    for alert in alerts:
        assert repository.focal_points_told_about_alert(session, alert.id) == {desk.id}
        assert len(repository.list_outbox(session, alert_id=alert.id)) == 2
    session.commit()
    _deliver(session_factory, smtp_server)

    mails = [m for m in smtp_server.inbox.messages if m["To"] == "desk@example.org"]
    assert len(mails) == 1, "one e-mail per run"
    assert mails[0]["Subject"].startswith("[earlywarn] Sudan: 2 alerts")
    text = mails[0].get_body(preferencelist=("plain",)).get_content()
    assert text.index("Do first") < text.index("The alerts:")
    for alert in alerts:
        assert f"https://earlywarn.example.org/alerts/{alert.id}" in text
        assert f"{alert.rule_id}: opened" in text
    assert "Evidence: composite 0.80" in text
    (payload,) = hook.application.values()
    assert {a["rule_id"] for a in payload["alerts"]} == {"attack", "elevated"}
    assert payload["alert"]["id"] == payload["alerts"][0]["id"]  # the lead, most severe first
    combined = payload["priority_actions"]
    assert 0 < len(combined) <= config.action_map.priority.max_actions
    codes = [item["code"] for item in combined]
    assert len(codes) == len(set(codes)), "each catalogue row once across the rules"
    assert [item["rank"] for item in combined] == list(range(1, len(combined) + 1))
    shared = {i["code"] for i in alerts[0].priority_actions or []} & {
        i["code"] for i in alerts[1].priority_actions or []
    }
    assert shared, "the two rules rank some of the same rows"
    assert any(len(item["rules"]) == 2 for item in combined)

    # Queuing the same run's events again adds nothing: nobody hears it twice.
    pairs = [(u.alert, u.event) for u in first.updates]
    assert grouped.enqueue_risk_events(session, pairs) == []
    # The next run changes nothing: no message.
    with session_factory() as second:
        assert _run(second, config, notifier, 9) == 0
        second.commit()


def test_a_new_subscription_is_sent_the_open_alerts_once_marked_already_open(
    session: Session,
    session_factory: sessionmaker[Session],
    configuration: Configuration,
    smtp_server: Any,
) -> None:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    session.add(Country(iso3="TCD", name="Chad", region="Africa"))
    session.flush()
    config = _config(configuration)
    notifier = AlertNotifier(config.alerting.escalation)
    assert _run(session, config, notifier, 2) == 0  # nobody subscribed yet
    late = _point(session, "Late")
    by_country = Subscription(
        focal_point_id=late.id, country_iso3="SDN", min_level=RiskLevel.WARNING, channel="email"
    )
    session.add(by_country)
    session.flush()

    (message,) = grouped.offer_open_alerts(session, by_country)
    assert message.purpose == "already_open"
    assert {a["rule_id"] for a in message.payload["alerts"]} == {"elevated", "attack"}
    assert all(a["already_open"] for a in message.payload["alerts"])
    # A second subscription on the same channel matching the same alerts: nothing twice.
    by_region = Subscription(
        focal_point_id=late.id, region="Africa", min_level=RiskLevel.LOW, channel="email"
    )
    session.add(by_region)
    session.flush()
    assert grouped.offer_open_alerts(session, by_region) == []
    # A subscription for another country is offered nothing.
    other = _point(session, "Other")
    too_high = Subscription(
        focal_point_id=other.id, country_iso3="TCD", min_level=RiskLevel.LOW, channel="email"
    )
    session.add(too_high)
    session.flush()
    assert grouped.offer_open_alerts(session, too_high) == []
    session.commit()
    _deliver(session_factory, smtp_server)

    (mail,) = [m for m in smtp_server.inbox.messages if m["To"] == "late@example.org"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.count("already open") >= 2
    assert "attack already open (emergency)" in text


def test_the_acknowledging_focal_point_is_not_told_about_its_own_acknowledgement(
    session: Session, configuration: Configuration
) -> None:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    desk, colleague = _point(session, "Desk"), _point(session, "Colleague")
    for point in (desk, colleague):
        session.add(
            Subscription(
                focal_point_id=point.id, country_iso3="SDN", min_level=RiskLevel.LOW,
                channel="email",
            )
        )  # fmt: skip
    session.flush()
    config = _config(configuration)
    notifier = AlertNotifier(config.alerting.escalation)
    _run(session, config, notifier, 2)
    alert = session.scalars(select(Alert).where(Alert.rule_id == "attack")).one()

    update = lifecycle.acknowledge(
        session,
        alert.id,
        actor="key:3:desk",
        note="convened",
        administrator=False,
        focal_point_id=desk.id,
        access=notifier,
    )
    notifier.hand_over(session, [update])
    session.flush()
    told = session.scalars(
        select(OutboxMessage.focal_point_id).where(OutboxMessage.alert_event_id == update.event.id)
    ).all()
    assert told == [colleague.id], "the colleague hears it; the desk that acted does not"
    assert all(m.status is OutboxStatus.PENDING for m in session.scalars(select(OutboxMessage)))


def test_re_queueing_a_grouped_message_is_audited_on_every_alert_it_carries(
    session: Session, configuration: Configuration
) -> None:
    session.add(Country(iso3="SDN", name="Sudan", region="Africa"))
    desk = _point(session, "Desk")
    session.add(
        Subscription(
            focal_point_id=desk.id, country_iso3="SDN", min_level=RiskLevel.LOW, channel="email"
        )
    )
    session.flush()
    config = _config(configuration)
    _run(session, config, AlertNotifier(config.alerting.escalation), 2)
    (message,) = session.scalars(select(OutboxMessage)).all()
    message.status = OutboxStatus.FAILED
    session.flush()

    outbox.requeue_message(session, message.id, actor="key:1:admin", reason="SMTP fixed")

    audited = session.scalars(
        select(AlertEvent.alert_id).where(AlertEvent.kind == AlertEventKind.DELIVERY_REQUEUED)
    ).all()
    assert sorted(audited) == sorted(session.scalars(select(Alert.id)).all())
    assert len(audited) == 2
