"""Administrators manage focal points: who is told about alerts, where (their e-mail address
and webhook endpoint) and about what (their subscriptions).

Every change goes through ``notify.service``, the same calls and checks as the API's
``/focal-points`` routes; the request's transaction commits it. A webhook's signing secret is
shown once, on the page that answers the form that created the endpoint or rotated its secret.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from earlywarn.alerting import repository as alerting_repository
from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.auth.models import FocalPoint
from earlywarn.framework.config_schemas import RULE_KINDS
from earlywarn.framework.deps import ConfigDep
from earlywarn.notify import grouped, outbound
from earlywarn.notify import repository as notify_repository
from earlywarn.notify import service as notify_service
from earlywarn.notify.models import Channel
from earlywarn.notify.schemas import FocalPointCreate, FocalPointUpdate, SubscriptionCreate
from earlywarn.types import RiskLevel
from earlywarn.web.deps import FormUser, PageRefused, WebAdmin
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)

# The text fields of the focal point form; an empty one means "none" (null in the API).
FOCAL_POINT_FIELDS = ("name", "organisation", "email", "webhook_url", "escalation_tier", "region")
Text = Annotated[str, Form(max_length=2048)]


class FormProblem(ValueError):
    """What to tell the administrator about a form that cannot be saved."""


def form_admin(user: WebUser) -> WebUser:
    if not user.can("admin"):
        raise PageRefused(f"Your role ({user.role.value}) may not administer focal points.")
    return user


def validation_text(exc: ValidationError) -> str:
    """Pydantic's complaints as one sentence per field, in the form's words."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "form"
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{field.replace('_', ' ')}: {message}")
    return "; ".join(parts)


def _check_webhook(request: Request, url: str | None) -> None:
    if url is None:
        return
    try:
        outbound.check_registration(url, request.app.state.settings.webhook_allow_hosts)
    except outbound.UnsafeDestination as exc:
        raise FormProblem(str(exc)) from exc


def _values(*given: str) -> dict[str, str]:
    """The form as typed, in FOCAL_POINT_FIELDS order then the administrator box."""
    return dict(zip((*FOCAL_POINT_FIELDS, "is_administrator"), given, strict=True))


def _fields(values: dict[str, str]) -> dict[str, object]:
    fields: dict[str, object] = {k: (values[k].strip() or None) for k in FOCAL_POINT_FIELDS}
    fields["is_administrator"] = values.get("is_administrator") == "on"
    return fields


# --- list and create ------------------------------------------------------------------------


def _list_page(
    request: Request, session: Session, user: WebUser, *, status_code: int = 200, **extra: object
) -> Response:
    focal_points = notify_service.list_focal_points(session)
    return render(
        request,
        "admin_focal_points.html",
        user,
        status_code=status_code,
        focal_points=focal_points,
        subscription_counts={
            fp.id: len(notify_repository.list_subscriptions(session, fp.id)) for fp in focal_points
        },
        regions=sorted(notify_repository.known_regions(session)),
        form=extra.pop("form", {}),
        **extra,
    )


@router.get("/admin/focal-points")
def focal_points_page(request: Request, session: SessionDep, user: WebAdmin) -> Response:
    return _list_page(request, session, user)


@router.post("/admin/focal-points")
def create_focal_point(
    request: Request,
    session: SessionDep,
    user: FormUser,
    name: Text = "",
    organisation: Text = "",
    email: Text = "",
    webhook_url: Text = "",
    escalation_tier: Text = "",
    region: Text = "",
    is_administrator: Text = "",
) -> Response:
    admin = form_admin(user)
    values = _values(name, organisation, email, webhook_url, escalation_tier, region,
                     is_administrator)  # fmt: skip
    try:
        data = FocalPointCreate.model_validate(_fields(values))
        _check_webhook(request, data.webhook_url)
        focal_point = notify_service.create_focal_point(session, data)
    except ValidationError as exc:
        return _list_page(request, session, admin, status_code=400,
                          error=validation_text(exc), form=values)  # fmt: skip
    except (FormProblem, notify_service.NotifyError) as exc:
        return _list_page(request, session, admin, status_code=400, error=str(exc), form=values)
    secret = focal_point.webhook_secret if focal_point.webhook_url else None
    return _detail_page(
        request, session, admin, focal_point, secret=secret,
        message=f"Focal point #{focal_point.id} {focal_point.name} was created.",
    )  # fmt: skip


