"""Recording early action on the alert page: a new action, and later changes to it.

The forms go through the API's own service (``alerting.responses``): the same access rule
(a focal point on its alerts, an administrator on any), the same validation and the same
audit events. ``POST /alerts/{id}/actions`` is also the API's JSON route; as with the
acknowledge form, only a browser's form post reaches these handlers (``BrowserPageRoute``).
HTML forms cannot send PATCH, so a change posts to ``/alerts/{id}/actions/{action_id}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from earlywarn.alerting import responses
from earlywarn.alerting.events import AlertEventSink
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.framework.deps import ConfigDep
from earlywarn.web.action_forms import FormError, RecordForm, action_change, new_action
from earlywarn.web.alert_pages import alert_or_404, alert_page_response
from earlywarn.web.country_pages import BrowserPageRoute
from earlywarn.web.deps import FormUser, PageRefused

pages = APIRouter(include_in_schema=False, route_class=BrowserPageRoute)

# Generous bounds on what a form may post; the service's schema holds the real limits.
FormText = Annotated[str, Form(max_length=8000)]


def _may_record(user: WebUser) -> None:
    if not user.can("acknowledge"):
        raise PageRefused(f"Your role ({user.role.value}) may not record actions on alerts.")


def _refused(
    request: Request,
    session: Session,
    user: WebUser,
    alert_id: int,
    exc: Exception,
    *,
    error_at: str,
    record: RecordForm | None = None,
) -> Response:
    """The alert page again, the reason beside the form, what was typed kept; nothing saved."""
    session.rollback()
    if isinstance(exc, responses.ActionNotFoundError):
        raise PageRefused(str(exc), status_code=404) from exc
    status_code = 403 if isinstance(exc, responses.ActionAccessError) else 422
    return alert_page_response(
        request, session, user, alert_or_404(session, alert_id), status_code=status_code,
        error=str(exc), error_at=error_at, record=record,
    )  # fmt: skip


_SERVICE_ERRORS = (
    FormError,
    responses.ActionNotFoundError,
    responses.ActionAccessError,
    responses.ActionInputError,
)


@pages.post("/alerts/{alert_id}/actions")
def record_action(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    alert_id: IdPath,
    catalogue_code: FormText = "",
    text: FormText = "",
    sphere: FormText = "",
    who_acts: FormText = "",
    status: FormText = "",
    dropped_reason: FormText = "",
    due_date: FormText = "",
    outcome_note: FormText = "",
) -> Response:
    _may_record(user)
    form = RecordForm(
        code=catalogue_code, text=text, sphere=sphere, who_acts=who_acts, status=status,
        dropped_reason=dropped_reason, due_date=due_date, outcome_note=outcome_note,
    )  # fmt: skip
    sink: AlertEventSink = request.app.state.alert_event_sink
    try:
        action = responses.record_action(
            session,
            config,
            alert_id,
            new_action(form),
            actor=user.actor,
            administrator=user.can("admin"),
            focal_point_id=user.focal_point_id,
            refusal=sink.refusal_to_act,
        )
    except _SERVICE_ERRORS as exc:
        return _refused(request, session, user, alert_id, exc, error_at="record", record=form)
    return RedirectResponse(f"/alerts/{alert_id}#action-{action.id}", status_code=303)


@pages.post("/alerts/{alert_id}/actions/{action_id}")
def update_action(
    request: Request,
    session: SessionDep,
    user: FormUser,
    alert_id: IdPath,
    action_id: IdPath,
    who_acts: FormText = "",
    status: FormText = "",
    dropped_reason: FormText = "",
    due_date: FormText = "",
    outcome_note: FormText = "",
) -> Response:
    _may_record(user)
    form = RecordForm(
        who_acts=who_acts, status=status, dropped_reason=dropped_reason, due_date=due_date,
        outcome_note=outcome_note,
    )  # fmt: skip
    sink: AlertEventSink = request.app.state.alert_event_sink
    try:
        responses.update_action(
            session,
            alert_id,
            action_id,
            action_change(form),
            actor=user.actor,
            administrator=user.can("admin"),
            focal_point_id=user.focal_point_id,
            refusal=sink.refusal_to_act,
        )
    except _SERVICE_ERRORS as exc:
        return _refused(request, session, user, alert_id, exc, error_at=f"action-{action_id}")
    return RedirectResponse(f"/alerts/{alert_id}#action-{action_id}", status_code=303)
