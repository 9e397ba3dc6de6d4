"""The outbox: one row per notification owed, written in the transaction of the change that
caused it, so a notification exists exactly when the change does. Delivery workers
(``notify.delivery``) read pending rows; the row is the contract.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth.models import FocalPoint
from earlywarn.db import utc_now
from earlywarn.notify import grouped, repository
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
    Purpose,
)
from earlywarn.notify.payload import (
    build_payload,
    outbox_dedup_key,
    targets,
)
from earlywarn.notify.schemas import DeliveryAttemptRead, DeliveryRead, OutboxMessageRead
from earlywarn.notify.service import Conflict, InvalidRequest, NotFound, get_focal_point, target_for

logger = logging.getLogger(__name__)


def enqueue_alert_event(session: Session, alert: Alert, event: AlertEvent) -> list[OutboxMessage]:
    """``enqueue_alert_events`` for one event."""
    return enqueue_alert_events(session, [(alert, event)])


def enqueue_alert_events(
    session: Session,
    pairs: Sequence[tuple[Alert, AlertEvent]],
    *,
    max_priority_actions: int = grouped.DEFAULT_MAX_PRIORITY_ACTIONS,
) -> list[OutboxMessage]:
    """Write the pending outbox messages the events owe.

    Risk alerts go to the subscriptions they match (``subscription_matches`` against
    ``notification_level(...)``), one message per recipient, channel and country however
    many of the events and subscriptions match (``notify.grouped``); the focal point whose
    own acknowledgement an event records is not told about it. Operational alerts go to
    administrators on every channel they have, one message per event. Messages are keyed
    ``alert-event:{lead event}:fp:{focal point}:{channel}``; an event already sent to a
    recipient on a channel is not sent again, so calling this again adds nothing. Returns the
    new messages only. Flushes, never commits. Two transactions enqueuing the same event at
    once cannot both succeed: the unique ``dedup_key`` makes the later flush raise
    ``IntegrityError``, and its owner rolls back.
    """
    if any(a.id is None or e.id is None or e.at is None or a.opened_at is None for a, e in pairs):
        # Ids and default timestamps exist only once the rows are flushed; the payload needs them.
        session.flush()
    risk: list[tuple[Alert, AlertEvent]] = []
    messages: list[OutboxMessage] = []
    for alert, event in pairs:
        if event.alert_id != alert.id:
            raise ValueError(
                f"alert event {event.id} belongs to alert {event.alert_id}, not {alert.id}"
            )
        if alert.operational:
            admins = [fp.id for fp in repository.administrators(session)]
            messages += enqueue_to_focal_points(session, alert, event, admins, Purpose.OPERATIONAL)
        else:
            risk.append((alert, event))
    return messages + grouped.enqueue_risk_events(
        session, risk, max_priority_actions=max_priority_actions
    )


def enqueue_to_focal_points(
    session: Session,
    alert: Alert,
    event: AlertEvent,
    focal_point_ids: Iterable[int],
    purpose: Purpose,
) -> list[OutboxMessage]:
    """Messages for named focal points (escalation tiers, reminders, administrators) on every
    channel each of them has."""
    recipients: list[tuple[FocalPoint, Channel, int | None]] = []
    for focal_point in repository.focal_points_by_id(session, focal_point_ids):
        if not focal_point.active:
            continue
        recipients += [(focal_point, channel, None) for channel, _ in targets(focal_point)]
    country = repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
    return _write(
        session, alert, event, recipients, purpose, country.name if country is not None else None
    )


def _write(
    session: Session,
    alert: Alert,
    event: AlertEvent,
    recipients: list[tuple[FocalPoint, Channel, int | None]],
    purpose: Purpose,
    country_name: str | None,
) -> list[OutboxMessage]:
    already_queued = repository.outbox_dedup_keys(session, event.id)
    messages: list[OutboxMessage] = []
    base: dict[str, Any] | None = None
    for focal_point, channel, subscription_id in recipients:
        key = outbox_dedup_key(event.id, focal_point.id, channel)
        if key in already_queued:
            continue
        target = target_for(focal_point, channel)
        if target is None:
            # The API refuses to create this state; a direct database edit could still do it.
            logger.warning(
                "focal point %s has no %s target; alert event %s not queued",
                focal_point.id,
                channel.value,
                event.id,
            )
            continue
        already_queued.add(key)
        if base is None:
            # One deep copy of the alert's evidence and actions per event, shared by every
            # recipient's payload (stored payloads are never modified).
            base = build_payload(alert, event, focal_point, country_name, purpose)
        messages.append(
            OutboxMessage(
                dedup_key=key,
                alert_id=alert.id,
                alert_event_id=event.id,
                subscription_id=subscription_id,
                focal_point_id=focal_point.id,
                channel=channel,
                target=target,
                purpose=purpose.value,
                payload=_for_recipient(base, focal_point),
                status=OutboxStatus.PENDING,
                attempts=0,
            )
        )
    if messages:
        repository.add_outbox_messages(session, messages)
    return messages


def _for_recipient(base: dict[str, Any], focal_point: FocalPoint) -> dict[str, Any]:
    return {**base, "focal_point": {"id": focal_point.id, "name": focal_point.name}}


def list_outbox(
    session: Session,
    *,
    status: OutboxStatus | None = None,
    alert_id: int | None = None,
    focal_point_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OutboxMessage]:
    return repository.list_outbox(
        session,
        status=status,
        alert_id=alert_id,
        focal_point_id=focal_point_id,
        limit=limit,
        offset=offset,
    )


REQUEUED = "requeued"  # the outcome of the attempt-log row that marks a re-queue


def requeue_message(
    session: Session, message_id: int, *, actor: str, reason: str
) -> list[OutboxMessage]:
    """Re-queue one failed delivery (``requeue``); refused unless it failed."""
    message = repository.get_outbox_message(session, message_id, for_update=True)
    if message is None:
        raise NotFound(f"outbox message {message_id} does not exist")
    if message.status is not OutboxStatus.FAILED:
        raise Conflict(
            f"outbox message {message_id} is {message.status.value}; only failed messages "
            "are re-queued"
        )
    return requeue(session, [message], actor=actor, reason=reason)


def requeue_failed(
    session: Session,
    *,
    alert_id: int | None,
    focal_point_id: int | None,
    actor: str,
    reason: str,
) -> list[OutboxMessage]:
    """Re-queue every failed delivery of an alert and/or a focal point."""
    if alert_id is None and focal_point_id is None:
        raise InvalidRequest("name an alert_id, a focal_point_id or both")
    if focal_point_id is not None:
        get_focal_point(session, focal_point_id)
    if alert_id is not None and repository.get_alert(session, alert_id) is None:
        raise NotFound(f"alert {alert_id} does not exist")
    failed = repository.failed_messages(session, alert_id=alert_id, focal_point_id=focal_point_id)
    return requeue(session, failed, actor=actor, reason=reason)


def requeue(
    session: Session, messages: list[OutboxMessage], *, actor: str, reason: str
) -> list[OutboxMessage]:
    """Make failed messages pending again, due now, with a fresh ``max_attempts`` budget.

    The row is the same, so its ``webhook-id`` is too and a receiver that did get an earlier
    attempt drops the copy. Each message's attempt log gets a ``requeued`` row naming the actor
    and reason, and each alert concerned a ``delivery_requeued`` event in its audit trail.
    Messages for a disabled endpoint stay held until it is re-enabled.
    """
    now = utc_now()
    carried = repository.carried_alerts(session, [m.id for m in messages])
    by_alert: dict[int, list[int]] = {}
    for message in messages:
        message.status = OutboxStatus.PENDING
        message.next_attempt_at = now
        message.lease_until = None
        session.add(
            DeliveryAttempt(
                outbox_message_id=message.id,
                # The number of the last real attempt: the worker counts its budget from here.
                attempt=message.attempts,
                started_at=now,
                duration_ms=0.0,
                outcome=REQUEUED,
                error=f"re-queued by {actor}: {reason}",
            )
        )
        # A grouped message re-queued concerns every alert it carries.
        for alert_id in [message.alert_id, *carried.get(message.id, [])]:
            if alert_id is not None:
                by_alert.setdefault(alert_id, []).append(message.id)
    for alert_id, ids in by_alert.items():
        session.add(
            AlertEvent(
                alert_id=alert_id,
                kind=AlertEventKind.DELIVERY_REQUEUED,
                at=now,
                actor=actor,
                note=reason,
                details={"outbox_message_ids": ids},
            )
        )
    session.flush()
    return messages


def deliveries_for_alert(session: Session, alert_id: int) -> list[DeliveryRead]:
    """Every outbox message of an alert with its attempts: who was told what, and when."""
    attempts = repository.attempts_for_alert(session, alert_id)
    return [
        DeliveryRead(
            **OutboxMessageRead.model_validate(message).model_dump(),
            webhook_id=message.webhook_id,
            attempts_log=[
                DeliveryAttemptRead.model_validate(a) for a in attempts.get(message.id, [])
            ],
        )
        for message in repository.list_outbox(session, alert_id=alert_id, limit=10_000)
    ]
