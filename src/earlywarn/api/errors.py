"""Exception handlers that keep every API error a 4xx with a reason in ``{"detail": ...}``.

Only errors that are the caller's by nature are mapped here. A ``ValueError`` from a service is
deliberately not: routers translate the service errors they expect, and anything else is a bug
that must surface as one rather than be dressed up as a client error.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

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


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
