"""Queries of the CAP feeds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from earlywarn.alerting.cap import MSG_TYPES
from earlywarn.alerting.models import Alert, AlertEvent, AlertState


def feed_alerts(session: Session, resolved_since: datetime) -> list[Alert]:
    """Country alerts that are open, or resolved since ``resolved_since``, newest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.operational.is_(False),
                or_(Alert.state != AlertState.RESOLVED, Alert.resolved_at >= resolved_since),
            )
            .order_by(Alert.updated_at.desc(), Alert.id.desc())
        )
    )


def cap_events(session: Session, alert_ids: Sequence[int]) -> dict[int, list[AlertEvent]]:
    """The events that make CAP messages, per alert, oldest first."""
    found: dict[int, list[AlertEvent]] = defaultdict(list)
    if not alert_ids:
        return found
    query = (
        select(AlertEvent)
        .where(AlertEvent.alert_id.in_(alert_ids), AlertEvent.kind.in_(list(MSG_TYPES)))
        .order_by(AlertEvent.at, AlertEvent.id)
    )
    for event in session.scalars(query):
        found[event.alert_id].append(event)
    return found
