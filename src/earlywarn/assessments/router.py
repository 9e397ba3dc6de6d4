"""Analyst assessments over HTTP: analysts and administrators record and review them; every
reader sees the approved ones."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status

from earlywarn.api.deps import IdPath, SessionDep
from earlywarn.assessments import repository, service
from earlywarn.assessments.models import Assessment, AssessmentStatus
from earlywarn.assessments.schemas import (
    AssessmentDetail,
    AssessmentIn,
    AssessmentOut,
    ReasonIn,
    ReviewIn,
)
from earlywarn.auth.deps import Assessor, Reader
from earlywarn.auth.service import Principal
from earlywarn.framework.deps import ConfigDep

router = APIRouter(tags=["analyst assessments"])

StatusQuery = Literal[
    "pending", "approved", "rejected", "withdrawn", "superseded", "expired", "current"
]


def _http(exc: Exception) -> HTTPException:
    if isinstance(exc, LookupError):
        return HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc.args[0]))
    if isinstance(exc, service.AssessmentForbidden):
        return HTTPException(status.HTTP_403_FORBIDDEN, detail=str(exc))
    if isinstance(exc, service.AssessmentConflict):
        return HTTPException(status.HTTP_409_CONFLICT, detail=str(exc))
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc))


def _visible(session: SessionDep, principal: Principal, assessment_id: int) -> Assessment:
    """Readers who may not assess see approved assessments only; others do not exist to them."""
    found = repository.get(session, assessment_id)
    if found is None or (
        not principal.can("assess") and found.status is not AssessmentStatus.APPROVED
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no assessment {assessment_id}")
    return found


@router.post("/assessments", response_model=AssessmentDetail, status_code=status.HTTP_201_CREATED)
def create(
    session: SessionDep, config: ConfigDep, principal: Assessor, body: AssessmentIn
) -> AssessmentDetail:
    """Record an assessment. It counts in scores only once a second analyst or an
    administrator approves it, and only from valid_from to valid_until."""
    try:
        created = service.create(session, config.assessments, body, principal)
    except (service.AssessmentError, LookupError) as exc:
        raise _http(exc) from exc
    return service.detail(session, created)


@router.get("/assessments", response_model=list[AssessmentOut])
def search(
    session: SessionDep,
    principal: Reader,
    iso3: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$")] = None,
    risk_factor: Annotated[int | None, Query(ge=1, le=14)] = None,
    status_: Annotated[StatusQuery | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[AssessmentOut]:
    """Assessments, newest first. 'expired': approved but past valid_until; 'current':
    approved and counting today. Focal points see approved assessments only."""
    return service.search(
        session,
        iso3=iso3.upper() if iso3 else None,
        risk_factor=risk_factor,
        status=status_,
        approved_only=not principal.can("assess"),
        limit=limit,
    )


@router.get("/assessments/{assessment_id}", response_model=AssessmentDetail)
def get_one(session: SessionDep, principal: Reader, assessment_id: IdPath) -> AssessmentDetail:
    """One assessment with its audit trail (created, approved, rejected, withdrawn,
    superseded: who, when, why)."""
    return service.detail(session, _visible(session, principal, assessment_id))


@router.post("/assessments/{assessment_id}/approve", response_model=AssessmentDetail)
def approve(
    session: SessionDep, principal: Assessor, assessment_id: IdPath, body: ReviewIn
) -> AssessmentDetail:
    """Approve a pending assessment (not one's own): it counts from the next scoring run."""
    try:
        approved = service.approve(session, assessment_id, principal, note=body.note)
    except (service.AssessmentError, LookupError) as exc:
        raise _http(exc) from exc
    return service.detail(session, approved)


@router.post("/assessments/{assessment_id}/reject", response_model=AssessmentDetail)
def reject(
    session: SessionDep, principal: Assessor, assessment_id: IdPath, body: ReasonIn
) -> AssessmentDetail:
    """Reject a pending assessment (not one's own); the reason is required."""
    try:
        rejected = service.reject(session, assessment_id, principal, reason=body.reason)
    except (service.AssessmentError, LookupError) as exc:
        raise _http(exc) from exc
    return service.detail(session, rejected)


@router.post("/assessments/{assessment_id}/withdraw", response_model=AssessmentDetail)
def withdraw(
    session: SessionDep, principal: Assessor, assessment_id: IdPath, body: ReasonIn
) -> AssessmentDetail:
    """Its author or an administrator takes an assessment back; it stops counting from the
    next scoring run. The reason is required."""
    try:
        withdrawn = service.withdraw(session, assessment_id, principal, reason=body.reason)
    except (service.AssessmentError, LookupError) as exc:
        raise _http(exc) from exc
    return service.detail(session, withdrawn)
