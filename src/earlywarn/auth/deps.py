"""FastAPI dependencies for the caller: the API key header, the principal and the role checks.

Every route that is not public declares one of ``Reader``, ``Acknowledger``, ``Assessor`` or
``Admin`` (tests/api/test_route_access.py audits that).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from earlywarn.auth import cache as key_cache
from earlywarn.auth import service as auth_service
from earlywarn.auth import usage
from earlywarn.auth.service import Principal
from earlywarn.db import session_scope, utc_now

DEFAULT_USE_INTERVAL_MINUTES = 15.0

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="earlywarn API key")


def _lookup(factory: sessionmaker[Session], key_hash: str) -> Principal | None:
    with session_scope(factory) as session:
        return auth_service.authenticate_hash(session, key_hash)


def _record_use(engine: Engine, key_id: int, now: datetime, every: timedelta) -> None:
    usage.record_use(engine, key_id, now, every)


async def _principal(
    request: Request,
    api_key: Annotated[str | None, Security(api_key_header)],
) -> Principal:
    """The caller, from the cache of verified keys (auth.cache) or the database.

    Async, with the database reached only on a cache miss or a due use, and in a session of its
    own: a cached read such as ``GET /scores/latest`` then needs no worker thread for the key.
    """
    if not api_key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing API key: send it in the X-API-Key header",
        )
    factory: sessionmaker[Session] = request.app.state.session_factory
    engine: Engine = factory.kw["bind"]
    cache = key_cache.for_engine(engine)
    key_hash = auth_service.hash_key(api_key)
    principal = cache.get(key_hash)
    if principal is None:
        generation = cache.generation
        principal = await run_in_threadpool(_lookup, factory, key_hash)
        if principal is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="unknown or revoked API key")
        cache.put(key_hash, principal, generation)
    # An app built without settings (a router mounted alone, as in tests) uses the default.
    settings = getattr(request.app.state, "settings", None)
    minutes = getattr(settings, "api_key_last_used_interval_minutes", DEFAULT_USE_INTERVAL_MINUTES)
    every = timedelta(minutes=minutes)
    now = utc_now()
    if usage.use_is_due(principal.last_used_at, now, every):
        # In a transaction of its own that never fails the request (auth.usage). The cached
        # copy shows the new time either way: a failed write is tried again after the
        # interval, not on every request of a read-only database.
        await run_in_threadpool(_record_use, engine, principal.key_id, now, every)
        cache.note_used(key_hash, now)
    return principal


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """Dependency factory: the caller must hold ``permission`` (read, acknowledge, admin)."""

    async def dependency(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
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
