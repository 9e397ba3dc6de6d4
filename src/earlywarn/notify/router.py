"""Admin routes for focal points, their subscriptions and the delivery outbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from earlywarn.api.deps import MAX_ID, Admin, IdPath, OptionalIdQuery, SessionDep
from earlywarn.notify import service
from earlywarn.notify.models import OutboxStatus
from earlywarn.notify.schemas import (
    FocalPointCreate,
    FocalPointRead,
    FocalPointUpdate,
    OutboxMessageRead,
    SubscriptionCreate,
    SubscriptionRead,
)

router = APIRouter(tags=["notify"])

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


@router.post(
    "/focal-points",
    response_model=FocalPointRead,
    status_code=status.HTTP_201_CREATED,
    summary="Register a focal point",
)
def create_focal_point(
    body: FocalPointCreate, session: SessionDep, principal: Admin
) -> FocalPointRead:
    with _service_errors():
        return FocalPointRead.model_validate(service.create_focal_point(session, body))


@router.get("/focal-points", response_model=list[FocalPointRead], summary="List focal points")
def list_focal_points(
    session: SessionDep,
    principal: Admin,
    active: Annotated[
        bool | None, Query(description="Only active (true) or inactive (false) ones.")
    ] = None,
) -> list[FocalPointRead]:
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
    with _service_errors():
        return FocalPointRead.model_validate(service.get_focal_point(session, focal_point_id))


@router.patch(
    "/focal-points/{focal_point_id}",
    response_model=FocalPointRead,
    summary="Change a focal point",
    description="Fields left out are unchanged; null removes an e-mail address or webhook URL "
    "(refused while a subscription delivers to it). `active: false` deactivates.",
)
def update_focal_point(
    focal_point_id: IdPath, body: FocalPointUpdate, session: SessionDep, principal: Admin
) -> FocalPointRead:
    with _service_errors():
        return FocalPointRead.model_validate(
            service.update_focal_point(session, focal_point_id, body)
        )


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


@router.post(
    "/focal-points/{focal_point_id}/subscriptions",
    response_model=SubscriptionRead,
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a focal point to alerts",
    description="`country_iso3` null means every country. The channel must have a target on the "
    "focal point (email or webhook_url).",
)
def create_subscription(
    focal_point_id: IdPath, body: SubscriptionCreate, session: SessionDep, principal: Admin
) -> SubscriptionRead:
    with _service_errors():
        return SubscriptionRead.model_validate(
            service.create_subscription(session, focal_point_id, body)
        )


@router.get(
    "/focal-points/{focal_point_id}/subscriptions",
    response_model=list[SubscriptionRead],
    summary="List a focal point's subscriptions",
)
def list_subscriptions(
    focal_point_id: IdPath, session: SessionDep, principal: Admin
) -> list[SubscriptionRead]:
    with _service_errors():
        return [
            SubscriptionRead.model_validate(s)
            for s in service.list_subscriptions(session, focal_point_id)
        ]


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription",
    description="Only a subscription that has not produced outbox messages can be deleted.",
)
def delete_subscription(subscription_id: IdPath, session: SessionDep, principal: Admin) -> None:
    with _service_errors():
        service.delete_subscription(session, subscription_id)


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
    return [
        OutboxMessageRead.model_validate(m)
        for m in service.list_outbox(
            session,
            status=status_filter,
            alert_id=alert_id,
            focal_point_id=focal_point_id,
            limit=limit,
            offset=offset,
        )
    ]
