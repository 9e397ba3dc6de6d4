"""Read-only views of the sources and their ingest runs."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.auth.deps import Reader
from earlywarn.db import utc_now
from earlywarn.framework.deps import ConfigDep
from earlywarn.ingest import service
from earlywarn.ingest.errors import UnknownSourceError
from earlywarn.ingest.health import source_health
from earlywarn.ingest.registry import KNOWN_SOURCES
from earlywarn.ingest.schemas import ArchivedPayloadRead, IngestRunRead, SourceStatusRead
from earlywarn.observations.models import IngestRun, RunStatus
from earlywarn.settings import Settings, get_settings

logger = logging.getLogger(__name__)
router = APIRouter(tags=["ingest"])


def _run_view(run: IngestRun | None) -> IngestRunRead | None:
    return IngestRunRead.model_validate(run) if run is not None else None


def _settings(request: Request) -> Settings:
    settings: Settings | None = getattr(request.app.state, "settings", None)
    return settings if settings is not None else get_settings()


@router.get("/sources", response_model=list[SourceStatusRead])
def list_sources(
    request: Request, session: SessionDep, config: ConfigDep, principal: Reader
) -> list[SourceStatusRead]:
    """Every source in ``sources.yaml`` or with runs, with its freshness state."""
    settings = _settings(request)
    sources = config.sources
    known = {source.id: source for source in service.list_sources(session)}
    views = []
    for health in source_health(session, sources, utc_now(), settings=settings):
        stored = known.get(health.source_id)
        definition = KNOWN_SOURCES.get(health.source_id)
        views.append(
            SourceStatusRead(
                id=health.source_id,
                name=health.name,
                kind=stored.kind if stored else (definition.kind if definition else None),
                url=stored.url if stored else (definition.url if definition else None),
                licence=stored.licence if stored else (definition.licence if definition else None),
                state=health.state.value,
                reason=health.reason,
                enabled=health.enabled,
                schedule=health.schedule,
                max_age_days=health.max_age_days,
                age_days=health.age_days,
                last_success_at=health.last_success_at,
                last_failure_at=health.last_failure_at,
                rows=health.rows,
                observations=health.observations,
                vintage_run_id=health.vintage_run_id,
                vintage_at=health.vintage_at,
                missing_settings=list(health.missing_settings),
                last_run=_run_view(health.last_run),
                last_success=_run_view(health.last_success),
                last_failure=_run_view(health.last_failure),
                last_error=health.last_error,
            )
        )
    return views


@router.get("/ingest-runs", response_model=list[IngestRunRead])
def list_ingest_runs(
    session: SessionDep,
    principal: Reader,
    source: Annotated[str | None, Query(max_length=32, description="Source id")] = None,
    run_status: Annotated[RunStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[IngestRunRead]:
    """Ingest runs, newest first, by source and status: rows read and written, errors, and the
    archived payload when kept."""
    try:
        runs = service.list_runs(session, source_id=source, status=run_status, limit=limit)
    except UnknownSourceError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return [IngestRunRead.model_validate(run) for run in runs]


@router.get("/ingest-runs/{run_id}/payloads", response_model=list[ArchivedPayloadRead])
def list_run_payloads(
    run_id: IdPath, session: SessionDep, principal: Reader
) -> list[ArchivedPayloadRead]:
    """Provenance of the raw bodies the run received, in order of receipt."""
    if service.get_run(session, run_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ingest run {run_id} not found")
    return [
        ArchivedPayloadRead.model_validate(p) for p in service.archived_payloads(session, run_id)
    ]


@router.get("/ingest-runs/{run_id}", response_model=IngestRunRead)
def get_ingest_run(run_id: IdPath, session: SessionDep, principal: Reader) -> IngestRunRead:
    """One ingest run with its counts and, if it failed, the reason."""
    run = service.get_run(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ingest run {run_id} not found")
    return IngestRunRead.model_validate(run)
