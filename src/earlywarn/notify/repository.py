"""Every query the notify stage makes: focal points, subscriptions and the outbox."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.auth.models import FocalPoint
from earlywarn.countries.models import Country
from earlywarn.notify.models import (
    Channel,
    DeliveryAttempt,
    OutboxMessage,
    OutboxMessageAlert,
    OutboxStatus,
    Subscription,
)
from earlywarn.types import RiskLevel


def _carries_alert(alert_id: int) -> ColumnElement[bool]:
    """A message about the alert: it leads the message, or rides along in a grouped one."""
    return or_(
        OutboxMessage.alert_id == alert_id,
        OutboxMessage.id.in_(
            select(OutboxMessageAlert.outbox_message_id).where(
                OutboxMessageAlert.alert_id == alert_id
            )
        ),
    )


def _carries_event(alert_event_id: int) -> ColumnElement[bool]:
    return or_(
        OutboxMessage.alert_event_id == alert_event_id,
        OutboxMessage.id.in_(
            select(OutboxMessageAlert.outbox_message_id).where(
                OutboxMessageAlert.alert_event_id == alert_event_id
            )
        ),
    )


# --- focal points (the table is auth's: an API key acts for one) ----------------------------


def get_focal_point(session: Session, focal_point_id: int) -> FocalPoint | None:
    return session.get(FocalPoint, focal_point_id)


def list_focal_points(session: Session, *, active: bool | None = None) -> list[FocalPoint]:
    query = select(FocalPoint).order_by(FocalPoint.id)
    if active is not None:
        query = query.where(FocalPoint.active.is_(active))
    return list(session.scalars(query))


def add_focal_point(session: Session, focal_point: FocalPoint) -> FocalPoint:
    session.add(focal_point)
    # Flushing here surfaces constraint errors inside the request, not at commit time.
    session.flush()
    return focal_point


# --- subscriptions --------------------------------------------------------------------------


def get_subscription(session: Session, subscription_id: int) -> Subscription | None:
    return session.get(Subscription, subscription_id)


def list_subscriptions(session: Session, focal_point_id: int) -> list[Subscription]:
    return list(
        session.scalars(
            select(Subscription)
            .where(Subscription.focal_point_id == focal_point_id)
            .order_by(Subscription.id)
        )
    )


def find_subscription(
    session: Session,
    *,
    focal_point_id: int,
    country_iso3: str | None,
    channel: Channel,
    region: str | None = None,
    rule_kinds: list[str] | None = None,
) -> Subscription | None:
    """A subscription of the focal point with exactly these criteria, if any."""
    candidates = session.scalars(
        select(Subscription).where(
            Subscription.focal_point_id == focal_point_id, Subscription.channel == channel
        )
    )
    for subscription in candidates:
        if (
            subscription.country_iso3 == country_iso3
            and subscription.region == region
            and (sorted(subscription.rule_kinds) if subscription.rule_kinds else None)
            == (sorted(rule_kinds) if rule_kinds else None)
        ):
            return subscription
    return None


def known_regions(session: Session) -> set[str]:
    return {r for r in session.scalars(select(Country.region).distinct()) if r}


def channels_in_use(session: Session, focal_point_id: int) -> set[Channel]:
    return set(
        session.scalars(
            select(Subscription.channel)
            .where(Subscription.focal_point_id == focal_point_id)
            .distinct()
        )
    )


def add_subscription(session: Session, subscription: Subscription) -> Subscription:
    session.add(subscription)
    session.flush()
    return subscription


def delete_subscription(session: Session, subscription: Subscription) -> None:
    session.delete(subscription)
    session.flush()


def active_subscriptions(session: Session) -> list[tuple[Subscription, FocalPoint]]:
    """Every subscription of an active focal point, oldest first."""
    rows = session.execute(
        select(Subscription, FocalPoint)
        .join(FocalPoint, FocalPoint.id == Subscription.focal_point_id)
        .where(FocalPoint.active.is_(True))
        .order_by(Subscription.id)
    )
    return [(subscription, focal_point) for subscription, focal_point in rows]


def focal_points_by_id(session: Session, ids: Iterable[int]) -> list[FocalPoint]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    return list(
        session.scalars(select(FocalPoint).where(FocalPoint.id.in_(wanted)).order_by(FocalPoint.id))
    )


def administrators(session: Session) -> list[FocalPoint]:
    return list(
        session.scalars(
            select(FocalPoint)
            .where(FocalPoint.is_administrator.is_(True), FocalPoint.active.is_(True))
            .order_by(FocalPoint.id)
        )
    )


def focal_points_of_tier(session: Session, tier: str) -> list[FocalPoint]:
    return list(
        session.scalars(
            select(FocalPoint)
            .where(FocalPoint.escalation_tier == tier, FocalPoint.active.is_(True))
            .order_by(FocalPoint.id)
        )
    )


def focal_points_for_event(session: Session, alert_event_id: int) -> list[int]:
    return sorted(
        set(
            session.scalars(
                select(OutboxMessage.focal_point_id).where(_carries_event(alert_event_id))
            )
        )
    )


def focal_points_told_about_alert(session: Session, alert_id: int) -> set[int]:
    """Every focal point with an outbox message of the alert (any event, channel, status)."""
    return set(
        session.scalars(
            select(OutboxMessage.focal_point_id).where(_carries_alert(alert_id)).distinct()
        )
    )


# --- countries and alerts (read only) -------------------------------------------------------


def get_country(session: Session, iso3: str) -> Country | None:
    return session.get(Country, iso3)


def levels_recorded_for_alert(session: Session, alert_id: int) -> list[RiskLevel]:
    """Every level an alert's events mention, in no particular order (duplicates possible)."""
    levels: list[RiskLevel] = []
    for from_level, to_level in session.execute(
        select(AlertEvent.from_level, AlertEvent.to_level).where(AlertEvent.alert_id == alert_id)
    ):
        levels.extend(level for level in (from_level, to_level) if level is not None)
    return levels


