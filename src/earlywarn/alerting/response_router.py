"""Early action on an alert, and the warning-response report (docs/early-action.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from earlywarn.alerting import repository, response_report, responses
from earlywarn.alerting.response_schemas import (
    ActionIn,
    ActionOut,
    ActionPatch,
    WarningResponseReport,
)
from earlywarn.alerting.router import EventSink
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.deps import Acknowledger, Reader
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep
from earlywarn.types import Role

router = APIRouter(tags=["alerts"])

_ERRORS: tuple[tuple[type[Exception], int], ...] = (
    (responses.ActionNotFoundError, status.HTTP_404_NOT_FOUND),
    (responses.ActionAccessError, status.HTTP_403_FORBIDDEN),
    (responses.ActionInputError, status.HTTP_422_UNPROCESSABLE_CONTENT),
)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except tuple(error for error, _ in _ERRORS) as exc:
        code = next(code for error, code in _ERRORS if isinstance(exc, error))
        raise HTTPException(code, detail=str(exc)) from exc


@router.get("/alerts/{alert_id}/actions", response_model=list[ActionOut])
def list_actions(session: SessionDep, _: Reader, alert_id: IdPath) -> list[ActionOut]:
    """What has been done about the alert: every recorded action, oldest first."""
    if repository.get(session, alert_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id}")
    return [ActionOut.model_validate(a) for a in responses.actions_for(session, alert_id)]


@router.post(
    "/alerts/{alert_id}/actions", response_model=ActionOut, status_code=status.HTTP_201_CREATED
)
def record_action(
    session: SessionDep,
    principal: Acknowledger,
    config: ConfigDep,
    sink: EventSink,
    alert_id: IdPath,
    body: ActionIn,
) -> ActionOut:
    """Record an action: one of the alert's recommended rows (``catalogue_code``, e.g. from
    ``priority_actions``) or free text with its sphere; who acts, status, due date, outcome.
    A focal point key may act on the alerts it may acknowledge; administrators on any."""
    with _errors():
        action = responses.record_action(
            session,
            config,
            alert_id,
            body,
            actor=principal.actor,
            administrator=principal.role is Role.ADMIN,
            focal_point_id=principal.focal_point_id,
            refusal=sink.refusal_to_act,
        )
    return ActionOut.model_validate(action)


@router.patch("/alerts/{alert_id}/actions/{action_id}", response_model=ActionOut)
def update_action(
    session: SessionDep,
    principal: Acknowledger,
    sink: EventSink,
    alert_id: IdPath,
    action_id: IdPath,
    body: ActionPatch,
) -> ActionOut:
    """Change an action's status (planned, under_way, done, dropped with a
    ``dropped_reason``), who acts, its due date or outcome note; each change is audited."""
    with _errors():
        action = responses.update_action(
            session,
            alert_id,
            action_id,
            body,
            actor=principal.actor,
            administrator=principal.role is Role.ADMIN,
            focal_point_id=principal.focal_point_id,
            refusal=sink.refusal_to_act,
        )
    return ActionOut.model_validate(action)


@router.get(
    "/reports/warning-response",
    response_model=WarningResponseReport,
    responses={200: {"content": {"text/csv": {}}}},
    tags=["reports"],
)
def warning_response(
    session: SessionDep,
    _: Reader,
    config: ConfigDep,
    open_days: Annotated[int | None, Query(ge=1, le=3650)] = None,
    opened_from: datetime | None = None,
    opened_to: datetime | None = None,
    format: Literal["json", "csv"] = "json",
) -> WarningResponseReport | Response:
    """Per country alert, hours from opening to acknowledgement, to the first recorded action
    and to resolution; medians overall, by region and by level; and the open alerts older
    than ``open_days`` (default ``early_action.report_open_days``) with no recorded action.
    ``format=csv`` gives one row per alert."""
    report = response_report.build_report(
        session,
        now=utc_now(),
        open_days=open_days or config.alerting.early_action.report_open_days,
        opened_from=opened_from,
        opened_to=opened_to,
    )
    if format == "csv":
        return Response(
            response_report.report_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="warning-response.csv"'},
        )
    return report