# --- one focal point ------------------------------------------------------------------------


def _focal_point(session: Session, focal_point_id: int) -> FocalPoint:
    try:
        return notify_service.get_focal_point(session, focal_point_id)
    except notify_service.NotFound as exc:
        raise PageRefused(f"There is no focal point {focal_point_id}.", status_code=404) from exc


def _detail_page(
    request: Request,
    session: Session,
    user: WebUser,
    focal_point: FocalPoint,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    return render(
        request,
        "admin_focal_point.html",
        user,
        status_code=status_code,
        fp=focal_point,
        endpoints=[
            notify_service.endpoint_state(focal_point, channel) for channel in list(Channel)
        ],
        subscriptions=notify_service.list_subscriptions(session, focal_point.id),
        countries=sorted(alerting_repository.country_names(session).items(), key=lambda c: c[1]),
        regions=sorted(notify_repository.known_regions(session)),
        levels=list(RiskLevel),
        rule_kinds=RULE_KINDS,
        channels=list(Channel),
        **extra,
    )


@router.get("/admin/focal-points/{focal_point_id}")
def focal_point_page(
    request: Request, session: SessionDep, user: WebAdmin, focal_point_id: IdPath
) -> Response:
    return _detail_page(request, session, user, _focal_point(session, focal_point_id))


@router.post("/admin/focal-points/{focal_point_id}")
def update_focal_point(
    request: Request,
    session: SessionDep,
    user: FormUser,
    focal_point_id: IdPath,
    name: Text = "",
    organisation: Text = "",
    email: Text = "",
    webhook_url: Text = "",
    escalation_tier: Text = "",
    region: Text = "",
    is_administrator: Text = "",
) -> Response:
    admin = form_admin(user)
    focal_point = _focal_point(session, focal_point_id)
    had_webhook = focal_point.webhook_url is not None
    values = _values(name, organisation, email, webhook_url, escalation_tier, region,
                     is_administrator)  # fmt: skip
    try:
        data = FocalPointUpdate.model_validate(_fields(values))
        _check_webhook(request, data.webhook_url)
        notify_service.update_focal_point(session, focal_point_id, data)
    except ValidationError as exc:
        session.rollback()
        return _detail_page(request, session, admin, _focal_point(session, focal_point_id),
                            status_code=400, error=validation_text(exc))  # fmt: skip
    except (FormProblem, notify_service.NotifyError) as exc:
        session.rollback()
        return _detail_page(request, session, admin, _focal_point(session, focal_point_id),
                            status_code=400, error=str(exc))  # fmt: skip
    secret = None
    if focal_point.webhook_url is not None and not had_webhook:
        # A new endpoint gets a secret no one has seen yet, shown here once.
        notify_service.rotate_webhook_secret(session, focal_point_id, overlap=timedelta(0))
        secret = focal_point.webhook_secret
    return _detail_page(request, session, admin, focal_point, secret=secret,
                        message="Saved.")  # fmt: skip


@router.post("/admin/focal-points/{focal_point_id}/deactivate")
def deactivate(session: SessionDep, user: FormUser, focal_point_id: IdPath) -> Response:
    form_admin(user)
    _focal_point(session, focal_point_id)
    notify_service.deactivate_focal_point(session, focal_point_id)
    return RedirectResponse(f"/admin/focal-points/{focal_point_id}", status_code=303)


@router.post("/admin/focal-points/{focal_point_id}/activate")
def activate(session: SessionDep, user: FormUser, focal_point_id: IdPath) -> Response:
    form_admin(user)
    _focal_point(session, focal_point_id)
    notify_service.update_focal_point(session, focal_point_id, FocalPointUpdate(active=True))
    return RedirectResponse(f"/admin/focal-points/{focal_point_id}", status_code=303)


@router.post("/admin/focal-points/{focal_point_id}/webhook/rotate-secret")
def rotate_secret(
    request: Request, session: SessionDep, config: ConfigDep, user: FormUser, focal_point_id: IdPath
) -> Response:
    admin = form_admin(user)
    focal_point = _focal_point(session, focal_point_id)
    overlap = timedelta(hours=config.alerting.delivery.secret_rotation_overlap_hours)
    notify_service.rotate_webhook_secret(session, focal_point_id, overlap=overlap)
    return _detail_page(
        request, session, admin, focal_point, secret=focal_point.webhook_secret,
        message="A new signing secret was made; the previous one signs alongside it until "
        f"{focal_point.webhook_previous_expires_at or 'now'}.",
    )  # fmt: skip


@router.post("/admin/focal-points/{focal_point_id}/{channel}/enable")
def enable_endpoint(
    session: SessionDep, user: FormUser, focal_point_id: IdPath, channel: Channel
) -> Response:
    form_admin(user)
    _focal_point(session, focal_point_id)
    notify_service.enable_endpoint(session, focal_point_id, channel)
    return RedirectResponse(f"/admin/focal-points/{focal_point_id}", status_code=303)


# --- subscriptions --------------------------------------------------------------------------


@router.post("/admin/focal-points/{focal_point_id}/subscriptions")
def create_subscription(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: FormUser,
    focal_point_id: IdPath,
    channel: Annotated[str, Form(max_length=16)] = "",
    country_iso3: Annotated[str, Form(max_length=3)] = "",
    region: Annotated[str, Form(max_length=64)] = "",
    min_level: Annotated[str, Form(max_length=16)] = RiskLevel.WARNING.value,
    rule_kinds: Annotated[list[str] | None, Form()] = None,
) -> Response:
    admin = form_admin(user)
    focal_point = _focal_point(session, focal_point_id)
    try:
        data = SubscriptionCreate.model_validate(
            {
                "channel": channel,
                "country_iso3": country_iso3.strip() or None,
                "region": region.strip() or None,
                "min_level": min_level,
                "rule_kinds": rule_kinds or None,
            }
        )
        subscription = notify_service.create_subscription(session, focal_point_id, data)
        # As through the API: the alerts already open that it matches are sent once.
        offered = grouped.offer_open_alerts(
            session, subscription, max_priority_actions=config.action_map.priority.max_actions
        )
    except ValidationError as exc:
        return _detail_page(request, session, admin, focal_point, status_code=400,
                            error=validation_text(exc))  # fmt: skip
    except notify_service.NotifyError as exc:
        return _detail_page(request, session, admin, focal_point, status_code=400, error=str(exc))
    return _detail_page(
        request, session, admin, focal_point,
        message=f"Subscription #{subscription.id} was added"
        + (f"; {len(offered)} message(s) with the alerts already open are on their way."
           if offered else "."),
    )  # fmt: skip


@router.post("/admin/subscriptions/{subscription_id}/delete")
def delete_subscription(
    request: Request, session: SessionDep, user: FormUser, subscription_id: IdPath
) -> Response:
    admin = form_admin(user)
    try:
        subscription = notify_service.get_subscription(session, subscription_id)
    except notify_service.NotFound as exc:
        raise PageRefused(str(exc), status_code=404) from exc
    focal_point = _focal_point(session, subscription.focal_point_id)
    try:
        notify_service.delete_subscription(session, subscription_id)
    except notify_service.Conflict as exc:
        return _detail_page(request, session, admin, focal_point, status_code=409, error=str(exc))
    return RedirectResponse(f"/admin/focal-points/{focal_point.id}", status_code=303)
