"""Administrators manage the people who sign in: list, create, disable, re-enable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth import accounts
from earlywarn.auth.accounts import WebUser
from earlywarn.notify import service as notify_service
from earlywarn.types import Role
from earlywarn.web.deps import FormUser, PageRefused, WebAdmin
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)


def _form_admin(user: WebUser) -> WebUser:
    if not user.can("admin"):
        raise PageRefused(f"Your role ({user.role.value}) may not administer users.")
    return user


def _page(
    request: Request, session: SessionDep, user: WebUser, *, status_code: int = 200, **extra: object
) -> Response:
    return render(
        request,
        "admin_users.html",
        user,
        status_code=status_code,
        users=accounts.list_users(session),
        focal_points=notify_service.list_focal_points(session),
        roles=list(Role),
        **extra,
    )


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, user: WebAdmin) -> Response:
    return _page(request, session, user)


@router.post("/admin/users")
def create_user(
    request: Request,
    session: SessionDep,
    user: FormUser,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX_LENGTH)] = "",
    role: Annotated[str, Form()] = "",
    focal_point_id: Annotated[str, Form()] = "",
) -> Response:
    admin = _form_admin(user)
    try:
        chosen = Role(role)
    except ValueError:
        return _page(request, session, admin, status_code=400, error=f"Unknown role {role!r}.")
    fp_id = int(focal_point_id) if focal_point_id.strip().isdigit() else None
    try:
        created = accounts.create_user(
            session, email=email, password=password, role=chosen, focal_point_id=fp_id
        )
    except accounts.AccountError as exc:
        return _page(request, session, admin, status_code=400, error=str(exc), email=email)
    return _page(request, session, admin, message=f"Created {created.email} ({chosen.value}).")


@router.post("/admin/users/{user_id}/disable")
def disable_user(session: SessionDep, user: FormUser, user_id: IdPath) -> Response:
    return _set_disabled(session, user, user_id, disabled=True)


@router.post("/admin/users/{user_id}/enable")
def enable_user(session: SessionDep, user: FormUser, user_id: IdPath) -> Response:
    return _set_disabled(session, user, user_id, disabled=False)


def _set_disabled(session: SessionDep, user: WebUser, user_id: int, *, disabled: bool) -> Response:
    admin = _form_admin(user)
    try:
        accounts.set_disabled(session, user_id, disabled=disabled, by=admin)
    except accounts.AccountError as exc:
        raise PageRefused(str(exc), status_code=400) from exc
    return RedirectResponse("/admin/users", status_code=303)
