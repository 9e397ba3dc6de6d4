"""The outbox: one row per notification owed, written in the transaction of the change that
caused it, so a notification exists exactly when the change does. Delivery workers
(``notify.delivery``) read pending rows; the row is the contract.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth.models import FocalPoint
from earlywarn.db import utc_now
from earlywarn.notify import repository
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxStatus,
    Purpose,
    Subscription,
)
from earlywarn.notify.schemas import DeliveryAttemptRead, DeliveryRead, OutboxMessageRead
from earlywarn.notify.service import Conflict, InvalidRequest, NotFound, get_focal_point, target_for
from earlywarn.types import RiskLevel

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1


def notification_level(
    alert: Alert, event: AlertEvent, levels_reached: list[RiskLevel]
) -> RiskLevel:
    """The alert level a subscription's ``min_level`` is compared with for ``event``.

    * ``resolved``: the highest level the alert ever reached (its current level and every level
      its events record), so everyone who was told the alert was open hears that it closed,
      even if it had been de-escalated below their threshold before resolving.
    * ``deescalated``: the level it came down from, for the same reason: whoever was told about
      the higher level hears that it fell.
    * everything else (``opened``, ``escalated``, ``acknowledged``): the alert's current level.
    """
    if event.kind is AlertEventKind.RESOLVED:
        return max([alert.level, *levels_reached], key=lambda level: level.rank)
    if event.kind is AlertEventKind.DEESCALATED and event.from_level is not None:
        return max(alert.level, event.from_level, key=lambda level: level.rank)
    return alert.level


def outbox_dedup_key(event_id: int, focal_point_id: int, channel: Channel) -> str:
    """One message per event, recipient and channel, however many subscriptions match."""
    return f"alert-event:{event_id}:fp:{focal_point_id}:{channel.value}"


def _iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _level_value(level: RiskLevel | None) -> str | None:
    return None if level is None else level.value


ROWS_PER_HEADING = 1


def compact_actions(actions: dict[str, Any]) -> dict[str, Any]:
    """The recommended actions for a message: every heading with why it was chosen, and its
    first ``ROWS_PER_HEADING`` action row(s) (``more_actions`` counts the rest, which the alert's
    link shows). The full list can reach 80 kB; a message goes to every recipient."""
    compact: dict[str, Any] = {}
    for key, headings in actions.items():
        if not isinstance(headings, list):
            compact[key] = copy.deepcopy(headings)
            continue
        items: list[Any] = []
        for heading in headings:
            rows = heading.get("actions") if isinstance(heading, dict) else None
            if isinstance(rows, list) and len(rows) > ROWS_PER_HEADING:
                heading = {
                    **heading,
                    "actions": rows[:ROWS_PER_HEADING],
                    "more_actions": len(rows) - ROWS_PER_HEADING,
                }
            items.append(copy.deepcopy(heading))
        compact[key] = items
    return compact


def build_payload(
    alert: Alert,
    event: AlertEvent,
    focal_point: FocalPoint,
    country_name: str | None,
    purpose: Purpose = Purpose.ALERT,
) -> dict[str, Any]:
    """The message body a receiver can act on without calling back (format version 1)."""
    return {
        "version": PAYLOAD_VERSION,
        "type": f"alert.{event.kind.value}",
        "purpose": purpose.value,
        "event": {
            "id": event.id,
            "kind": event.kind.value,
            "at": _iso_utc(event.at),
            "actor": event.actor,
            "note": event.note,
            "from_level": _level_value(event.from_level),
            "to_level": _level_value(event.to_level),
        },
        "alert": {
            "id": alert.id,
            "dedup_key": alert.dedup_key,
            "rule_id": alert.rule_id,
            "rule_kind": alert.rule_kind,
            "operational": alert.operational,
            "state": alert.state.value,
            "level": alert.level.value,
            "country": {"iso3": alert.country_iso3, "name": country_name},
            "summary": alert.summary,
            "opened_at": _iso_utc(alert.opened_at),
            # Copies: the payload is a snapshot and must not alias the alert's live JSON.
            "evidence": copy.deepcopy(alert.evidence),
            "recommended_actions": compact_actions(alert.actions),
        },
        "focal_point": {"id": focal_point.id, "name": focal_point.name},
        "links": {
            "alert": f"/alerts/{alert.id}",
            "acknowledge": f"/alerts/{alert.id}/acknowledge",
        },
    }


def targets(focal_point: FocalPoint) -> list[tuple[Channel, str]]:
    found: list[tuple[Channel, str]] = []
    if focal_point.email:
        found.append((Channel.EMAIL, focal_point.email))
    if focal_point.webhook_url:
        found.append((Channel.WEBHOOK, focal_point.webhook_url))
    return found


def subscription_matches(
    subscription: Subscription,
    *,
    country_iso3: str | None,
    region: str | None,
    level: RiskLevel,
    rule_kind: str,
) -> bool:
    """Every criterion the subscription sets must hold (AND); an unset one matches all."""
    if subscription.country_iso3 is not None and subscription.country_iso3 != country_iso3:
        return False
    if subscription.region is not None and subscription.region != region:
        return False
    if subscription.rule_kinds is not None and rule_kind not in subscription.rule_kinds:
        return False
    return level >= subscription.min_level


def enqueue_alert_event(session: Session, alert: Alert, event: AlertEvent) -> list[OutboxMessage]:
    """Write one pending outbox message per recipient and channel that ``event`` concerns.

    Risk alerts go to the subscriptions they match (``subscription_matches`` against
    ``notification_level(...)``); a focal point matched by several subscriptions on one channel
    gets one message. Operational alerts go to administrators on every channel they have.
    Messages are keyed ``alert-event:{event}:fp:{focal point}:{channel}``; keys already in the
    outbox are skipped, so calling this again for the same event adds nothing. Returns the new
    messages only. Flushes, never commits. Two transactions enqueuing the same event at once
    cannot both succeed: the unique ``dedup_key`` makes the later flush raise
    ``IntegrityError``, and its owner rolls back.
    """
    if alert.id is None or event.id is None or event.at is None or alert.opened_at is None:
        # Ids and default timestamps exist only once the rows are flushed; the payload needs them.
        session.flush()
    if event.alert_id != alert.id:
        raise ValueError(
            f"alert event {event.id} belongs to alert {event.alert_id}, not {alert.id}"
        )
    if alert.operational:
        admins = [fp.id for fp in repository.administrators(session)]
        return enqueue_to_focal_points(session, alert, event, admins, Purpose.OPERATIONAL)

    levels_reached = (
        repository.levels_recorded_for_alert(session, alert.id)
        if event.kind is AlertEventKind.RESOLVED
        else []
    )
    level = notification_level(alert, event, levels_reached)
    country = repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
    region = country.region if country is not None else None
    chosen: dict[tuple[int, Channel], tuple[Subscription, FocalPoint]] = {}
    for subscription, focal_point in repository.active_subscriptions(session):
        if not subscription_matches(
            subscription,
            country_iso3=alert.country_iso3,
            region=region,
            level=level,
            rule_kind=alert.rule_kind,
        ):
            continue
        chosen.setdefault((focal_point.id, subscription.channel), (subscription, focal_point))
    return _write(
        session,
        alert,
        event,
        [(fp, channel, sub.id) for (_, channel), (sub, fp) in chosen.items()],
        Purpose.ALERT,
        country.name if country is not None else None,
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
        if message.alert_id is not None:
            by_alert.setdefault(message.alert_id, []).append(message.id)
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
