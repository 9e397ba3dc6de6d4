"""Exception handlers that keep every API error a 4xx with a reason in ``{"detail": ...}``.

Only errors that are the caller's by nature are mapped here. A ``ValueError`` from a service is
deliberately not: routers translate the service errors they expect, and anything else is a bug
that must surface as one rather than be dressed up as a client error.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from earlywarn.api.limits import excerpt

logger = logging.getLogger(__name__)


def integrity_reason(exc: IntegrityError) -> str:
    """A short, SQL-free explanation of a constraint violation, the same on every backend."""
    # psycopg names the violation in its exception class, SQLite only in the message text.
    kind = type(exc.orig).__name__ if exc.orig is not None else ""
    message = str(exc.orig).lower() if exc.orig is not None else ""
    if kind == "UniqueViolation" or "unique constraint" in message:
        return "conflict: a record with the same unique value already exists"
    if kind == "ForeignKeyViolation" or "foreign key constraint" in message:
        return "conflict: the change refers to a record that does not exist or is still in use"
    if kind == "NotNullViolation" or "not null constraint" in message:
        return "conflict: a required value is missing"
    if kind == "CheckViolation" or "check constraint" in message:
        return "conflict: a value is not one of those allowed"
    return "conflict: the change is inconsistent with the data already stored"


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)  # registered for IntegrityError only
    reason = integrity_reason(exc)
    # The statement and parameters go to the log for operators, never to the client.
    logger.warning("%s %s: %s (%s)", request.method, request.url.path, reason, exc.orig)
    return JSONResponse(status_code=status.HTTP_409_CONFLICT, content={"detail": reason})


NUL_REASON = "text must not contain NUL (0x00) characters"


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """PostgreSQL cannot store or compare text with a NUL byte, and psycopg refuses to send it;
    any path, query or body text can carry one, so the caller's input is named. Any other
    data error is not the caller's by nature and stays a server error."""
    assert isinstance(exc, DataError)  # registered for DataError only
    if "NUL (0x00)" not in str(exc.orig):
        raise exc
    logger.info("%s %s: %s", request.method, request.url.path, NUL_REASON)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": NUL_REASON}
    )


DEFAULT_RETRY_AFTER_SECONDS = 5


def unavailable_reason(exc: Exception) -> str | None:
    """Why the database cannot serve the request now, or None when ``exc`` is not an outage.

    A database that is down, hung, out of connections, read-only or out of disk is a condition
    of the service, not of the caller's request, and not a bug: it is answered with 503 and a
    Retry-After. The reason names the condition only; driver messages (hosts, ports, SQL) go to
    the log.
    """
    if isinstance(exc, PoolTimeoutError):
        return "database busy: no connection became free in time"
    if not isinstance(exc, DBAPIError):
        return None
    message = str(exc.orig).lower() if exc.orig is not None else ""
    kind = type(exc.orig).__name__ if exc.orig is not None else ""
    if "readonly database" in message or "read-only" in message:
        return "database is read-only: changes cannot be saved now"
    if "disk is full" in message or kind == "DiskFull" or "no space left" in message:
        return "database disk is full: changes cannot be saved now"
    if "disk i/o error" in message:  # what SQLite says when the WAL cannot grow on a full disk
        return "database disk error (full or failing): changes cannot be saved now"
    if "database is locked" in message:
        return "database busy: another process holds its lock"
    if kind == "QueryCanceled" or "statement timeout" in message:
        return "database too slow: the query did not finish in time"
    if exc.connection_invalidated or isinstance(exc, OperationalError):
        return "database unavailable"
    return None


def _retry_after(request: Request) -> int:
    settings = getattr(request.app.state, "settings", None)
    return int(getattr(settings, "unavailable_retry_after_seconds", DEFAULT_RETRY_AFTER_SECONDS))


def unavailable_response(request: Request, content: dict[str, str]) -> JSONResponse:
    """A 503 with the configured Retry-After, for errors and for health probes alike."""
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content=content,
        headers={"Retry-After": str(_retry_after(request))},
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    reason = unavailable_reason(exc)
    if reason is None:  # a programming error (bad SQL, ...) must surface as the bug it is
        raise exc
    logger.warning("%s %s: %s (%s)", request.method, request.url.path, reason, exc)
    return unavailable_response(request, {"detail": reason})


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, but each error echoes at most a short excerpt of the input: a large
    invalid body used to come back whole in the answer."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        entry = dict(error)
        if "input" in entry:
            entry["input"] = excerpt(jsonable_encoder(entry["input"]))
        errors.append(entry)
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        content={"detail": jsonable_encoder(errors)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(PoolTimeoutError, _database_unavailable)
