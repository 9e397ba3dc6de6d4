"""Focal points, their subscriptions, and the outbox of notifications owed to them.

``enqueue_alert_event`` is the contract between alerting and delivery: alerting calls it in the
same transaction that records an alert event, so a notification exists exactly when the change
that caused it does. Nothing here commits; the request or job that owns the session does.
"""

from __future__ import annotations

import base64
import copy
import logging
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth import service as auth_service
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
from earlywarn.notify.schemas import (
    DeliveryAttemptRead,
    DeliveryRead,
    FocalPointCreate,
    FocalPointUpdate,
    OutboxMessageRead,
    SubscriptionCreate,
)
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


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def create_focal_point(session: Session, data: FocalPointCreate) -> FocalPoint:
    focal_point = FocalPoint(
        name=data.name,
        organisation=data.organisation,
        email=data.email,
        webhook_url=data.webhook_url,
        active=True,
        escalation_tier=data.escalation_tier,
        region=data.region,
        is_administrator=data.is_administrator,
        webhook_secret=new_webhook_secret(),
        webhook_consecutive_failures=0,
        email_consecutive_failures=0,
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
    for field in ("escalation_tier", "region"):
        if field in given:
            setattr(focal_point, field, getattr(data, field))
    if "is_administrator" in given and data.is_administrator is not None:
        focal_point.is_administrator = data.is_administrator
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
    if data.region is not None and data.region not in repository.known_regions(session):
        raise InvalidRequest(
            f"unknown region '{data.region}'; known: {sorted(repository.known_regions(session))}"
        )
    existing = repository.find_subscription(
        session,
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        channel=data.channel,
        region=data.region,
        rule_kinds=data.rule_kinds,
    )
    if existing is not None:
        # Same criteria twice is a mistake; overlapping subscriptions are fine, since a
        # recipient matched by several is notified once.
        where = data.country_iso3 or data.region or "all countries"
        raise Conflict(
            f"focal point {focal_point_id} already has {data.channel.value} subscription "
            f"{existing.id} for {where}; delete it to change its min_level"
        )
    subscription = Subscription(
        focal_point_id=focal_point_id,
        country_iso3=data.country_iso3,
        region=data.region,
        rule_kinds=data.rule_kinds,
        min_level=data.min_level,
        channel=data.channel,
    )
    return repository.add_subscription(session, subscription)


def list_subscriptions(session: Session, focal_point_id: int) -> list[Subscription]:
    get_focal_point(session, focal_point_id)
    return repository.list_subscriptions(session, focal_point_id)


def get_subscription(session: Session, subscription_id: int) -> Subscription:
    subscription = repository.get_subscription(session, subscription_id)
    if subscription is None:
        raise NotFound(f"subscription {subscription_id} does not exist")
    return subscription


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


def _targets(focal_point: FocalPoint) -> list[tuple[Channel, str]]:
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
        recipients += [(focal_point, channel, None) for channel, _ in _targets(focal_point)]
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
        target = _target_for(focal_point, channel)
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


def notify_administrators(
    session: Session, *, key: str, subject: str, text: str, details: dict[str, Any]
) -> list[OutboxMessage]:
    """An operational notice (not tied to an alert) to every administrator, once per ``key``.

    A disabled webhook or e-mail address is skipped (it may be the one the notice is about).
    """
    now = utc_now()
    messages: list[OutboxMessage] = []
    existing = repository.outbox_keys_with_prefix(session, f"notice:{key}:")
    for focal_point in repository.administrators(session):
        for channel, target in _targets(focal_point):
            if endpoint_state(focal_point, channel).disabled_at is not None:
                continue
            dedup = f"notice:{key}:fp:{focal_point.id}:{channel.value}"
            if dedup in existing:
                continue
            messages.append(
                OutboxMessage(
                    dedup_key=dedup,
                    focal_point_id=focal_point.id,
                    channel=channel,
                    target=target,
                    purpose=Purpose.OPERATIONAL.value,
                    payload={
                        "version": PAYLOAD_VERSION,
                        "type": "notice",
                        "purpose": Purpose.OPERATIONAL.value,
                        "notice": {
                            "subject": subject,
                            "text": text,
                            "at": now.isoformat(),
                            "details": details,
                        },
                        "focal_point": {"id": focal_point.id, "name": focal_point.name},
                    },
                    status=OutboxStatus.PENDING,
                    attempts=0,
                )
            )
    if messages:
        repository.add_outbox_messages(session, messages)
    return messages


def escalation_recipients(session: Session, tier: str, region: str | None) -> list[int]:
    """Active focal points of ``tier`` covering ``region`` (theirs, or every region)."""
    return [
        fp.id
        for fp in repository.focal_points_of_tier(session, tier)
        if fp.region is None or fp.region == region
    ]


def focal_points_notified(session: Session, alert_event_id: int) -> list[int]:
    return repository.focal_points_for_event(session, alert_event_id)


def paged_focal_points(alert: Alert) -> list[int]:
    """Who the escalation has notified so far: the first recipients and every tier reached."""
    chain = alert.escalation or {}
    paged = list(chain.get("notified_focal_point_ids", []))
    for tier in chain.get("tiers", [])[: alert.escalation_step]:
        paged += [fp for fp in tier.get("focal_point_ids", []) if fp not in paged]
    return paged


def announce_acknowledgement(
    session: Session, alert: Alert, event: AlertEvent
) -> list[OutboxMessage]:
    """Tell everyone the escalation paged that someone acted, once per recipient.

    Call after ``enqueue_alert_event``: a focal point already sent this event (a subscriber)
    is skipped, so nobody hears it twice; the others get it on every channel they have, as
    they were paged.
    """
    already = set(repository.focal_points_for_event(session, event.id))
    recipients = [fp for fp in paged_focal_points(alert) if fp not in already]
    return enqueue_to_focal_points(session, alert, event, recipients, Purpose.ACKNOWLEDGEMENT)


def escalation_chain_members(alert: Alert) -> set[int]:
    """Everyone on the alert's frozen escalation chain, notified yet or not."""
    chain = alert.escalation or {}
    members = set(chain.get("notified_focal_point_ids", []))
    for tier in chain.get("tiers", []):
        members.update(tier.get("focal_point_ids", []))
    return members


def refusal_to_act(session: Session, alert: Alert, focal_point_id: int) -> str | None:
    """Why the focal point may not acknowledge (or annotate) ``alert``; None when it may.

    A focal point acts on the alerts it was told about (an outbox message of the alert), the
    ones its subscriptions match now, and the ones whose frozen escalation chain names it.
    """
    focal_point = repository.get_focal_point(session, focal_point_id)
    if focal_point is None or not focal_point.active:
        return f"focal point {focal_point_id} is not an active focal point"
    if focal_point_id in repository.focal_points_told_about_alert(session, alert.id):
        return None
    if focal_point_id in escalation_chain_members(alert):
        return None
    country = repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
    region = country.region if country is not None else None
    for subscription in repository.list_subscriptions(session, focal_point_id):
        if subscription_matches(
            subscription,
            country_iso3=alert.country_iso3,
            region=region,
            level=alert.level,
            rule_kind=alert.rule_kind,
        ):
            return None
    return (
        f"focal point {focal_point_id} ({focal_point.name}) was not told about alert "
        f"{alert.id} ({alert.dedup_key}, level {alert.level.value}), is not on its escalation "
        "chain, and none of its subscriptions match it; ask an administrator"
    )


# --- webhook endpoints ----------------------------------------------------------------------


def rotate_webhook_secret(
    session: Session, focal_point_id: int, *, overlap: timedelta
) -> FocalPoint:
    """A new signing secret; the old one keeps signing alongside it for ``overlap``."""
    focal_point = get_focal_point(session, focal_point_id)
    if focal_point.webhook_secret is not None and overlap > timedelta(0):
        focal_point.webhook_secret_previous = focal_point.webhook_secret
        focal_point.webhook_previous_expires_at = utc_now() + overlap
    else:
        focal_point.webhook_secret_previous = None
        focal_point.webhook_previous_expires_at = None
    focal_point.webhook_secret = new_webhook_secret()
    session.flush()
    return focal_point


class EndpointState:
    """One delivery endpoint of a focal point (its webhook or its e-mail address): the
    consecutive-failure count and the disabled mark, read and written on the focal point."""

    def __init__(self, focal_point: FocalPoint, channel: Channel) -> None:
        self.focal_point = focal_point
        self.channel = channel
        self._prefix = "webhook" if channel is Channel.WEBHOOK else "email"

    @property
    def target(self) -> str | None:
        return _target_for(self.focal_point, self.channel)

    @property
    def failures(self) -> int:
        return int(getattr(self.focal_point, f"{self._prefix}_consecutive_failures") or 0)

    @failures.setter
    def failures(self, value: int) -> None:
        setattr(self.focal_point, f"{self._prefix}_consecutive_failures", value)

    @property
    def disabled_at(self) -> datetime | None:
        value: datetime | None = getattr(self.focal_point, f"{self._prefix}_disabled_at")
        return value

    def disable(self, now: datetime, reason: str) -> None:
        setattr(self.focal_point, f"{self._prefix}_disabled_at", now)
        setattr(self.focal_point, f"{self._prefix}_disabled_reason", reason)

    def enable(self) -> None:
        setattr(self.focal_point, f"{self._prefix}_disabled_at", None)
        setattr(self.focal_point, f"{self._prefix}_disabled_reason", None)
        self.failures = 0


def endpoint_state(focal_point: FocalPoint, channel: Channel) -> EndpointState:
    return EndpointState(focal_point, channel)


def enable_endpoint(session: Session, focal_point_id: int, channel: Channel) -> FocalPoint:
    """Re-enable a disabled webhook or e-mail address; the messages it held are due at once
    (nothing lost). Messages that failed outright are re-queued separately (``requeue``)."""
    focal_point = get_focal_point(session, focal_point_id)
    endpoint_state(focal_point, channel).enable()
    repository.release_held(session, focal_point_id, channel, utc_now())
    session.flush()
    return focal_point


def enable_webhook(session: Session, focal_point_id: int) -> FocalPoint:
    return enable_endpoint(session, focal_point_id, Channel.WEBHOOK)


def enable_email(session: Session, focal_point_id: int) -> FocalPoint:
    return enable_endpoint(session, focal_point_id, Channel.EMAIL)


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


def check_owner(principal_focal_point_id: int | None, is_admin: bool, focal_point_id: int) -> None:
    """Administrators manage every focal point; a focal point key only its own. Another's is
    reported as not found, so keys cannot probe which focal points exist."""
    if not is_admin and principal_focal_point_id != focal_point_id:
        raise NotFound(f"focal point {focal_point_id} is not this key's focal point")
