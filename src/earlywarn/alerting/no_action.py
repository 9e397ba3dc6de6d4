"""Acknowledged but not acted on: an alert with no recorded action
``escalation.escalate_without_action_days`` after its acknowledgement escalates like an
unacknowledged one (docs/early-action.md). The number of days is frozen onto the alert's
escalation chain when it opens, with the tiers; ``escalate_due`` calls ``lapse_due`` first, so
the lapsed alert climbs the chain (next tier, then reminders) in the same pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind, AlertState
from earlywarn.alerting.response_models import AlertAction

CHAIN_KEY = "escalate_without_action_days"


def _candidates(session: Session) -> list[Alert]:
    query = select(Alert).where(
        Alert.state == AlertState.ACKNOWLEDGED,
        Alert.operational.is_(False),
        ~exists().where(AlertAction.alert_id == Alert.id),
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def lapse_due(session: Session, now: datetime) -> list[AlertEvent]:
    """Return to ``firing`` every acknowledged alert whose chain sets a no-action limit that
    has passed without a recorded action; each gets an ``action_overdue`` event and is due
    for its next escalation step now."""
    events: list[AlertEvent] = []
    for alert in _candidates(session):
        days = (alert.escalation or {}).get(CHAIN_KEY)
        if days is None or alert.acknowledged_at is None:
            continue
        if alert.acknowledged_at + timedelta(days=float(days)) > now:
            continue
        by, at = alert.acknowledged_by, alert.acknowledged_at
        alert.state = AlertState.FIRING
        alert.acknowledged_at = None
        alert.acknowledged_by = None
        alert.updated_at = now
        alert.next_escalation_at = now
        events.append(
            repository.add_event(
                session,
                AlertEvent(
                    alert_id=alert.id,
                    kind=AlertEventKind.ACTION_OVERDUE,
                    at=now,
                    actor="system",
                    from_level=alert.level,
                    to_level=alert.level,
                    note=(
                        f"acknowledged by {by} on {at:%Y-%m-%d %H:%M} UTC, no action recorded "
                        f"within {float(days):g} days: escalating as unacknowledged"
                    ),
                    details={
                        "acknowledged_by": by,
                        "acknowledged_at": at.isoformat(),
                        "days": float(days),
                    },  # fmt: skip
                ),
            )
        )
    return events
