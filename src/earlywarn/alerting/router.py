from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, status

from earlywarn.alerting import repository, service
from earlywarn.alerting.models import Alert, AlertState
from earlywarn.alerting.schemas import AcknowledgeIn, AlertEventOut, AlertOut, AlertSummaryOut
from earlywarn.api.deps import Acknowledger, IdPath, Reader, SessionDep
from earlywarn.types import RiskLevel, Sphere

router = APIRouter(tags=["alerts"])


def _full(session: SessionDep, alert: Alert) -> AlertOut:
    events = [AlertEventOut.model_validate(e) for e in repository.events_for(session, alert.id)]
    return AlertOut(
        **AlertSummaryOut.model_validate(alert).model_dump(),
        evidence=alert.evidence,
        # JSON objects are unordered (PostgreSQL's JSONB re-sorts keys): restore the order of
        # the spheres, from national to multilateral, for readers.
        actions={sphere.value: alert.actions.get(sphere.value, []) for sphere in Sphere},
        events=events,
    )


@router.get("/alerts", response_model=list[AlertSummaryOut])
def list_alerts(
    session: SessionDep,
    _: Reader,
    state: Annotated[list[AlertState] | None, Query()] = None,
    country: str | None = None,
    level: RiskLevel | None = None,
    rule: str | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[Alert]:
    """Alerts, most recently changed first. ``open_only`` keeps firing and acknowledged ones."""
    states = [AlertState.FIRING, AlertState.ACKNOWLEDGED] if open_only else state
    return repository.list_alerts(
        session,
        states=states,
        country_iso3=country.upper() if country else None,
        level=level,
        rule_id=rule,
        limit=limit,
    )


@router.get("/alerts/{alert_id}", response_model=AlertOut)
def get_alert(session: SessionDep, _: Reader, alert_id: IdPath) -> AlertOut:
    alert = repository.get(session, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id}")
    return _full(session, alert)


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
def acknowledge_alert(
    session: SessionDep,
    principal: Acknowledger,
    alert_id: IdPath,
    body: Annotated[AcknowledgeIn | None, Body()] = None,
) -> AlertOut:
    """Record that a focal point has seen the alert and taken ownership of the response."""
    try:
        alert = service.acknowledge(
            session, alert_id, actor=principal.actor, note=body.note if body else None
        )
    except service.AlertNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except service.AlertStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return _full(session, alert)
