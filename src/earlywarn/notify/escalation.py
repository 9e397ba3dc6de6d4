"""Escalation of unacknowledged alerts: the chain frozen onto an alert when it opens, the
tiers it climbs (``escalate_due``), the reminders after the last tier, and who hears that
someone acknowledged.

The chain lives on the alert's row (``Alert.escalation``, ``escalation_step``,
``next_escalation_at``): frozen at opening, so editing the configuration or the focal points
later does not change who an open alert escalates to.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from earlywarn.alerting import no_action
from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.events import record_event
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.db import utc_now
from earlywarn.framework.config_schemas import EscalationConfig
from earlywarn.notify import repository
from earlywarn.notify.models import OutboxMessage, Purpose
from earlywarn.notify.outbox import enqueue_to_focal_points


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
    actor = (event.details or {}).get("focal_point_id")
    recipients = [fp for fp in paged_focal_points(alert) if fp not in already and fp != actor]
    return enqueue_to_focal_points(session, alert, event, recipients, Purpose.ACKNOWLEDGEMENT)


def escalation_chain_members(alert: Alert) -> set[int]:
    """Everyone on the alert's frozen escalation chain, notified yet or not."""
    chain = alert.escalation or {}
    members = set(chain.get("notified_focal_point_ids", []))
    for tier in chain.get("tiers", []):
        members.update(tier.get("focal_point_ids", []))
    return members


def freeze(
    session: Session, policy: EscalationConfig, alert: Alert, opened: AlertEvent, now: datetime
) -> None:
    """Copy the chain (tiers, their focal points, reminder policy) onto an alert that opens.

    Call after the opening event's messages are queued: whoever they reach is already told.
    """
    country = repository.get_country(session, alert.country_iso3) if alert.country_iso3 else None
    region = country.region if country is not None else None
    tiers = (
        []
        if alert.operational
        else [
            {
                "name": tier.name,
                "after_minutes": tier.after_minutes,
                "focal_point_ids": escalation_recipients(session, tier.name, region),
            }
            for tier in policy.tiers
        ]
    )
    alert.escalation = {
        # Tier delays count from here; a re-fire (reopen, escalated level) restarts the clock.
        "clock_started_at": now.isoformat(),
        "tiers": tiers,
        "reminder_interval_minutes": policy.reminder_interval_minutes,
        "max_reminders": policy.max_reminders,
        no_action.CHAIN_KEY: policy.escalate_without_action_days,
        "notified_focal_point_ids": focal_points_notified(session, opened.id),
    }
    alert.escalation_step = 0
    alert.reminders_sent = 0
    alert.next_escalation_at = next_escalation(alert, now)


def next_escalation(alert: Alert, now: datetime) -> datetime | None:
    chain = alert.escalation
    tiers = chain.get("tiers", [])
    if alert.escalation_step < len(tiers):
        started = chain.get("clock_started_at")
        clock = datetime.fromisoformat(started) if started else alert.opened_at
        due = clock + timedelta(minutes=tiers[alert.escalation_step]["after_minutes"])
        return max(due, now)
    if alert.reminders_sent < chain.get("max_reminders", 0):
        return now + timedelta(minutes=chain["reminder_interval_minutes"])
    return None


def restart(*, alert: Alert, now: datetime) -> None:
    """After a re-fire (escalated level, reopened) the unacknowledged clock starts again."""
    if not alert.escalation:
        return
    alert.escalation = {**alert.escalation, "clock_started_at": now.isoformat()}
    alert.reminders_sent = 0
    tiers = alert.escalation.get("tiers", [])
    if alert.escalation_step < len(tiers):
        alert.next_escalation_at = next_escalation(alert, now)
    else:
        alert.next_escalation_at = now + timedelta(
            minutes=alert.escalation.get("reminder_interval_minutes", 1440)
        )


def stop(alert: Alert) -> None:
    """Acknowledged or resolved: the escalation chain stops here."""
    alert.next_escalation_at = None


def escalate_due(session: Session, now: datetime | None = None) -> list[AlertEvent]:
    """Run every due escalation step: notify the next tier, or remind everyone notified.

    Rows are locked (SKIP LOCKED on PostgreSQL), so two workers never run the same step.
    """
    now = now or utc_now()
    # Acknowledged but not acted on in time: back to firing, due for the next step now.
    events: list[AlertEvent] = no_action.lapse_due(session, now)
    for alert in alerting_repository.due_escalations(session, now):
        chain = dict(alert.escalation)
        tiers = chain.get("tiers", [])
        notified: list[int] = list(chain.get("notified_focal_point_ids", []))
        if alert.escalation_step < len(tiers):
            tier = tiers[alert.escalation_step]
            recipients = [fp for fp in tier["focal_point_ids"] if fp not in notified]
            event = record_event(
                session,
                alert,
                AlertEventKind.TIER_ESCALATED,
                alert.level,
                alert.level,
                None,
                now,
                note=f"unacknowledged after {tier['after_minutes']} min: tier '{tier['name']}'",
                details={"tier": tier["name"], "focal_point_ids": recipients},
            )
            enqueue_to_focal_points(session, alert, event, recipients, Purpose.ESCALATION)
            chain["notified_focal_point_ids"] = notified + recipients
            alert.escalation_step += 1
        else:
            event = record_event(
                session,
                alert,
                AlertEventKind.REMINDED,
                alert.level,
                alert.level,
                None,
                now,
                note=f"still unacknowledged: reminder {alert.reminders_sent + 1}",
                details={"focal_point_ids": notified},
            )
            enqueue_to_focal_points(session, alert, event, notified, Purpose.REMINDER)
            alert.reminders_sent += 1
        alert.escalation = chain
        alert.next_escalation_at = next_escalation(alert, now)
        events.append(event)
    return events
