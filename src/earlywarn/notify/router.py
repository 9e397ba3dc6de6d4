"""Routes for focal points, their subscriptions and the delivery outbox, and an alert's
deliveries (``GET /alerts/{id}/deliveries``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from earlywarn.alerting import repository as alerting_repository
from earlywarn.api.deps import MAX_ID, IdPath, OptionalIdQuery, SessionDep
from earlywarn.auth.deps import Acknowledger, Admin
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import Principal
from earlywarn.framework.deps import ConfigDep
from earlywarn.notify import grouped, outbound, outbox, service
from earlywarn.notify.models import OutboxStatus
from earlywarn.notify.schemas import (
    BulkRetryIn,
    DeliveryRead,
    FocalPointCreate,
    FocalPointRead,
    FocalPointUpdate,
    FocalPointWithSecret,
    OutboxMessageRead,
    RetryIn,
    SubscriptionCreate,
    SubscriptionRead,
    WebhookSecretOut,
)
from earlywarn.types import Role

router = APIRouter(tags=["notify"])
# Served beside the alert routes (the app factory includes it right after them).
alert_router = APIRouter(tags=["alerts"])

_STATUS_FOR_ERROR: dict[type[service.NotifyError], int] = {
    service.NotFound: status.HTTP_404_NOT_FOUND,
    service.InvalidRequest: status.HTTP_422_UNPROCESSABLE_CONTENT,
    service.Conflict: status.HTTP_409_CONFLICT,
}


@contextmanager
def _service_errors() -> Iterator[None]:
    """Turn the notify service's expected refusals into 4xx responses carrying their reason."""
    try:
        yield
    except service.NotifyError as exc:
        code = _STATUS_FOR_ERROR.get(type(exc), status.HTTP_400_BAD_REQUEST)
        raise HTTPException(code, detail=str(exc)) from exc


def _check_webhook_destination(request: Request, url: str | None) -> None:
    if url is None:
        return
    try:
        outbound.check_registration(url, request.app.state.settings.webhook_allow_hosts)
    except outbound.UnsafeDestination as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc


def _with_secret(focal_point: FocalPoint, show_secret: bool) -> FocalPointWithSecret:
    return FocalPointWithSecret(
        **FocalPointRead.model_validate(focal_point).model_dump(),
        webhook_secret=focal_point.webhook_secret if show_secret else None,
    )


@router.post(
    "/focal-points",
    response_model=FocalPointWithSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Register a focal point",
    description="With a `webhook_url`, the response carries `webhook_secret`, the signing "
    "secret the receiver verifies messages with: shown here once, never again (rotate it to "
    "get a new one).",
)
def create_focal_point(
    body: FocalPointCreate, session: SessionDep, principal: Admin, request: Request
) -> FocalPointWithSecret:
    _check_webhook_destination(request, body.webhook_url)
    with _service_errors():
        focal_point = service.create_focal_point(session, body)
        return _with_secret(focal_point, focal_point.webhook_url is not None)


@router.get("/focal-points", response_model=list[FocalPointRead], summary="List focal points")
def list_focal_points(
    session: SessionDep,
    principal: Admin,
    active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false) ones.")
    ] = None,
) -> list[FocalPointRead]:
    """Every focal point with its channels and whether it is active."""
    return [
        FocalPointRead.model_validate(fp)
        for fp in service.list_focal_points(session, active=active)
    ]


@router.get(
    "/focal-points/{focal_point_id}", response_model=FocalPointRead, summary="Get a focal point"
)
def get_focal_point(
    focal_point_id: IdPath, session: SessionDep, principal: Admin
) -> FocalPointRead:
    """One focal point with its channels."""
    with _service_errors():
        return FocalPointRead.model_validate(service.get_focal_point(session, focal_point_id))


@router.patch(
    "/focal-points/{focal_point_id}",
    response_model=FocalPointWithSecret,
    summary="Change a focal point",
    description="Fields left out are unchanged; null removes an e-mail address or webhook URL "
    "(refused while a subscription delivers to it). `active: false` deactivates. Giving a "
    "focal point without a webhook its first `webhook_url` creates the endpoint with a new "
    "signing secret, returned in this response only (`webhook_secret`).",
)
def update_focal_point(
    focal_point_id: IdPath,
    body: FocalPointUpdate,
    session: SessionDep,
    principal: Admin,
    request: Request,
) -> FocalPointWithSecret:
    _check_webhook_destination(request, body.webhook_url)
    with _service_errors():
        focal_point, endpoint_created = service.update_focal_point(session, focal_point_id, body)
        return _with_secret(focal_point, endpoint_created)


