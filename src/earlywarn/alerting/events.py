"""What alerting hands to the stages after it: the events it records, and the sink they go to.

Alerting never imports notify. Its functions return an ``AlertUpdate`` per event they record;
the caller that owns the transaction hands them on in that same transaction, so an alert is
never visible without its outbox rows: the composition root (the pipeline) for a scoring run,
and for the alert routes the ``AlertEventSink`` that the app factory puts on ``app.state``
(notify implements it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.models import Alert, AlertEvent, AlertEventKind
from earlywarn.types import RiskLevel

SYSTEM = "system"


@dataclass(frozen=True)
class AlertUpdate:
    """One recorded event and the alert it changed.

    ``refired``: the alert asks for attention again (reopened, or risen above the level an
    acknowledgement covered), so whoever escalates unacknowledged alerts restarts its clock.
    """

    alert: Alert
    event: AlertEvent
    refired: bool = False


class FocalPointAccess(Protocol):
    def refusal_to_act(self, session: Session, alert: Alert, focal_point_id: int) -> str | None:
        """Why the focal point may not act on ``alert`` (acknowledge it); None when it may."""


class AlertEventSink(FocalPointAccess, Protocol):
    def hand_over(self, session: Session, updates: Sequence[AlertUpdate]) -> int:
        """Take the updates in the caller's transaction (never commits); returns how many
        messages they caused."""


def record_event(
    session: Session,
    alert: Alert,
    kind: AlertEventKind,
    from_level: RiskLevel | None,
    to_level: RiskLevel | None,
    score_run_id: int | None,
    now: datetime,
    *,
    actor: str = SYSTEM,
    note: str | None = None,
    details: dict[str, Any] | None = None,
) -> AlertEvent:
    """Append an event to the alert's audit trail (flushed, so it has its id)."""
    return repository.add_event(
        session,
        AlertEvent(
            alert_id=alert.id,
            kind=kind,
            at=now,
            actor=actor,
            from_level=from_level,
            to_level=to_level,
            score_run_id=score_run_id,
            note=note,
            details=details or {},
        ),
    )
