"""Focal points, their subscriptions, and the outbox of notifications owed to them.

``enqueue_alert_event`` is the contract between alerting and delivery: alerting calls it in the
same transaction that records an alert event, so a notification exists exactly when the change
that caused it does. Nothing here commits; the request or job that owns the session does.
"""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth import service as auth_service
from earlywarn.notify import repository
from earlywarn.notify.models import Channel, FocalPoint, OutboxMessage, OutboxStatus, Subscription
from earlywarn.notify.schemas import FocalPointCreate, FocalPointUpdate, SubscriptionCreate
from earlywarn.types import RiskLevel

logger = logging.getLogger(__name__)

PAYLOAD_VERSION = 1


class NotifyError(ValueError):
    """A notify request that cannot be honoured as asked; the message says why."""


class NotFound(NotifyError):
    """The focal point or subscription named in the request does not exist."""


class InvalidRequest(NotifyError):
    """The request references something unusable (unknown country, missing target)."""


class Conflict(NotifyError):
    """The request conflicts with the current state (duplicate, in use, inactive)."""


# --- focal points ---------------------------------------------------------------------------


def create_focal_point(session: Session, data: FocalPointCreate) -> FocalPoint:
    focal_point = FocalPoint(
        name=data.name,
        organisation=data.organisation,
        email=data.email,
        webhook_url=data.webhook_url,
        active=True,
    )
    return repository.add_focal_point(session, focal_point)


def list_focal_points(session: Session, *, active: bool | None = None) -> list[FocalPoint]:
    return repository.list_focal_points(session, active=active)


def get_focal_point(session: Session, focal_point_id: int) -> FocalPoint:
    focal_point = repository.get_focal_point(session, focal_point_id)
    if focal_point is None:
        raise NotFound(f"focal point {focal_point_id} does not exist")
    return focal_point


def _target_for(focal_point: FocalPoint, channel: Channel) -> str | None:
    return focal_point.email if channel is Channel.EMAIL else focal_point.webhook_url


def update_focal_point(session: Session, focal_point_id: int, data: FocalPointUpdate) -> FocalPoint:
    """Apply the fields present in ``data``; an explicit null removes an e-mail or webhook.

    A target that a subscription delivers to cannot be removed: the subscription would silently
    stop delivering. Delete the subscription first.
    """
    focal_point = get_focal_point(session, focal_point_id)
    given = data.model_fields_set
    if "name" in given:
        if data.name is None:
            raise InvalidRequest("name cannot be removed; give a new name instead")
        focal_point.name = data.name
    if "organisation" in given:
        focal_point.organisation = data.organisation
    in_use = repository.channels_in_use(session, focal_point_id)
    for field, channel, value in (
        ("email", Channel.EMAIL, data.email),
        ("webhook_url", Channel.WEBHOOK, data.webhook_url),
    ):
        if field not in given:
            continue
        if value is None and channel in in_use:
            raise Conflict(
                f"cannot remove {field}: {channel.value} subscriptions of focal point "
                f"{focal_point_id} deliver to it; delete them first"
            )
        setattr(focal_point, field, value)
    if "active" in given and data.active is not None and data.active != focal_point.active:
        if data.active:
            focal_point.active = True
        else:
            _deactivate(session, focal_point)
    session.flush()
    return focal_point


def deactivate_focal_point(session: Session, focal_point_id: int) -> FocalPoint:
    """Stop all deliveries to a focal point and revoke its API keys; history is kept."""
    focal_point = get_focal_point(session, focal_point_id)
    if focal_point.active:
        _deactivate(session, focal_point)
        session.flush()
    return focal_point


def _deactivate(session: Session, focal_point: FocalPoint) -> None:
    focal_point.active = False
    # A deactivated focal point no longer acts on alerts, so its keys must stop working too.
    revoked = auth_service.revoke_keys_for_focal_point(session, focal_point.id)
    if revoked:
        logger.info(
            "focal point %s deactivated; revoked API keys %s",
            focal_point.id,
            [key.id for key in revoked],
        )


# --- subscriptions --------------------------------------------------------------------------


def create_subscription(
    session: Session, focal_point_id: int, data: SubscriptionCreate
) -> Subscription:
    focal_point = get_focal_point(session, focal_point_id)
    if not focal_point.active:
        raise Conflict(f"focal point {focal_point_id} is inactive; reactivate it first")
    if _target_for(focal_point, data.channel) is None:
        field = "email" if data.channel is Channel.EMAIL else "webhook_url"
        raise InvalidRequest(
            f"focal point {focal_point_id} has no {field}, so it cannot receive "
            f"{data.channel.value} notifications; set {field} first"
        )
    if data.country_iso3 is not None and repository.get_country(session, data.country_iso3) is None:
        raise InvalidRequest(f"unknown country '{data.country_iso3}'")
    existing = repository.find_subscription(
        session,
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        channel=data.channel,
    )
    if existing is not None:
        # Two subscriptions for the same country and channel would deliver every alert twice.
        where = data.country_iso3 or "all countries"
        raise Conflict(
            f"focal point {focal_point_id} already has {data.channel.value} subscription "
            f"{existing.id} for {where}; delete it to change its min_level"
        )
    subscription = Subscription(
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        min_level=data.min_level,
        channel=data.channel,
    )
    return repository.add_subscription(session, subscription)


