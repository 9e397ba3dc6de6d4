"""Read-only views of the sources and their ingest runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from earlywarn.api.deps import IdPath, Reader, SessionDep
from earlywarn.ingest import service
from earlywarn.ingest.errors import UnknownSourceError
from earlywarn.ingest.models import IngestRun, RunStatus
from earlywarn.ingest.schemas import IngestRunRead, SourceStatusRead

router = APIRouter(tags=["ingest"])


def _run_view(run: IngestRun | None) -> IngestRunRead | None:
    return IngestRunRead.model_validate(run) if run is not None else None


@router.get("/sources", response_model=list[SourceStatusRead])
def list_sources(session: SessionDep, principal: Reader) -> list[SourceStatusRead]:
    views = []
    for entry in service.source_statuses(session):
        views.append(
            SourceStatusRead(
                id=entry.source.id,
                name=entry.source.name,
                kind=entry.source.kind,
                url=entry.source.url,
                licence=entry.source.licence,
                last_run=_run_view(entry.last_run),
                last_success=_run_view(entry.last_success),
                last_failure=_run_view(entry.last_failure),
                last_error=entry.last_failure.error if entry.last_failure is not None else None,
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
    try:
        runs = service.list_runs(session, source_id=source, status=run_status, limit=limit)
    except UnknownSourceError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return [IngestRunRead.model_validate(run) for run in runs]


@router.get("/ingest-runs/{run_id}", response_model=IngestRunRead)
def get_ingest_run(run_id: IdPath, session: SessionDep, principal: Reader) -> IngestRunRead:
    run = service.get_run(session, run_id)
    if run is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"ingest run {run_id} not found")
    return IngestRunRead.model_validate(run)
