"""What people do to an alert: acknowledge, resolve by hand, reopen.

Each function returns the ``AlertUpdate`` it recorded; the caller hands it to notify (the
``AlertEventSink`` on ``app.state`` for the alert routes) in the same transaction. Nothing
here commits.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from earlywarn.alerting import repository
from earlywarn.alerting.events import AlertUpdate, FocalPointAccess, record_event
from earlywarn.alerting.models import Alert, AlertEventKind, AlertState
from earlywarn.db import utc_now


class AlertNotFoundError(LookupError):
    pass


class AlertStateError(ValueError):
    pass


class AlertAccessError(PermissionError):
    """The caller may not act on this alert; the message says why."""


def _get_for_update(session: Session, alert_id: int) -> Alert:
    alert = repository.get(session, alert_id, for_update=True)
    if alert is None:
        raise AlertNotFoundError(f"no alert {alert_id}")
    return alert


def acknowledge(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    note: str | None,
    administrator: bool = True,
    focal_point_id: int | None = None,
    access: FocalPointAccess | None = None,
) -> AlertUpdate:
    """Administrators may acknowledge any alert; anyone else acts for ``focal_point_id``,
    which ``access`` must find concerned by the alert (notify knows who was told)."""
    alert = _get_for_update(session, alert_id)
    if not administrator:
        if focal_point_id is None:
            raise AlertAccessError(
                "this key is not linked to a focal point, so it cannot acknowledge alerts"
            )
        if access is None:
            raise TypeError("a focal point's acknowledgement needs an access check")
        refusal = access.refusal_to_act(session, alert, focal_point_id)
        if refusal is not None:
            raise AlertAccessError(refusal)
    if alert.state is AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is resolved; there is nothing to acknowledge")
    if alert.state is AlertState.ACKNOWLEDGED:
        raise AlertStateError(
            f"alert {alert_id} was already acknowledged by {alert.acknowledged_by} "
            f"at {alert.acknowledged_at:%Y-%m-%d %H:%M} UTC"
        )
    now = utc_now()
    alert.state = AlertState.ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by = actor
    alert.updated_at = now
    event = record_event(
        session, alert, AlertEventKind.ACKNOWLEDGED, alert.level, alert.level, None, now,
        actor=actor, note=note,
        # Who acted is not told about their own acknowledgement (notify reads this).
        details={"focal_point_id": focal_point_id} if focal_point_id is not None else None,
    )  # fmt: skip
    return AlertUpdate(alert, event)


def resolve(session: Session, alert_id: int, *, actor: str, reason: str) -> AlertUpdate:
    """An administrator closes an alert by hand; the reason is kept in the audit trail."""
    alert = _get_for_update(session, alert_id)
    if alert.state is AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is already resolved")
    now = utc_now()
    alert.state = AlertState.RESOLVED
    alert.resolved_at = now
    alert.resolved_by = actor
    alert.resolution_note = reason
    alert.updated_at = now
    state = repository.rule_state(session, alert.dedup_key)
    if state is not None:
        # A manual resolution restarts the streak: the rule must hold for_runs again.
        state.enter_streak = 0
        state.last_alert_id = alert.id
        state.last_resolved_on = now.date()
    event = record_event(
        session, alert, AlertEventKind.RESOLVED, alert.level, alert.level, None, now,
        actor=actor, note=reason,
    )  # fmt: skip
    return AlertUpdate(alert, event)


def reopen(session: Session, alert_id: int, *, actor: str, reason: str) -> AlertUpdate:
    """An administrator reopens a resolved alert (refused while another is open for its key)."""
    alert = _get_for_update(session, alert_id)
    if alert.state is not AlertState.RESOLVED:
        raise AlertStateError(f"alert {alert_id} is {alert.state.value}, not resolved")
    other = repository.open_alert_for_key(session, alert.dedup_key)
    if other is not None:
        raise AlertStateError(
            f"alert {other.id} is already open for {alert.dedup_key}; acknowledge that one"
        )
    now = utc_now()
    alert.state = AlertState.FIRING
    alert.resolved_at = None
    alert.resolved_by = None
    alert.resolution_note = None
    alert.acknowledged_at = None
    alert.acknowledged_by = None
    alert.updated_at = now
    session.flush()
    event = record_event(
        session, alert, AlertEventKind.REOPENED, alert.level, alert.level, None, now,
        actor=actor, note=reason,
    )  # fmt: skip
    return AlertUpdate(alert, event, refired=True)