@router.delete(
    "/focal-points/{focal_point_id}",
    response_model=FocalPointRead,
    summary="Deactivate a focal point",
    description="Stops every delivery to the focal point and revokes its API keys. The focal "
    "point, its subscriptions and its outbox history are kept; PATCH `active: true` restores "
    "deliveries (issue new keys).",
)
def deactivate_focal_point(
    focal_point_id: IdPath, session: SessionDep, principal: Admin
) -> FocalPointRead:
    with _service_errors():
        return FocalPointRead.model_validate(
            service.deactivate_focal_point(session, focal_point_id)
        )


def _own(principal: Principal, focal_point_id: int) -> None:
    service.check_owner(principal.focal_point_id, principal.role is Role.ADMIN, focal_point_id)


@router.post(
    "/focal-points/{focal_point_id}/subscriptions",
    response_model=SubscriptionRead,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a focal point to alerts",
    description="Criteria combine with AND; each left null matches everything: `country_iso3`, "
    "`region`, `min_level`, `rule_kinds`. A focal point matched by several subscriptions is "
    "notified once per channel. The channel must have a target on the focal point (email or "
    "webhook_url). Focal point keys manage their own focal point's subscriptions; "
    "administrators manage all. The alerts already open that the subscription matches are "
    "sent at once (one message per country, marked already open; never twice to the same "
    "focal point on the same channel); `open_alerts_queued` lists them.",
)
def create_subscription(
    focal_point_id: IdPath,
    body: SubscriptionCreate,
    session: SessionDep,
    principal: Acknowledger,
    config: ConfigDep,
) -> SubscriptionRead:
    with _service_errors():
        _own(principal, focal_point_id)
        subscription = service.create_subscription(session, focal_point_id, body)
        offered = grouped.offer_open_alerts(
            session, subscription, max_priority_actions=config.action_map.priority.max_actions
        )
        read = SubscriptionRead.model_validate(subscription)
        read.open_alerts_queued = sorted(
            {m.alert_id for m in offered if m.alert_id is not None}
            | {int(a["id"]) for m in offered for a in m.payload.get("alerts", [])}
        )
        return read


@router.get(
    "/focal-points/{focal_point_id}/subscriptions",
    response_model=list[SubscriptionRead],
    summary="List a focal point's subscriptions",
)
def list_subscriptions(
    focal_point_id: IdPath, session: SessionDep, principal: Acknowledger
) -> list[SubscriptionRead]:
    """The focal point's subscriptions: which countries, regions, levels and rules reach it.
    Another focal point's id answers 404 like a missing one."""
    with _service_errors():
        _own(principal, focal_point_id)
        return [
            SubscriptionRead.model_validate(s)
            for s in service.list_subscriptions(session, focal_point_id)
        ]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription",
    description="Only a subscription that has not produced outbox messages can be deleted. "
    "Focal point keys may delete their own focal point's subscriptions.",
)
def delete_subscription(
    subscription_id: IdPath, session: SessionDep, principal: Acknowledger
) -> None:
    with _service_errors():
        subscription = service.get_subscription(session, subscription_id)
        try:
            _own(principal, subscription.focal_point_id)
        except service.NotFound as exc:
            # Word for word the answer for a missing id: ids cannot be probed.
            raise service.NotFound(f"subscription {subscription_id} does not exist") from exc
        service.delete_subscription(session, subscription_id)


@router.post(
    "/focal-points/{focal_point_id}/webhook/rotate-secret",
    response_model=WebhookSecretOut,
    summary="Rotate the webhook signing secret",
    description="Returns the new Standard Webhooks secret (shown only here). The previous one "
    "keeps signing alongside it for `delivery.secret_rotation_overlap_hours`, so the receiver "
    "can switch without missing a message. Focal point keys rotate their own.",
)
def rotate_webhook_secret(
    focal_point_id: IdPath, session: SessionDep, principal: Acknowledger, config: ConfigDep
) -> WebhookSecretOut:
    with _service_errors():
        _own(principal, focal_point_id)
        overlap = timedelta(hours=config.alerting.delivery.secret_rotation_overlap_hours)
        focal_point = service.rotate_webhook_secret(session, focal_point_id, overlap=overlap)
        assert focal_point.webhook_secret is not None
        return WebhookSecretOut(
            focal_point_id=focal_point.id,
            webhook_secret=focal_point.webhook_secret,
            previous_secret_valid_until=focal_point.webhook_previous_expires_at,
        )