# --- outbox ---------------------------------------------------------------------------------


def outbox_keys_with_prefix(session: Session, prefix: str) -> set[str]:
    return set(
        session.scalars(
            select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.startswith(prefix))
        )
    )


def release_held(session: Session, focal_point_id: int, channel: Channel, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.focal_point_id == focal_point_id,
            OutboxMessage.channel == channel,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(next_attempt_at=now, lease_until=None)
    )


def outbox_dedup_keys(session: Session, alert_event_id: int) -> set[str]:
    return set(
        session.scalars(
            select(OutboxMessage.dedup_key).where(OutboxMessage.alert_event_id == alert_event_id)
        )
    )


def recipients_told_of_events(
    session: Session, alert_event_ids: Iterable[int]
) -> set[tuple[int, int, Channel]]:
    """(event, focal point, channel) of every message already carrying one of the events,
    whether it led the message or rode along in a grouped one."""
    ids = list(alert_event_ids)
    if not ids:
        return set()
    led = session.execute(
        select(
            OutboxMessage.alert_event_id, OutboxMessage.focal_point_id, OutboxMessage.channel
        ).where(OutboxMessage.alert_event_id.in_(ids))
    )
    carried = session.execute(
        select(
            OutboxMessageAlert.alert_event_id,
            OutboxMessage.focal_point_id,
            OutboxMessage.channel,
        )
        .join(OutboxMessage, OutboxMessage.id == OutboxMessageAlert.outbox_message_id)
        .where(OutboxMessageAlert.alert_event_id.in_(ids))
    )
    return {(int(e), int(fp), ch) for e, fp, ch in [*led, *carried] if e is not None}


def alerts_told_to(session: Session, focal_point_id: int, channel: Channel) -> set[int]:
    """Every alert a focal point already has a message about on the channel."""
    led = session.scalars(
        select(OutboxMessage.alert_id).where(
            OutboxMessage.focal_point_id == focal_point_id,
            OutboxMessage.channel == channel,
            OutboxMessage.alert_id.is_not(None),
        )
    )
    carried = session.scalars(
        select(OutboxMessageAlert.alert_id)
        .join(OutboxMessage, OutboxMessage.id == OutboxMessageAlert.outbox_message_id)
        .where(OutboxMessage.focal_point_id == focal_point_id, OutboxMessage.channel == channel)
    )
    return {int(a) for a in [*led, *carried] if a is not None}


