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
            "description": "The database cannot be reached.",
            "content": {"application/json": {"example": _UNAVAILABLE_EXAMPLE}},
        },
    },
)
def healthz(request: Request) -> JSONResponse:
    factory: sessionmaker[Session] = request.app.state.session_factory
    problem = database_problem(factory)
    if problem is not None:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"status": "unavailable", "database": problem},
        )
    return JSONResponse(content={"status": "ok", "database": "ok", "version": __version__})
