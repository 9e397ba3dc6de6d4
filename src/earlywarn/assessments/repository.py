"""Every query of analyst assessments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from earlywarn.assessments.models import Assessment, AssessmentEvent, AssessmentStatus


def add(session: Session, assessment: Assessment) -> Assessment:
    session.add(assessment)
    session.flush()
    return assessment


def add_event(session: Session, event: AssessmentEvent) -> AssessmentEvent:
    session.add(event)
    session.flush()
    return event


def get(session: Session, assessment_id: int, *, for_update: bool = False) -> Assessment | None:
    stmt = select(Assessment).where(Assessment.id == assessment_id)
    if for_update:
        # Two reviewers at once: the second waits, then sees the first one's decision.
        stmt = stmt.with_for_update()
    return session.scalars(stmt).one_or_none()


def events(session: Session, assessment_id: int) -> list[AssessmentEvent]:
    stmt = (
        select(AssessmentEvent)
        .where(AssessmentEvent.assessment_id == assessment_id)
        .order_by(AssessmentEvent.id)
    )
    return list(session.scalars(stmt))


def search(
    session: Session,
    *,
    iso3: str | None = None,
    risk_factor: int | None = None,
    statuses: Sequence[AssessmentStatus] | None = None,
    valid_until_before: date | None = None,
    valid_on_or_after: date | None = None,
    limit: int = 200,
) -> list[Assessment]:
    stmt = select(Assessment)
    if iso3 is not None:
        stmt = stmt.where(Assessment.country_iso3 == iso3)
    if risk_factor is not None:
        stmt = stmt.where(Assessment.risk_factor == risk_factor)
    if statuses is not None:
        stmt = stmt.where(Assessment.status.in_(list(statuses)))
    if valid_until_before is not None:
        stmt = stmt.where(Assessment.valid_until < valid_until_before)
    if valid_on_or_after is not None:
        stmt = stmt.where(Assessment.valid_until >= valid_on_or_after)
    stmt = stmt.order_by(Assessment.created_at.desc(), Assessment.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def counted_on(
    session: Session, as_of: date, *, vintage_as_of: datetime | None = None
) -> list[Assessment]:
    """Assessments that count for a score dated ``as_of``: approved, valid that day, and (for
    a score of a past data vintage) approved by then and not yet withdrawn or superseded."""
    stmt = select(Assessment).where(
        Assessment.valid_from <= as_of,
        Assessment.valid_until >= as_of,
        Assessment.reviewed_at.is_not(None),
    )
    if vintage_as_of is None:
        stmt = stmt.where(Assessment.status == AssessmentStatus.APPROVED)
    else:
        stmt = stmt.where(
            Assessment.status.in_(
                [
                    AssessmentStatus.APPROVED,
                    AssessmentStatus.WITHDRAWN,
                    AssessmentStatus.SUPERSEDED,
                ]
            ),
            Assessment.reviewed_at <= vintage_as_of,
            or_(Assessment.ended_at.is_(None), Assessment.ended_at > vintage_as_of),
        )
    return list(session.scalars(stmt.order_by(Assessment.id)))
