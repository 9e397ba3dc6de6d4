"""The CAP 1.2 routes: one alert's newest message, the feed for key holders, and the optional
public feed (docs/cap.md). Registered before the alert routes so ``/alerts/feed.cap`` is not
read as an alert id."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response, status

from earlywarn.alerting import cap, cap_repository, repository
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep

router = APIRouter(tags=["alerts"])
# Served without a key, so the app factory includes it only when cap.public_feed is on.
public_router = APIRouter(tags=["alerts"])

CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"


def _publisher(request: Request, *, public: bool = False) -> cap.Publisher:
    base_url = request.app.state.settings.public_base_url
    host = urlsplit(base_url).hostname or "localhost"
    return cap.Publisher(sender=f"earlywarn@{host}", base_url=base_url, public=public)


def _feed(session: SessionDep, config: ConfigDep, publisher: cap.Publisher) -> Response:
    now = utc_now()
    since = now - timedelta(days=config.alerting.cap.resolved_in_feed_days)
    alerts = cap_repository.feed_alerts(session, since)
    events = cap_repository.cap_events(session, [a.id for a in alerts])
    body = cap.cap_feed(
        [(a, events.get(a.id, [])) for a in alerts],
        publisher,
        names=repository.country_names(session),
        now=now,
    )
    return Response(body, media_type=ATOM_MEDIA_TYPE)


@router.get(
    "/alerts/feed.cap",
    summary="CAP 1.2 feed (Atom) of the alerts",
    response_class=Response,
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
def cap_feed(session: SessionDep, _: Reader, config: ConfigDep, request: Request) -> Response:
    """Each open country alert's newest OASIS CAP 1.2 message (Alert, or Update referencing
    the earlier ones), and the Cancel of alerts resolved in the last
    ``cap.resolved_in_feed_days``, for emergency-alert systems that consume CAP."""
    return _feed(session, config, _publisher(request))


@public_router.get(
    "/public/alerts/feed.cap",
    summary="Public CAP 1.2 feed (served only when cap.public_feed is on)",
    response_class=Response,
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}},
)
def public_cap_feed(session: SessionDep, config: ConfigDep, request: Request) -> Response:
    """The same feed without an API key, with the public fields only (headline, severity,
    area, link to the alert); the route exists only when ``cap.public_feed`` is true."""
    return _feed(session, config, _publisher(request, public=True))


@router.get(
    "/alerts/{alert_id}/cap",
    summary="An alert's newest CAP 1.2 message",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}}},
)
def get_alert_cap(session: SessionDep, _: Reader, alert_id: IdPath, request: Request) -> Response:
    alert = repository.get(session, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id}")
    events = cap_repository.cap_events(session, [alert.id]).get(alert.id, [])
    names = repository.country_names(session)
    message = cap.latest_message(
        alert, events, _publisher(request), names.get(alert.country_iso3 or "")
    )
    if message is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            detail=f"alert {alert_id} has no CAP message (operational alerts have none)",
        )
    return Response(cap.cap_document(message), media_type=CAP_MEDIA_TYPE)