def open_alerts(session: Session) -> list[Alert]:
    """Risk alerts not resolved, oldest first (what a new subscription is offered)."""
    return list(
        session.scalars(
            select(Alert)
            .where(Alert.operational.is_(False), Alert.state != AlertState.RESOLVED)
            .order_by(Alert.id)
        )
    )


def opening_event(session: Session, alert_id: int) -> AlertEvent | None:
    """The alert's latest ``opened`` or ``reopened`` event."""
    return session.scalars(
        select(AlertEvent)
        .where(
            AlertEvent.alert_id == alert_id,
            AlertEvent.kind.in_([AlertEventKind.OPENED, AlertEventKind.REOPENED]),
        )
        .order_by(AlertEvent.id.desc())
        .limit(1)
    ).first()


def carried_alerts(session: Session, message_ids: Iterable[int]) -> dict[int, list[int]]:
    """The alerts each grouped message carries besides its lead."""
    ids = list(message_ids)
    found: dict[int, list[int]] = {}
    if not ids:
        return found
    for message_id, alert_id in session.execute(
        select(OutboxMessageAlert.outbox_message_id, OutboxMessageAlert.alert_id)
        .where(OutboxMessageAlert.outbox_message_id.in_(ids))
        .order_by(OutboxMessageAlert.id)
    ):
        found.setdefault(int(message_id), []).append(int(alert_id))
    return found


def add_carried_alerts(session: Session, rows: Iterable[OutboxMessageAlert]) -> None:
    session.add_all(list(rows))


def add_outbox_messages(session: Session, messages: Iterable[OutboxMessage]) -> list[OutboxMessage]:
    added = list(messages)
    session.add_all(added)
    session.flush()
    return added


def get_outbox_message(
    session: Session, message_id: int, *, for_update: bool = False
) -> OutboxMessage | None:
    query = select(OutboxMessage).where(OutboxMessage.id == message_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def get_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def failed_messages(
    session: Session, *, alert_id: int | None, focal_point_id: int | None
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
    if alert_id is not None:
        query = query.where(_carries_alert(alert_id))
    if focal_point_id is not None:
        query = query.where(OutboxMessage.focal_point_id == focal_point_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return list(session.scalars(query.order_by(OutboxMessage.id)))


def requeued_at_attempt(session: Session, message_ids: Iterable[int]) -> dict[int, int]:
    """For each message re-queued by hand, the attempt number it was re-queued at (latest)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(DeliveryAttempt.outbox_message_id, func.max(DeliveryAttempt.attempt))
        .where(DeliveryAttempt.outbox_message_id.in_(ids), DeliveryAttempt.outcome == "requeued")
        .group_by(DeliveryAttempt.outbox_message_id)
    )
    return {message_id: int(attempt) for message_id, attempt in rows}


def count_outbox_for_subscription(session: Session, subscription_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.subscription_id == subscription_id)
        )
        or 0
    )


def list_outbox(
    session: Session,
    *,
    status: OutboxStatus | None = None,
    alert_id: int | None = None,
    focal_point_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OutboxMessage]:
    query = select(OutboxMessage)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if alert_id is not None:
        query = query.where(_carries_alert(alert_id))
    if focal_point_id is not None:
        query = query.where(OutboxMessage.focal_point_id == focal_point_id)
    query = query.order_by(OutboxMessage.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def attempts_for_alert(session: Session, alert_id: int) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = {}
    rows = session.scalars(
        select(DeliveryAttempt)
        .join(OutboxMessage, OutboxMessage.id == DeliveryAttempt.outbox_message_id)
        .where(_carries_alert(alert_id))
        # By id: a re-queue row shares the number of the attempt it follows.
        .order_by(DeliveryAttempt.outbox_message_id, DeliveryAttempt.id)
    )
    for attempt in rows:
        found.setdefault(attempt.outbox_message_id, []).append(attempt)
    return found
