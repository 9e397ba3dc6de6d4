"""``GET /healthz``: a liveness and database probe for load balancers and orchestrators."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn import __version__
from earlywarn.api.errors import unavailable_response
from earlywarn.api.storage import storage_problem

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

_UNAVAILABLE_EXAMPLE: dict[str, Any] = {
    "status": "unavailable",
    "database": "unreachable (OperationalError)",
}


def database_problem(factory: sessionmaker[Session]) -> str | None:
    """None when ``SELECT 1`` succeeds, else a short reason (details go to the log only)."""
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except DBAPIError as exc:
        # The driver message names hosts and ports; an unauthenticated probe only gets the kind.
        logger.warning("health check: database unavailable: %s", exc)
        return f"unreachable ({type(exc.orig).__name__})"
    except SQLAlchemyError as exc:
        logger.warning("health check: database unavailable: %s", exc)
        return f"unavailable ({type(exc).__name__})"
    return None


@router.get(
    "/healthz",
    summary="Service and database health (no API key needed)",
    responses={
        status.HTTP_200_OK: {
            "content": {
                "application/json": {
                    "example": {"status": "ok", "database": "ok", "version": __version__}
                }
            }
        },
        status.HTTP_503_SERVICE_UNAVAILABLE: {
            "description": "The database cannot be reached, or it cannot take writes "
            "(read-only, disk full: `status` is then `degraded`). Sent with Retry-After.",
            "content": {"application/json": {"example": _UNAVAILABLE_EXAMPLE}},
        },
    },
)
def healthz(request: Request) -> JSONResponse:
    """Whether the service and its database answer and can take writes. For load balancers and
    uptime checks; `/readyz` adds schema and configuration checks."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    problem = database_problem(factory)
    degraded = storage_problem(request.app.state.engine, reachable=problem is None)
    if problem is not None:
        reason = degraded or problem
        return unavailable_response(request, {"status": "unavailable", "database": reason})
    if degraded is not None:
        # Reads still work; changes do not. Saying "ok" here hid exactly that (issue 12).
        return unavailable_response(request, {"status": "degraded", "database": degraded})
    return JSONResponse(content={"status": "ok", "database": "ok", "version": __version__})
