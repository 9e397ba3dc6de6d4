"""Administrators manage the API keys machines use: list, issue (the key shown once), revoke.

The same ``auth.service`` calls and rules as the API's ``/api-keys`` routes: a focal point key
names an active focal point; the last active admin key cannot be revoked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth import repository as auth_repository
from earlywarn.auth import service as auth_service
from earlywarn.auth.accounts import WebUser
from earlywarn.auth.schemas import ApiKeyCreate
from earlywarn.notify import service as notify_service
from earlywarn.types import Role
from earlywarn.web.admin_focal_points import validation_text
from earlywarn.web.deps import FormUser, PageRefused, WebAdmin
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)


def _form_admin(user: WebUser) -> WebUser:
    if not user.can("admin"):
        raise PageRefused(f"Your role ({user.role.value}) may not administer API keys.")
    return user


def _page(
    request: Request, session: Session, user: WebUser, *, status_code: int = 200, **extra: object
) -> Response:
    response = render(
        request,
        "admin_keys.html",
        user,
        status_code=status_code,
        keys=auth_repository.list_keys(session),
        focal_points={fp.id: fp for fp in notify_service.list_focal_points(session)},
        roles=list(Role),
        form=extra.pop("form", {}),
        **extra,
    )
    # The page may hold a new key: no cache keeps a copy of it.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin/api-keys")
def keys_page(request: Request, session: SessionDep, user: WebAdmin) -> Response:
    return _page(request, session, user)


@router.post("/admin/api-keys")
def create_key(
    request: Request,
    session: SessionDep,
    user: FormUser,
    name: Annotated[str, Form(max_length=512)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    focal_point_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    admin = _form_admin(user)
    form = {"name": name, "role": role, "focal_point_id": focal_point_id}
    try:
        body = ApiKeyCreate.model_validate(
            {"name": name, "role": role, "focal_point_id": focal_point_id.strip() or None}
        )
        key, raw_key = auth_service.issue_key(
            session, name=body.name, role=body.role, focal_point_id=body.focal_point_id
        )
    except ValidationError as exc:
        return _page(request, session, admin, status_code=400, error=validation_text(exc),
                     form=form)  # fmt: skip
    except auth_service.KeyRequestError as exc:
        return _page(request, session, admin, status_code=400, error=str(exc), form=form)
    message = f"API key #{key.id} ({key.name}, {key.role.value}) was issued."
    return _page(request, session, admin, new_key=raw_key, message=message)


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke_key(request: Request, session: SessionDep, user: FormUser, key_id: IdPath) -> Response:
    admin = _form_admin(user)
    try:
        auth_service.revoke_key_checked(session, key_id)
    except auth_service.KeyNotFound as exc:
        raise PageRefused(str(exc), status_code=404) from exc
    except auth_service.KeyConflict as exc:
        return _page(request, session, admin, status_code=409, error=str(exc))
    return RedirectResponse("/admin/api-keys", status_code=303)