@router.post(
    "/focal-points/{focal_point_id}/webhook/enable",
    response_model=FocalPointRead,
    summary="Re-enable a disabled webhook endpoint",
    description="After the delivery worker disabled an endpoint (consecutive failures), the "
    "messages it held are delivered at once.",
)
def enable_webhook(focal_point_id: IdPath, session: SessionDep, principal: Admin) -> FocalPointRead:
    with _service_errors():
        return FocalPointRead.model_validate(service.enable_webhook(session, focal_point_id))


@router.post(
    "/focal-points/{focal_point_id}/email/enable",
    response_model=FocalPointRead,
    summary="Re-enable a disabled e-mail address",
    description="After the delivery worker disabled a focal point's e-mail address (consecutive "
    "SMTP refusals or failures), the messages it held are delivered at once. Messages that "
    "failed outright are re-queued with `POST /outbox/retry`.",
)
def enable_email(focal_point_id: IdPath, session: SessionDep, principal: Admin) -> FocalPointRead:
    with _service_errors():
        return FocalPointRead.model_validate(service.enable_email(session, focal_point_id))


@router.get(
    "/outbox",
    response_model=list[OutboxMessageRead],
    summary="List notifications owed or delivered",
)
def list_outbox(
    session: SessionDep,
    principal: Admin,
    status_filter: Annotated[OutboxStatus | None, Query(alias="status")] = None,
    alert_id: OptionalIdQuery = None,
    focal_point_id: OptionalIdQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[OutboxMessageRead]:
    """Notifications owed or delivered, newest first: channel, recipient, attempts, status and
    a short sanitised excerpt of the last error."""
    return [
        OutboxMessageRead.model_validate(m)
        for m in outbox.list_outbox(
            session,
            status=status_filter,
            alert_id=alert_id,
            focal_point_id=focal_point_id,
            limit=limit,
            offset=offset,
        )
    ]


@router.post(
    "/outbox/{message_id}/retry",
    response_model=list[OutboxMessageRead],
    summary="Re-queue a failed delivery",
    description="A message that failed (a permanent refusal, or out of attempts on a flaky "
    "endpoint) becomes pending again, due now, with a fresh attempt budget and the same "
    "webhook-id. The re-queue is recorded in the message's attempt log and the alert's audit "
    "trail with the reason. 409 unless the message failed.",
)
def retry_message(
    message_id: IdPath, body: RetryIn, session: SessionDep, principal: Admin
) -> list[OutboxMessageRead]:
    with _service_errors():
        messages = outbox.requeue_message(
            session, message_id, actor=principal.actor, reason=body.reason
        )
        return [OutboxMessageRead.model_validate(m) for m in messages]


@router.post(
    "/outbox/retry",
    response_model=list[OutboxMessageRead],
    summary="Re-queue the failed deliveries of an alert or a focal point",
    description="Every failed message of `alert_id` and/or `focal_point_id` (at least one; "
    "both combine with AND) is re-queued as `POST /outbox/{id}/retry` does. Returns the "
    "messages re-queued (none is not an error).",
)
def retry_messages(
    body: BulkRetryIn, session: SessionDep, principal: Admin
) -> list[OutboxMessageRead]:
    with _service_errors():
        messages = outbox.requeue_failed(
            session,
            alert_id=body.alert_id,
            focal_point_id=body.focal_point_id,
            actor=principal.actor,
            reason=body.reason,
        )
        return [OutboxMessageRead.model_validate(m) for m in messages]


@alert_router.get("/alerts/{alert_id}/deliveries", response_model=list[DeliveryRead])
def alert_deliveries(session: SessionDep, _: Admin, alert_id: IdPath) -> list[DeliveryRead]:
    """Who was told what, and when: every outbox message of the alert with every attempt."""
    if alerting_repository.get(session, alert_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert {alert_id}")
    return outbox.deliveries_for_alert(session, alert_id)
