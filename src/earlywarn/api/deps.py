"""FastAPI dependencies shared by every router: the request's session and the caller's role.

The session is owned by the request: committed when the handler returns, rolled back when it
raises. Services called by handlers never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from earlywarn.auth import service as auth_service
from earlywarn.auth import usage
from earlywarn.auth.service import Principal
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="earlywarn API key")


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_configuration(request: Request) -> Configuration:
    config: Configuration = request.app.state.configuration
    return config


# scope="function": the commit runs before the response is sent, so a failed commit is an
# error response rather than a 200 for data that was never saved.
# Ids are 32-bit on PostgreSQL (SERIAL): a larger number cannot name a row, and must be refused
# as bad input (422) before it reaches a database driver that would overflow on it.
MAX_ID = 2_147_483_647
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
# Every country code earlywarn knows is three letters (ISO 3166-1 alpha-3, XKX, historical
# states); routes upper-case it. Anything else is refused before it reaches a query.
Iso3Path = Annotated[
    str, Path(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3 code, e.g. KEN")
]

SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ConfigDep = Annotated[Configuration, Depends(get_configuration)]


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
    every = timedelta(minutes=request.app.state.settings.api_key_last_used_interval_minutes)
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
