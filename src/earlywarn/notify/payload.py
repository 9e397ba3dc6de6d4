"""What an outbox message says about an alert event, and whom it concerns: the payload (format
version 1), the level a subscription is compared with, and the subscription match. Pure:
shared by the outbox (one alert) and grouped messages (``notify.grouped``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.auth.models import FocalPoint
from earlywarn.notify.models import Channel, Purpose, Subscription
from earlywarn.types import RiskLevel

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
        "event": event_snapshot(event),
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
            # What to do first (docs/priority-actions.md); operational alerts have none.
            **(
                {"priority_actions": copy.deepcopy(alert.priority_actions)}
                if alert.priority_actions
                else {}
            ),
        },
        "focal_point": {"id": focal_point.id, "name": focal_point.name},
        "links": alert_links(alert),
    }


def event_snapshot(event: AlertEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "kind": event.kind.value,
        "at": _iso_utc(event.at),
        "actor": event.actor,
        "note": event.note,
        "from_level": _level_value(event.from_level),
        "to_level": _level_value(event.to_level),
    }


def alert_links(alert: Alert) -> dict[str, str]:
    return {"alert": f"/alerts/{alert.id}", "acknowledge": f"/alerts/{alert.id}/acknowledge"}


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
