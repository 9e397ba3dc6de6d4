"""``enqueue_alert_event``: who is notified, exactly once, with a self-contained payload."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from earlywarn.alerting.models import AlertEvent, AlertEventKind
from earlywarn.notify import outbox
from earlywarn.notify.models import Channel, OutboxMessage, OutboxStatus, Subscription
from earlywarn.types import RiskLevel

AddEvent = Callable[..., AlertEvent]


def _subscription_ids(messages: list[OutboxMessage]) -> set[int]:
    return {m.subscription_id for m in messages}


def _outbox_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


def test_matches_country_all_countries_and_min_level(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    sudan_warning = subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    sudan_concern = subscribe("SDN", RiskLevel.CONCERN, Channel.WEBHOOK, name="Sudan hook")
    everywhere_warning = subscribe(None, RiskLevel.WARNING, name="Global desk")
    sudan_emergency = subscribe("SDN", RiskLevel.EMERGENCY, name="Sudan crisis cell")
    chad_low = subscribe("TCD", RiskLevel.LOW, name="Chad desk")
    alert, opened = make_alert("SDN", RiskLevel.WARNING)

    messages = outbox.enqueue_alert_event(session, alert, opened)

    assert _subscription_ids(messages) == {
        sudan_warning.id,
        sudan_concern.id,
        everywhere_warning.id,
    }
    assert sudan_emergency.id not in _subscription_ids(messages)
    assert chad_low.id not in _subscription_ids(messages)
    assert _outbox_count(session) == 3


def test_message_fields_and_channel_targets(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    by_email = subscribe("SDN", RiskLevel.CONCERN, Channel.EMAIL, name="Mail desk")
    by_webhook = subscribe("SDN", RiskLevel.CONCERN, Channel.WEBHOOK, name="Hook desk")
    alert, opened = make_alert("SDN", RiskLevel.WARNING)

    messages = {m.subscription_id: m for m in outbox.enqueue_alert_event(session, alert, opened)}

    mail = messages[by_email.id]
    assert mail.channel is Channel.EMAIL
    assert mail.target == "mail.desk@example.org"
    assert mail.dedup_key == f"alert-event:{opened.id}:fp:{by_email.focal_point_id}:email"
    assert (mail.alert_id, mail.alert_event_id) == (alert.id, opened.id)
    assert mail.focal_point_id == by_email.focal_point_id
    assert mail.status is OutboxStatus.PENDING
    assert mail.attempts == 0
    hook = messages[by_webhook.id]
    assert hook.channel is Channel.WEBHOOK
    assert hook.target == "https://hooks.example.org/earlywarn"


def test_inactive_focal_points_are_skipped(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    subscribe("SDN", RiskLevel.LOW, active=False, name="Former desk")
    active = subscribe("SDN", RiskLevel.LOW, name="Current desk")
    alert, opened = make_alert("SDN", RiskLevel.CONCERN)

    messages = outbox.enqueue_alert_event(session, alert, opened)

    assert _subscription_ids(messages) == {active.id}


def test_rerunning_for_the_same_event_adds_nothing(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    subscribe(None, RiskLevel.WARNING, name="Global desk")
    alert, opened = make_alert("SDN", RiskLevel.EMERGENCY)

    first = outbox.enqueue_alert_event(session, alert, opened)
    session.commit()
    second = outbox.enqueue_alert_event(session, alert, opened)

    assert len(first) == 2
    assert second == []
    assert _outbox_count(session) == 2


def test_a_subscription_added_later_gets_only_its_own_message(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    outbox.enqueue_alert_event(session, alert, opened)
    late = subscribe(None, RiskLevel.WARNING, name="Late desk")

    again = outbox.enqueue_alert_event(session, alert, opened)

    assert _subscription_ids(again) == {late.id}
    assert _outbox_count(session) == 2


def test_payload_is_self_contained(session: Session, make_alert: Any, subscribe: Any) -> None:
    subscription = subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    alert, opened = make_alert("SDN", RiskLevel.EMERGENCY)
    (message,) = outbox.enqueue_alert_event(session, alert, opened)
    session.commit()
    session.expire_all()

    stored = session.get(OutboxMessage, message.id)
    assert stored is not None
    assert stored.payload == {
        "version": 1,
        "type": "alert.opened",
        "purpose": "alert",
        "event": {
            "id": opened.id,
            "kind": "opened",
            "at": "2026-11-20T03:00:00+00:00",
            "actor": "system",
            "note": None,
            "from_level": None,
            "to_level": "emergency",
        },
        "alert": {
            "id": alert.id,
            "dedup_key": "level-rise:SDN",
            "rule_id": "level-rise",
            "rule_kind": "",
            "operational": False,
            "state": "firing",
            "level": "emergency",
            "country": {"iso3": "SDN", "name": "Sudan"},
            "summary": "Sudan rose to emergency",
            "opened_at": "2026-11-20T03:00:00+00:00",
            "evidence": {"composite": 0.7, "factors": [{"number": 1, "score": 0.8}]},
            "recommended_actions": {"headings": [{"code": "1.13", "title": "Combat hate speech"}]},
        },
        "focal_point": {"id": subscription.focal_point_id, "name": "Sudan desk"},
        "links": {
            "alert": f"/alerts/{alert.id}",
            "acknowledge": f"/alerts/{alert.id}/acknowledge",
        },
        # Every alert the message carries (one here), and the combined priority actions.
        "alerts": [
            {
                "id": alert.id,
                "dedup_key": "level-rise:SDN",
                "rule_id": "level-rise",
                "rule_kind": "",
                "state": "firing",
                "level": "emergency",
                "summary": "Sudan rose to emergency",
                "already_open": False,
                "event": {
                    "id": opened.id,
                    "kind": "opened",
                    "at": "2026-11-20T03:00:00+00:00",
                    "actor": "system",
                    "note": None,
                    "from_level": None,
                    "to_level": "emergency",
                },
                "evidence": {"composite": 0.7, "factors": [{"number": 1, "score": 0.8}]},
                "priority_actions": [],
                "links": {
                    "alert": f"/alerts/{alert.id}",
                    "acknowledge": f"/alerts/{alert.id}/acknowledge",
                },
            }
        ],
        "priority_actions": [],
    }


def test_escalation_reaches_subscribers_of_the_new_level(
    session: Session, make_alert: Any, subscribe: Any, add_event: AddEvent
) -> None:
    warning = subscribe("SDN", RiskLevel.WARNING, name="Sudan desk")
    emergency = subscribe("SDN", RiskLevel.EMERGENCY, name="Crisis cell")
    alert, opened = make_alert("SDN", RiskLevel.WARNING)
    assert _subscription_ids(outbox.enqueue_alert_event(session, alert, opened)) == {warning.id}

    escalated = add_event(alert, AlertEventKind.ESCALATED, RiskLevel.EMERGENCY)
    messages = outbox.enqueue_alert_event(session, alert, escalated)

    assert _subscription_ids(messages) == {warning.id, emergency.id}
    assert all(m.payload["event"]["kind"] == "escalated" for m in messages)
    assert all(m.payload["event"]["from_level"] == "warning" for m in messages)


def test_deescalation_reaches_those_told_about_the_higher_level(
    session: Session, make_alert: Any, subscribe: Any, add_event: AddEvent
) -> None:
    concern = subscribe("SDN", RiskLevel.CONCERN, name="Sudan desk")
    emergency = subscribe("SDN", RiskLevel.EMERGENCY, name="Crisis cell")
    alert, _ = make_alert("SDN", RiskLevel.EMERGENCY)

    down = add_event(alert, AlertEventKind.DEESCALATED, RiskLevel.CONCERN)
    messages = outbox.enqueue_alert_event(session, alert, down)

    assert _subscription_ids(messages) == {concern.id, emergency.id}


def test_resolution_reaches_everyone_who_matched_while_open(
    session: Session, make_alert: Any, subscribe: Any, add_event: AddEvent
) -> None:
    concern = subscribe("SDN", RiskLevel.CONCERN, name="Sudan desk")
    emergency = subscribe("SDN", RiskLevel.EMERGENCY, name="Crisis cell")
    never = subscribe("TCD", RiskLevel.LOW, name="Chad desk")
    alert, _ = make_alert("SDN", RiskLevel.WARNING)
    add_event(alert, AlertEventKind.ESCALATED, RiskLevel.EMERGENCY)
    add_event(alert, AlertEventKind.DEESCALATED, RiskLevel.CONCERN)

    resolved = add_event(alert, AlertEventKind.RESOLVED)
    messages = outbox.enqueue_alert_event(session, alert, resolved)

    # The alert is at 'concern' now but reached 'emergency', so the crisis cell hears it closed.
    assert _subscription_ids(messages) == {concern.id, emergency.id}
    assert never.id not in _subscription_ids(messages)
    assert all(m.payload["alert"]["state"] == "resolved" for m in messages)


def test_resolution_of_an_alert_that_stayed_low_skips_higher_thresholds(
    session: Session, make_alert: Any, subscribe: Any, add_event: AddEvent
) -> None:
    concern = subscribe("SDN", RiskLevel.CONCERN, name="Sudan desk")
    subscribe("SDN", RiskLevel.WARNING, name="Warning desk")
    alert, _ = make_alert("SDN", RiskLevel.CONCERN)

    resolved = add_event(alert, AlertEventKind.RESOLVED)
    messages = outbox.enqueue_alert_event(session, alert, resolved)

    assert _subscription_ids(messages) == {concern.id}


def test_unflushed_alert_and_event_are_flushed_first(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    subscription = subscribe("SDN", RiskLevel.LOW, name="Sudan desk")
    alert, _ = make_alert("SDN", RiskLevel.CONCERN)
    event = AlertEvent(alert_id=alert.id, kind=AlertEventKind.ACKNOWLEDGED, actor="key:1:x")
    session.add(event)  # no flush: no id and no timestamp yet

    (message,) = outbox.enqueue_alert_event(session, alert, event)

    assert event.id is not None
    assert message.dedup_key == f"alert-event:{event.id}:fp:{subscription.focal_point_id}:email"
    assert message.payload["event"]["at"] is not None


def test_an_event_of_another_alert_is_refused(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    subscribe(None, RiskLevel.LOW)
    sudan, _ = make_alert("SDN", RiskLevel.WARNING)
    _, chad_opened = make_alert("TCD", RiskLevel.WARNING)

    with pytest.raises(ValueError, match="belongs to alert"):
        outbox.enqueue_alert_event(session, sudan, chad_opened)
    assert _outbox_count(session) == 0


def test_list_outbox_filters_by_status_alert_and_focal_point(
    session: Session, make_alert: Any, subscribe: Any
) -> None:
    first: Subscription = subscribe(None, RiskLevel.LOW, name="Global desk")
    second: Subscription = subscribe("SDN", RiskLevel.LOW, name="Sudan desk")
    sudan, sudan_opened = make_alert("SDN", RiskLevel.WARNING)
    chad, chad_opened = make_alert("TCD", RiskLevel.WARNING)
    outbox.enqueue_alert_event(session, sudan, sudan_opened)
    (chad_message,) = outbox.enqueue_alert_event(session, chad, chad_opened)
    chad_message.status = OutboxStatus.SENT
    session.flush()

    assert len(outbox.list_outbox(session)) == 3
    assert {m.alert_id for m in outbox.list_outbox(session, alert_id=sudan.id)} == {sudan.id}
    assert [m.id for m in outbox.list_outbox(session, status=OutboxStatus.SENT)] == [
        chad_message.id
    ]
    by_second = outbox.list_outbox(session, focal_point_id=second.focal_point_id)
    assert [m.subscription_id for m in by_second] == [second.id]
    assert len(outbox.list_outbox(session, limit=2)) == 2
    assert len(outbox.list_outbox(session, limit=2, offset=2)) == 1
    assert first.id in {m.subscription_id for m in outbox.list_outbox(session)}
