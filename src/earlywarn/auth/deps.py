"""FastAPI dependencies for the caller: the API key header, the principal and the role checks.

Every route that is not public declares one of ``Reader``, ``Acknowledger``, ``Assessor`` or
``Admin`` (tests/api/test_route_access.py audits that).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from earlywarn.api.deps import SessionDep
from earlywarn.auth import service as auth_service
from earlywarn.auth import usage
from earlywarn.auth.service import Principal

DEFAULT_USE_INTERVAL_MINUTES = 15.0

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="earlywarn API key")


def _principal(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    if not api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing API key: send it in the X-API-Key header",
        )
    principal = auth_service.authenticate(session, api_key)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="unknown or revoked API key")
    # An app built without settings (a router mounted alone, as in tests) uses the default.
    settings = getattr(request.app.state, "settings", None)
    minutes = getattr(settings, "api_key_last_used_interval_minutes", DEFAULT_USE_INTERVAL_MINUTES)
    every = timedelta(minutes=minutes)
    usage.note_use(session, principal.key_id, principal.last_used_at, every)
    return principal


def require(permission: str) -> Callable[..., Principal]:
    """Dependency factory: the caller must hold ``permission`` (read, acknowledge, admin)."""

    def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if not principal.can(permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role '{principal.role}' may not {permission}",
            )
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    return dependency


Reader = Annotated[Principal, Depends(require("read"))]
Acknowledger = Annotated[Principal, Depends(require("acknowledge"))]
Admin = Annotated[Principal, Depends(require("admin"))]
# Analysts and administrators: record and review analyst assessments.
Assessor = Annotated[Principal, Depends(require("assess"))]
