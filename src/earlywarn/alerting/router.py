from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request, status

from earlywarn.alerting import lifecycle, repository
from earlywarn.alerting.events import AlertEventSink
from earlywarn.alerting.models import Alert, AlertState
from earlywarn.alerting.schemas import (
    AcknowledgeIn,
    AlertEventOut,
    AlertOut,
    AlertSummaryOut,
    ReasonIn,
)
from earlywarn.api.deps import MAX_ID, IdPath, SessionDep
from earlywarn.auth.deps import Acknowledger, Admin, Reader
from earlywarn.types import RiskLevel, Role, Sphere

router = APIRouter(tags=["alerts"])


def _full(session: SessionDep, alert: Alert) -> AlertOut:
    events = [AlertEventOut.model_validate(e) for e in repository.events_for(session, alert.id)]
    return AlertOut(
        **AlertSummaryOut.model_validate(alert).model_dump(),
        priority_actions=alert.priority_actions or [],
        evidence=alert.evidence,
        # JSON objects are unordered (PostgreSQL's JSONB re-sorts keys): restore the order of
        # the spheres, from national to multilateral, for readers.
        actions={sphere.value: alert.actions.get(sphere.value, []) for sphere in Sphere},
        escalation=alert.escalation,
        events=events,
    )


def _get(session: SessionDep, alert_id: int) -> Alert:
    alert = repository.get(session, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id}")
    return alert


# The lifecycle errors of alerting.lifecycle and the status each answers with.
_TRANSITION_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (lifecycle.AlertNotFoundError, status.HTTP_404_NOT_FOUND),
    (lifecycle.AlertAccessError, status.HTTP_403_FORBIDDEN),
    (lifecycle.AlertStateError, status.HTTP_409_CONFLICT),
)


def _event_sink(request: Request) -> AlertEventSink:
    """Where the events of a person's action go (notify), set on app.state by the factory."""
    sink: AlertEventSink = request.app.state.alert_event_sink
    return sink


EventSink = Annotated[AlertEventSink, Depends(_event_sink)]


@contextmanager
def _transition_errors() -> Iterator[None]:
    """A refused lifecycle transition becomes a 4xx whose detail is the service's reason."""
    try:
        yield
    except tuple(error for error, _ in _TRANSITION_ERRORS) as exc:
        code = next(code for error, code in _TRANSITION_ERRORS if isinstance(exc, error))
        raise HTTPException(code, detail=str(exc)) from exc


@router.get("/alerts", response_model=list[AlertSummaryOut])
def list_alerts(
    session: SessionDep,
    _: Reader,
    state: Annotated[list[AlertState] | None, Query()] = None,
    country: str | None = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    level: RiskLevel | None = None,
    rule: str | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[Alert]:
    """Alerts, most recently changed first. ``open_only`` keeps firing and acknowledged ones;
    filters combine (AND)."""
    states = [AlertState.FIRING, AlertState.ACKNOWLEDGED] if open_only else state
    return repository.list_alerts(
        session,
        states=states,
        country_iso3=country.upper() if country else None,
        level=level,
        rule_id=rule,
        limit=limit,
        region=region,
        offset=offset,
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(session: SessionDep, _: Reader, alert_id: IdPath) -> AlertOut:
    """One alert with its evidence, ranked priority actions, recommended actions, audit trail
    and deliveries."""
    return _full(session, _get(session, alert_id))


@router.get("/alerts/{alert_id}/events", response_model=list[AlertEventOut])
def alert_events(session: SessionDep, _: Reader, alert_id: IdPath) -> list[AlertEventOut]:
    """The audit trail: every transition (opened, acknowledged, escalated to a tier, reminded,
    resolved, reopened...) with its actor, oldest first. Append-only."""
    _get(session, alert_id)
    return [AlertEventOut.model_validate(e) for e in repository.events_for(session, alert_id)]


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(
    session: SessionDep,
    principal: Acknowledger,
    sink: EventSink,
    alert_id: IdPath,
    body: Annotated[AcknowledgeIn | None, Body()] = None,
) -> AlertOut:
    """Record that a focal point has seen the alert and taken ownership of the response; the
    escalation chain stops. A focal point key may acknowledge only the alerts it was told
    about, that its subscriptions match, or whose escalation chain names it (403 otherwise);
    administrators may acknowledge any."""
    with _transition_errors():
        update = lifecycle.acknowledge(
            session,
            alert_id,
            actor=principal.actor,
            note=body.note if body else None,
            administrator=principal.role is Role.ADMIN,
            focal_point_id=principal.focal_point_id,
            access=sink,
        )
    sink.hand_over(session, [update])
    return _full(session, update.alert)


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(
    session: SessionDep, principal: Admin, sink: EventSink, alert_id: IdPath, body: ReasonIn
) -> AlertOut:
    """Close an alert by hand (administrators), with the reason kept in the audit trail."""
    with _transition_errors():
        update = lifecycle.resolve(session, alert_id, actor=principal.actor, reason=body.reason)
    sink.hand_over(session, [update])
    return _full(session, update.alert)


@router.post("/alerts/{alert_id}/reopen", response_model=AlertOut)
def reopen_alert(
    session: SessionDep, principal: Admin, sink: EventSink, alert_id: IdPath, body: ReasonIn
) -> AlertOut:
    """Reopen a resolved alert (administrators); refused while another is open for its key."""
    with _transition_errors():
        update = lifecycle.reopen(session, alert_id, actor=principal.actor, reason=body.reason)
    sink.hand_over(session, [update])
    return _full(session, update.alert)