def list_subscriptions(session: Session, focal_point_id: int) -> list[Subscription]:
    get_focal_point(session, focal_point_id)
    return repository.list_subscriptions(session, focal_point_id)


def delete_subscription(session: Session, subscription_id: int) -> None:
    """Delete a subscription that has never produced a notification.

    Outbox rows point at their subscription, and that delivery record is history we keep; a
    subscription with messages cannot be deleted (deactivate the focal point instead).
    """
    subscription = repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    messages = repository.count_outbox_for_subscription(session, subscription_id)
    if messages:
        raise Conflict(
            f"subscription {subscription_id} has {messages} outbox message(s) and is kept as "
            "delivery history; deactivate the focal point to stop deliveries"
        )
    repository.delete_subscription(session, subscription)


# --- the outbox -----------------------------------------------------------------------------


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


def outbox_dedup_key(event_id: int, subscription_id: int) -> str:
    return f"alert-event:{event_id}:sub:{subscription_id}"


def _iso_utc(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _level_value(level: RiskLevel | None) -> str | None:
    return None if level is None else level.value


def build_payload(
    alert: Alert, event: AlertEvent, focal_point: FocalPoint, country_name: str | None
) -> dict[str, Any]:
    """The message body a receiver can act on without calling back (format version 1)."""
    return {
        "version": PAYLOAD_VERSION,
        "event": {
            "id": event.id,
            "kind": event.kind.value,
            "at": _iso_utc(event.at),
            "from_level": _level_value(event.from_level),
            "to_level": _level_value(event.to_level),
        },
        "alert": {
            "id": alert.id,
            "dedup_key": alert.dedup_key,
            "rule_id": alert.rule_id,
            "state": alert.state.value,
            "level": alert.level.value,
            "country": {"iso3": alert.country_iso3, "name": country_name},
            "summary": alert.summary,
            "opened_at": _iso_utc(alert.opened_at),
            # Copies: the payload is a snapshot and must not alias the alert's live JSON.
            "evidence": copy.deepcopy(alert.evidence),
            "recommended_actions": copy.deepcopy(alert.actions),
        },
        "focal_point": {"id": focal_point.id, "name": focal_point.name},
        "links": {
            "alert": f"/alerts/{alert.id}",
            "acknowledge": f"/alerts/{alert.id}/acknowledge",
        },
    }


def enqueue_alert_event(session: Session, alert: Alert, event: AlertEvent) -> list[OutboxMessage]:
    """Write one pending outbox message per subscription that ``event`` concerns.

    A subscription matches when its focal point is active, its country is the alert's (or it
    covers all countries), and its ``min_level`` is at most ``notification_level(...)``.
    Messages are keyed ``alert-event:{event}:sub:{subscription}``; keys already in the outbox are
    skipped, so calling this again for the same event adds nothing. Returns the new messages
    only. Flushes, never commits. Two transactions enqueuing the same event at once cannot both
    succeed: the unique ``dedup_key`` makes the later flush raise ``IntegrityError``, and its
    owner rolls back.
    """
    if alert.id is None or event.id is None or event.at is None or alert.opened_at is None:
        # Ids and default timestamps exist only once the rows are flushed; the payload needs them.
        session.flush()
    if event.alert_id != alert.id:
        raise ValueError(
            f"alert event {event.id} belongs to alert {event.alert_id}, not {alert.id}"
        )

    levels_reached = (
        repository.levels_recorded_for_alert(session, alert.id)
        if event.kind is AlertEventKind.RESOLVED
        else []
    )
    level = notification_level(alert, event, levels_reached)
    already_queued = repository.outbox_dedup_keys(session, event.id)
    country = repository.get_country(session, alert.country_iso3)
    country_name = country.name if country is not None else None

    messages: list[OutboxMessage] = []
    for subscription, focal_point in repository.subscriptions_for_country(
        session, alert.country_iso3
    ):
        if not level >= subscription.min_level:
            continue
        dedup_key = outbox_dedup_key(event.id, subscription.id)
        if dedup_key in already_queued:
            continue
        target = _target_for(focal_point, subscription.channel)
        if target is None:
            # The API refuses to create this state; a direct database edit could still do it.
            logger.warning(
                "subscription %s: focal point %s has no %s target; alert event %s not queued",
                subscription.id,
                focal_point.id,
                subscription.channel.value,
                event.id,
            )
            continue
        messages.append(
            OutboxMessage(
                dedup_key=dedup_key,
                alert_id=alert.id,
                alert_event_id=event.id,
                subscription_id=subscription.id,
                focal_point_id=focal_point.id,
                channel=subscription.channel,
                target=target,
                payload=build_payload(alert, event, focal_point, country_name),
                status=OutboxStatus.PENDING,
                attempts=0,
            )
        )
    if messages:
        repository.add_outbox_messages(session, messages)
    return messages


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
