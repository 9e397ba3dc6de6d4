"""``/livez`` and ``/readyz``: the probes an orchestrator or load balancer asks.

``/livez`` answers as long as the process serves HTTP, without touching the database: a
database outage must not get healthy API processes restarted. ``/readyz`` says whether this
process should get traffic: the database answers, its schema is the one this code expects (a
replica started before ``init-db`` finished, or an old replica after an upgrade, is not ready),
and its configuration was valid at start-up. In an ``earlywarn scheduler`` process it also
reports the scheduler: ready while its loop heart-beats, with its role and heartbeat ages.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.api.errors import unavailable_response
from earlywarn.api.health import database_problem

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@lru_cache(maxsize=4)
def schema_heads(alembic_dir: Path) -> frozenset[str]:
    config = Config()
    config.set_main_option("script_location", str(alembic_dir))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def schema_problem(factory: sessionmaker[Session], alembic_dir: Path) -> str | None:
    try:
        with factory() as session:
            current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except SQLAlchemyError as exc:
        logger.warning("readiness: schema version unreadable: %s", exc)
        return "not initialised (run `earlywarn init-db`)"
    heads = schema_heads(alembic_dir)
    if current != heads:
        return f"at {sorted(current) or 'nothing'}, code expects {sorted(heads)}"
    return None


@router.get("/livez", summary="Liveness: the process serves HTTP (no API key, no database)")
def livez() -> dict[str, str]:
    """Answers while the process can serve HTTP at all; it touches no database, so a restart is
    only warranted when this fails."""
    return {"status": "alive"}


@router.get(
    "/readyz",
    summary="Readiness: database reachable, schema at head, configuration valid (no API key)",
    responses={status.HTTP_503_SERVICE_UNAVAILABLE: {"description": "Not ready; says why."}},
)
def readyz(request: Request) -> JSONResponse:
    """Whether this process should receive traffic: the database is reachable, its schema is at
    the code's migration head and the configuration is valid. 503 with the failing check named
    otherwise."""
    state = request.app.state
    checks: dict[str, Any] = {}
    database = database_problem(state.session_factory)
    checks["database"] = database or "ok"
    if database is None:
        checks["schema"] = schema_problem(state.session_factory, state.settings.alembic_dir) or "ok"
    else:
        checks["schema"] = "unknown (database unavailable)"
    checks["configuration"] = "ok" if getattr(state, "configuration", None) else "missing"
    # A scheduler process sets this: its tick loop's health and heartbeat ages.
    scheduler_probe = getattr(state, "scheduler_probe", None)
    if scheduler_probe is not None:
        checks["scheduler"], checks["scheduler_detail"] = scheduler_probe()
    ready = all(value == "ok" for key, value in checks.items() if not key.endswith("_detail"))
    if not ready:
        return unavailable_response(request, {"status": "not ready", **checks})
    return JSONResponse({"status": "ready", **checks})
