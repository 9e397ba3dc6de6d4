"""Administrators see every source's health: each source in sources.yaml and each with data,
its state and why, its last run, last success, the age of its data and its errors.

Read through ``ingest.health.source_health``, the function behind ``GET /sources`` (not the
overview's minute-old copy: an administrator checking a fix needs the state now). The API
offers no route that starts an ingest, so neither does this page; it says how runs start.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from earlywarn.api.deps import SessionDep
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep
from earlywarn.ingest import health as ingest_health
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus
from earlywarn.web.deps import WebAdmin
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)

RECENT_FAILURES = 20


@router.get("/admin/sources")
def sources_page(
    request: Request, session: SessionDep, config: ConfigDep, user: WebAdmin
) -> Response:
    settings = request.app.state.settings
    health = ingest_health.source_health(session, config.sources, utc_now(), settings=settings)
    return render(
        request,
        "admin_sources.html",
        user,
        sources=health,
        failures=ingest_service.list_runs(session, status=RunStatus.FAILED, limit=RECENT_FAILURES),
        schedule_cron=settings.schedule_cron,
        scheduler_enabled=settings.scheduler_enabled,
    )
