"""The one-click acknowledge link of an alert e-mail (``notify.ack_links``).

``GET /ack/{token}`` shows the alert and a confirmation form, and changes nothing;
``POST /ack/{token}`` acknowledges as the focal point the link was sent to, through the same
lifecycle call and access rule as the alert page and the API. The signed token stands in for
both the sign-in and the CSRF token: a page on another site cannot know it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from earlywarn.alerting import lifecycle
from earlywarn.alerting import repository as alerting_repository
from earlywarn.alerting.events import AlertEventSink
from earlywarn.alerting.lifecycle import AlertAccessError, AlertNotFoundError, AlertStateError
from earlywarn.alerting.models import AlertState
from earlywarn.api.deps import SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.notify import service as notify_service
from earlywarn.notify.ack_links import AckGrant, AckLinkError, AckLinkExpired, AckLinks
from earlywarn.web.alert_pages import NOTE_MAX_CHARS
from earlywarn.web.deps import optional_user
from earlywarn.web.templating import render
from earlywarn.web.worldmap import LEVEL_COLOURS

router = APIRouter(include_in_schema=False)

# The link is a credential: it must not leak through a Referer header or a shared cache.
_PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
TOKEN_MAX_CHARS = 512
MaybeUser = Annotated[WebUser | None, Depends(optional_user)]


def _links(request: Request) -> AckLinks:
    links: AckLinks = request.app.state.ack_links
    return links


def _grant(request: Request, token: str) -> AckGrant:
    if len(token) > TOKEN_MAX_CHARS:
        raise AckLinkError("This acknowledge link is not valid.")
    return _links(request).read(token)


def actor_for(focal_point_id: int, name: str) -> str:
    return f"focal_point:{focal_point_id}:{name} (e-mail link)"


def _page(
    request: Request,
    session: Session,
    user: WebUser | None,
    token: str,
    *,
    status_code: int = 200,
    error: str | None = None,
) -> Response:
    grant: AckGrant | None = None
    try:
        grant = _grant(request, token)
    except AckLinkError as exc:
        status_code, error = (410 if isinstance(exc, AckLinkExpired) else 400), str(exc)
    alert = alerting_repository.get(session, grant.alert_id) if grant else None
    if grant is not None and alert is None:
        status_code, error = 404, f"Alert {grant.alert_id} no longer exists."
    focal_point = None
    if grant is not None and alert is not None:
        try:
            focal_point = notify_service.get_focal_point(session, grant.focal_point_id)
        except notify_service.NotFound:
            status_code, error = 404, "The focal point this link was sent to no longer exists."
    if focal_point is not None and alert is not None and error is None:
        # Said before the click, by the rule the POST applies (notify's).
        sink: AlertEventSink = request.app.state.alert_event_sink
        refusal = sink.refusal_to_act(session, alert, focal_point.id)
        if refusal is not None and alert.state is AlertState.FIRING:
            status_code, error = 403, refusal
    response = render(
        request,
        "ack_link.html",
        user,
        status_code=status_code,
        token=token,
        alert=alert,
        focal_point=focal_point,
        country=alerting_repository.country_names(session).get(alert.country_iso3 or "")
        if alert
        else None,
        may_acknowledge=alert is not None and alert.state is AlertState.FIRING and not error,
        error=error,
        colours=LEVEL_COLOURS,
        max_age=_links(request).max_age_text,
    )
    response.headers.update(_PRIVATE_HEADERS)
    return response


@router.get("/ack/{token}")
def confirm(request: Request, session: SessionDep, user: MaybeUser, token: str) -> Response:
    return _page(request, session, user, token)


@router.post("/ack/{token}")
def acknowledge(
    request: Request,
    session: SessionDep,
    user: MaybeUser,
    token: str,
    note: Annotated[str, Form(max_length=NOTE_MAX_CHARS)] = "",
) -> Response:
    try:
        grant = _grant(request, token)
        focal_point = notify_service.get_focal_point(session, grant.focal_point_id)
    except (AckLinkError, notify_service.NotFound):
        return _page(request, session, user, token)
    sink: AlertEventSink = request.app.state.alert_event_sink
    try:
        update = lifecycle.acknowledge(
            session,
            grant.alert_id,
            actor=actor_for(focal_point.id, focal_point.name),
            note=note.strip() or None,
            administrator=False,
            focal_point_id=focal_point.id,
            access=sink,
        )
    except (AlertNotFoundError, AlertStateError, AlertAccessError) as exc:
        session.rollback()
        status_code = (
            404
            if isinstance(exc, AlertNotFoundError)
            else 403
            if isinstance(exc, AlertAccessError)
            else 409
        )
        return _page(request, session, user, token, status_code=status_code, error=str(exc))
    sink.hand_over(session, [update])
    response = RedirectResponse(f"/ack/{token}", status_code=303)
    response.headers.update(_PRIVATE_HEADERS)
    return response
