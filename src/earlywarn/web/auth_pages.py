"""Sign in, sign out and change one's password."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from earlywarn.api.deps import SessionDep
from earlywarn.auth import accounts
from earlywarn.auth.accounts import WebUser
from earlywarn.web.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormUser,
    optional_user,
    page_user,
    safe_next,
    secure_cookies,
)
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)


def _login_page(
    request: Request, next_path: str, *, error: str | None = None, email: str = "", status: int
) -> Response:
    # The form is not yet tied to a session: its CSRF token is echoed in a cookie that another
    # site can neither read nor set (double submit), so a login cannot be forged from outside.
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code=status,
        csrf_token=token,
        next_path=next_path,
        error=error,
        email=email,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
        path="/login",
    )
    return response


@router.get("/login")
def login_form(
    request: Request,
    user: Annotated[WebUser | None, Depends(optional_user)],
    next: str | None = None,
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next), status=200)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX_LENGTH)] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(
            request,
            target,
            email=email,
            status=400,
            error="The sign-in form had expired. Please try again.",
        )
    client = request.client.host if request.client else "unknown"
    try:
        _, token = accounts.login(session, email=email, password=password, client=client)
    except accounts.LoginThrottled as exc:
        response = _login_page(request, target, email=email, status=429, error=str(exc))
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    except accounts.LoginFailed as exc:
        return _login_page(request, target, email=email, status=401, error=str(exc))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(session: SessionDep, user: FormUser) -> Response:
    accounts.logout(session, user.session_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/account")
def account(request: Request, user: Annotated[WebUser, Depends(page_user)]) -> Response:
    return render(request, "account.html", user)


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    user: FormUser,
    current_password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX_LENGTH)] = "",
    new_password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX_LENGTH)] = "",
    confirm_password: Annotated[str, Form(max_length=accounts.PASSWORD_MAX_LENGTH)] = "",
) -> Response:
    error = None
    if new_password != confirm_password:
        error = "The two new passwords differ."
    else:
        try:
            accounts.change_password(session, user, current=current_password, new=new_password)
        except accounts.AccountError as exc:
            error = str(exc)
    if error is not None:
        return render(request, "account.html", user, status_code=400, error=error)
    return render(request, "account.html", user, message="Your password was changed.")
