"""Administrators see every source's health: each source in sources.yaml and each with data,
its state and why, its last run, last success, the age of its data and its errors; and start
an enabled source's ingest now.

Read through ``ingest.health.source_health``, the function behind ``GET /sources`` (not the
overview's minute-old copy: an administrator checking a fix needs the state now). "Ingest now"
runs the scheduler's own source job in the background (``app.state.ingest_now``, see
``web.ingest_now``): the request returns at once and the page shows the run as running, then
its result.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from earlywarn.api.deps import SessionDep
from earlywarn.auth.accounts import WebUser
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep
from earlywarn.ingest import health as ingest_health
from earlywarn.ingest import service as ingest_service
from earlywarn.observations.models import RunStatus
from earlywarn.web.deps import FormUser, PageRefused, WebAdmin
from earlywarn.web.ingest_now import IngestRefusedError, IngestStarter, cells
from earlywarn.web.templating import render

router = APIRouter(include_in_schema=False)

RECENT_FAILURES = 20
MAX_SOURCE_ID_CHARS = 100


def _page(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: WebUser,
    *,
    status_code: int = 200,
    **extra: object,
) -> Response:
    settings = request.app.state.settings
    health = ingest_health.source_health(session, config.sources, utc_now(), settings=settings)
    starter: IngestStarter = request.app.state.ingest_now
    runs = starter.last_runs([source.source_id for source in health])
    return render(
        request,
        "admin_sources.html",
        user,
        status_code=status_code,
        sources=health,
        ingest_now=cells(health, runs),
        failures=ingest_service.list_runs(session, status=RunStatus.FAILED, limit=RECENT_FAILURES),
        schedule_cron=settings.schedule_cron,
        scheduler_enabled=settings.scheduler_enabled,
        **extra,
    )


@router.get("/admin/sources")
def sources_page(
    request: Request,
    session: SessionDep,
    config: ConfigDep,
    user: WebAdmin,
    started: str | None = None,
) -> Response:
    known = started is not None and started in config.sources.scheduled_sources()
    message = f"Ingest of {started} started." if known else None
    return _page(request, session, config, user, message=message)


@router.post("/admin/sources/{source_id}/ingest")
def ingest_now(
    request: Request, session: SessionDep, config: ConfigDep, user: FormUser, source_id: str
) -> Response:
    if not user.can("admin"):
        raise PageRefused(f"Your role ({user.role.value}) may not start an ingest.")
    source_id = source_id[:MAX_SOURCE_ID_CHARS]
    starter: IngestStarter = request.app.state.ingest_now
    try:
        started = starter.start(source_id)
    except IngestRefusedError as exc:
        return _page(request, session, config, user, status_code=400, error=f"{exc}.")
    if not started:
        return _page(
            request,
            session,
            config,
            user,
            status_code=409,
            error=f"An ingest of {source_id} is already running; wait for its result.",
        )
    # Post/redirect/get: reloading the page does not ask for another run.
    target = f"/admin/sources?started={quote(source_id)}#source-{quote(source_id)}"
    return RedirectResponse(target, status_code=303)
