"""One message per recipient, country and run (Alertmanager's group-by).

A scoring run can fire several rules for one country (``elevated_risk`` and
``systematic_attack`` with near identical actions). Each stays its own alert, with its own
dedup key and audit trail; what a recipient receives is one message per country that lists
them: the combined priority actions first (deduplicated across the rules, at most
``max_priority_actions``), then each alert with its event and evidence. The outbox row names
the lead alert (the most severe) and its event; the others ride along in
``outbox_message_alerts``, so "who was told about alert X" and "was this event sent to this
recipient" still hold for every alert of the message, and sending it again adds nothing.

A new subscription is offered the alerts already open that it matches, one message per
country, each alert marked ``already_open`` and never sent twice to a recipient on a channel.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth.models import FocalPoint
from earlywarn.framework.priority import combine_priority_actions
from earlywarn.notify import repository
from earlywarn.notify.models import Channel, OutboxMessage, OutboxMessageAlert, Purpose
from earlywarn.notify.models import Subscription as SubscriptionRow
from earlywarn.notify.payload import (
    alert_links,
    build_payload,
    event_snapshot,
    notification_level,
    outbox_dedup_key,
    subscription_matches,
)
from earlywarn.notify.service import target_for

logger = logging.getLogger(__name__)

DEFAULT_MAX_PRIORITY_ACTIONS = 7


@dataclass(frozen=True)
class _Item:
    alert: Alert
    event: AlertEvent
    subscription_id: int | None


def acting_focal_point(event: AlertEvent) -> int | None:
    """The focal point whose own act the event records (an acknowledgement): it is not told
    about it."""
    if event.kind is not AlertEventKind.ACKNOWLEDGED:
        return None
    value = (event.details or {}).get("focal_point_id")
    return int(value) if isinstance(value, int) else None


def enqueue_risk_events(
    session: Session,
    pairs: Sequence[tuple[Alert, AlertEvent]],
    *,
    max_priority_actions: int = DEFAULT_MAX_PRIORITY_ACTIONS,
) -> list[OutboxMessage]:
    """The risk alerts' part of ``outbox.enqueue_alert_events``: grouped by country, each
    recipient gets one message carrying every event of the country that its subscriptions
    match and that it has not been sent on that channel yet. Flushes, never commits."""
    by_country: dict[str | None, list[tuple[Alert, AlertEvent]]] = {}
    for alert, event in pairs:
        by_country.setdefault(alert.country_iso3, []).append((alert, event))
    if not by_country:
        return []
    messages: list[OutboxMessage] = []
    subscriptions = repository.active_subscriptions(session)
    for iso3, group in by_country.items():
        country = repository.get_country(session, iso3) if iso3 else None
        wanted = _recipients(session, group, subscriptions, country.region if country else None)
        messages += _write_groups(
            session,
            wanted,
            Purpose.ALERT,
            country.name if country is not None else None,
            max_priority_actions,
        )
    return messages


def _recipients(
    session: Session,
    group: Sequence[tuple[Alert, AlertEvent]],
    subscriptions: Sequence[tuple[SubscriptionRow, FocalPoint]],
    region: str | None,
) -> dict[tuple[int, Channel], tuple[FocalPoint, list[_Item]]]:
    told = repository.recipients_told_of_events(session, [e.id for _, e in group])
    wanted: dict[tuple[int, Channel], tuple[FocalPoint, list[_Item]]] = {}
    for alert, event in group:
        levels = (
            repository.levels_recorded_for_alert(session, alert.id)
            if event.kind is AlertEventKind.RESOLVED
            else []
        )
        level = notification_level(alert, event, levels)
        actor = acting_focal_point(event)
        for subscription, focal_point in subscriptions:
            key = (focal_point.id, subscription.channel)
            if focal_point.id == actor or (event.id, *key) in told:
                continue
            if not subscription_matches(
                subscription,
                country_iso3=alert.country_iso3,
                region=region,
                level=level,
                rule_kind=alert.rule_kind,
            ):
                continue
            _, items = wanted.setdefault(key, (focal_point, []))
            if all(item.event.id != event.id for item in items):
                items.append(_Item(alert, event, subscription.id))
    return wanted


def offer_open_alerts(
    session: Session,
    subscription: SubscriptionRow,
    *,
    max_priority_actions: int = DEFAULT_MAX_PRIORITY_ACTIONS,
) -> list[OutboxMessage]:
    """Queue, for a new subscription, the open alerts it matches that its focal point has not
    been sent on this channel: one message per country, each alert marked already open."""
    focal_point = repository.get_focal_point(session, subscription.focal_point_id)
    if focal_point is None or not focal_point.active:
        return []
    channel = Channel(subscription.channel)
    told = repository.alerts_told_to(session, focal_point.id, channel)
    by_country: dict[str | None, list[_Item]] = {}
    regions: dict[str | None, tuple[str | None, str | None]] = {}
    for alert in repository.open_alerts(session):
        if alert.id in told:
            continue
        if alert.country_iso3 not in regions:
            country = (
                repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
            )
            regions[alert.country_iso3] = (
                (country.region, country.name) if country else (None, None)
            )
        region, _ = regions[alert.country_iso3]
        if not subscription_matches(
            subscription,
            country_iso3=alert.country_iso3,
            region=region,
            level=alert.level,
            rule_kind=alert.rule_kind,
        ):
            continue
        opened = repository.opening_event(session, alert.id)
        if opened is None:
            continue
        by_country.setdefault(alert.country_iso3, []).append(_Item(alert, opened, subscription.id))
    messages: list[OutboxMessage] = []
    for iso3, items in by_country.items():
        messages += _write_groups(
            session,
            {(focal_point.id, channel): (focal_point, items)},
            Purpose.ALREADY_OPEN,
            regions[iso3][1],
            max_priority_actions,
        )
    return messages


def _write_groups(
    session: Session,
    wanted: dict[tuple[int, Channel], tuple[FocalPoint, list[_Item]]],
    purpose: Purpose,
    country_name: str | None,
    max_priority_actions: int,
) -> list[OutboxMessage]:
    written: list[tuple[OutboxMessage, list[_Item]]] = []
    payloads: dict[tuple[int, ...], dict[str, Any]] = {}
    for (_, channel), (focal_point, items) in wanted.items():
        if not items:
            continue
        target = target_for(focal_point, channel)
        if target is None:
            # The API refuses to create this state; a direct database edit could still do it.
            logger.warning("focal point %s has no %s target", focal_point.id, channel.value)
            continue
        ordered = sorted(items, key=lambda i: (-i.alert.level.rank, i.alert.id))
        lead = ordered[0]
        group_key = tuple(i.event.id for i in ordered)
        if group_key not in payloads:
            # One copy of the alerts' evidence per group, shared by its recipients' payloads.
            payloads[group_key] = group_payload(
                ordered, focal_point, country_name, purpose, max_priority_actions
            )
        payload = {
            **payloads[group_key],
            "focal_point": {"id": focal_point.id, "name": focal_point.name},
        }
        message = OutboxMessage(
            dedup_key=outbox_dedup_key(lead.event.id, focal_point.id, channel),
            alert_id=lead.alert.id,
            alert_event_id=lead.event.id,
            # The alerts already open sent to a new subscription do not bind it as delivery
            # history: it can still be deleted, as one that was never matched.
            subscription_id=None if purpose is Purpose.ALREADY_OPEN else lead.subscription_id,
            focal_point_id=focal_point.id,
            channel=channel,
            target=target,
            purpose=purpose.value,
            payload=payload,
        )
        written.append((message, ordered[1:]))
    if not written:
        return []
    repository.add_outbox_messages(session, [m for m, _ in written])
    session.flush()  # the messages' ids, for the alerts that ride along
    repository.add_carried_alerts(
        session,
        [
            OutboxMessageAlert(
                outbox_message_id=message.id, alert_id=i.alert.id, alert_event_id=i.event.id
            )
            for message, others in written
            for i in others
        ],
    )
    session.flush()
    return [m for m, _ in written]


def group_payload(
    items: Sequence[_Item],
    focal_point: FocalPoint,
    country_name: str | None,
    purpose: Purpose,
    max_priority_actions: int,
) -> dict[str, Any]:
    """The lead alert's payload (``outbox.build_payload``) plus ``alerts``, every alert of
    the message with its event and evidence, most severe first, and ``priority_actions``,
    the combined list."""
    lead = items[0]
    payload = build_payload(lead.alert, lead.event, focal_point, country_name, purpose)
    already_open = purpose is Purpose.ALREADY_OPEN
    payload["alerts"] = [_entry(i, already_open) for i in items]
    payload["priority_actions"] = combine_priority_actions(
        [(i.alert.rule_id, i.alert.priority_actions or []) for i in items],
        max_priority_actions,
    )
    return payload


def _entry(item: _Item, already_open: bool) -> dict[str, Any]:
    alert, event = item.alert, item.event
    return {
        "id": alert.id,
        "dedup_key": alert.dedup_key,
        "rule_id": alert.rule_id,
        "rule_kind": alert.rule_kind,
        "state": alert.state.value,
        "level": alert.level.value,
        "summary": alert.summary,
        "already_open": already_open,
        "event": event_snapshot(event),
        "evidence": copy.deepcopy(alert.evidence),
        "priority_actions": copy.deepcopy(alert.priority_actions or []),
        "links": alert_links(alert),
    }
