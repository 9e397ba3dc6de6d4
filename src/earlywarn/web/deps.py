"""Who is signed in, what they may see, and the CSRF check every form goes through."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request

from earlywarn.api.deps import SessionDep
from earlywarn.auth import accounts
from earlywarn.auth.accounts import WebUser

SESSION_COOKIE = "ew_session"
LOGIN_CSRF_COOKIE = "ew_login_csrf"


class LoginRequired(Exception):
    """No valid session: the page answers with a redirect to /login (handled in ``install``)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class PageRefused(Exception):
    """Signed in, but this page or form is not for this user (a 403 page)."""

    def __init__(self, reason: str, status_code: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code


def optional_user(request: Request, session: SessionDep) -> WebUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    return accounts.user_for_token(session, token)


def page_user(request: Request, user: Annotated[WebUser | None, Depends(optional_user)]) -> WebUser:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


def page_require(permission: str) -> Callable[..., WebUser]:
    """The signed-in user must hold ``permission`` (read, acknowledge, admin): else a 403 page."""

    def dependency(user: Annotated[WebUser, Depends(page_user)]) -> WebUser:
        if not user.can(permission):
            raise PageRefused(f"Your role ({user.role.value}) may not {permission} here.")
        return user

    return dependency


def csrf_checked(
    user: Annotated[WebUser, Depends(page_user)], csrf_token: Annotated[str, Form()] = ""
) -> WebUser:
    """For every POST of a signed-in user: the form must carry this session's token."""
    if not secrets.compare_digest(csrf_token.encode(), user.csrf_token.encode()):
        raise PageRefused("The form has expired or did not come from this site. Reload the page.")
    return user


def login_url(next_path: str) -> str:
    return "/login?next=" + quote(next_path, safe="/")


def safe_next(next_path: str | None) -> str:
    """Only a local path may be a redirect target after sign-in (no open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//"):
        return "/"
    if "\\" in next_path or any(ord(c) < 32 for c in next_path):
        return "/"
    return next_path


def secure_cookies(request: Request) -> bool:
    """Cookies get Secure when the page is served over https (directly or behind a proxy that
    uvicorn trusts) or when the public address is https."""
    public: str = request.app.state.settings.public_base_url
    return request.url.scheme == "https" or public.startswith("https://")


Viewer = Annotated[WebUser, Depends(page_require("read"))]
WebAdmin = Annotated[WebUser, Depends(page_require("admin"))]
FormUser = Annotated[WebUser, Depends(csrf_checked)]
