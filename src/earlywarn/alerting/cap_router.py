"""The CAP 1.2 routes: one alert's newest message, the feed for key holders, and the optional
public feed (docs/cap.md). Registered before the alert routes so ``/alerts/feed.cap`` is not
read as an alert id."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from earlywarn.alerting import cap, cap_repository, cap_tokens, repository
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.deps import Admin, Reader
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


class FeedTokenIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Regional situation room CAP reader"}]}
    )

    name: str = Field(min_length=1, max_length=200, description="Who reads the feed with it")


class FeedTokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    last_used_at: datetime | None


class FeedTokenCreated(FeedTokenOut):
    token: str = Field(description="Shown once: the feed is at feed_url")
    feed_url: str


def _token_out(token: cap_tokens.CapFeedToken) -> FeedTokenOut:
    return FeedTokenOut(
        id=token.id, name=token.name, created_at=token.created_at, created_by=token.created_by,
        revoked_at=token.revoked_at, last_used_at=token.last_used_at,
    )  # fmt: skip


@router.post("/cap-feed-tokens", response_model=FeedTokenCreated, status_code=201)
def create_feed_token(
    session: SessionDep, principal: Admin, body: FeedTokenIn, request: Request
) -> FeedTokenCreated:
    """A token for one consumer that cannot send an API-key header: the restricted CAP feed at
    ``feed_url``. The token is shown only in this answer."""
    token, raw = cap_tokens.create_token(session, name=body.name, actor=principal.actor)
    base = request.app.state.settings.public_base_url.rstrip("/")
    return FeedTokenCreated(
        **_token_out(token).model_dump(), token=raw, feed_url=f"{base}/feeds/cap/{raw}"
    )


@router.get("/cap-feed-tokens", response_model=list[FeedTokenOut])
def list_feed_tokens(session: SessionDep, _: Admin) -> list[FeedTokenOut]:
    """Feed tokens issued for CAP readers that cannot send an API-key header (the token itself
    is never shown again; only its label and dates)."""
    return [_token_out(t) for t in cap_tokens.list_tokens(session)]


@router.delete("/cap-feed-tokens/{token_id}", response_model=FeedTokenOut)
def revoke_feed_token(session: SessionDep, _: Admin, token_id: IdPath) -> FeedTokenOut:
    """Revokes a feed token at once: its feed URL answers 404 from now on."""
    token = cap_tokens.revoke(session, token_id)
    if token is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no feed token {token_id}")
    return _token_out(token)


@router.get(
    "/feeds/cap/{token}",
    summary="The CAP 1.2 feed for a feed-token holder (no header needed)",
    response_class=Response,
    responses={200: {"content": {ATOM_MEDIA_TYPE: {}}}, 404: {"description": "Unknown token"}},
)
def token_cap_feed(
    session: SessionDep, config: ConfigDep, request: Request, token: str
) -> Response:
    """The restricted feed of ``/alerts/feed.cap``, authorised by the token in the URL."""
    if len(token) > 200 or cap_tokens.valid_token(session, token) is None:
        # 404, not 401: the URL is the credential, and an unknown one names no resource.
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail="unknown or revoked feed token")
    return _feed(session, config, _publisher(request))


@router.get(
    "/alerts/{alert_id}/cap",
    summary="An alert's newest CAP 1.2 message",
    response_class=Response,
    responses={200: {"content": {CAP_MEDIA_TYPE: {}}}},
)
def get_alert_cap(session: SessionDep, _: Reader, alert_id: IdPath, request: Request) -> Response:
    """The alert's newest CAP 1.2 message (Alert, Update or Cancel) as XML, for
    emergency-information systems that read CAP."""
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
