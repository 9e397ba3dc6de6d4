"""Analyst assessments: record, approve or reject (four-eyes), withdraw, supersede; and the
approved, valid ones that scoring counts. Every change writes an audit event. Nothing here
commits: the request that owns the session does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from earlywarn.assessments import repository
from earlywarn.assessments.models import (
    Assessment,
    AssessmentEvent,
    AssessmentEventKind,
    AssessmentStatus,
)
from earlywarn.assessments.schemas import (
    AssessmentDetail,
    AssessmentEventOut,
    AssessmentIn,
    AssessmentOut,
)
from earlywarn.countries import repository as countries_repository
from earlywarn.db import utc_now
from earlywarn.framework.assessment_schema import AssessmentsConfig
from earlywarn.types import Role


class AssessmentError(ValueError):
    """Input that cannot be accepted; the message says why (422)."""


class AssessmentConflict(AssessmentError):
    """A change that does not fit the assessment's state (409)."""


class AssessmentForbidden(AssessmentError):
    """A change this caller may not make, e.g. approving one's own assessment (403)."""


class Actor(Protocol):
    """Who records or reviews: an API key's principal, or a signed-in web user (without a
    key; its name is its e-mail address)."""

    @property
    def actor(self) -> str: ...
    @property
    def key_id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> Role: ...


@dataclass(frozen=True)
class CountedAssessment:
    """An approved assessment valid on the scoring date, as scoring uses and explains it."""

    id: int
    iso3: str
    risk_factor: int
    score: float
    confidence: str
    confidence_weight: float
    author: str
    reviewer: str
    approved_at: datetime
    valid_from: date
    valid_until: date
    evidence: str
    links: list[str]


def _snapshot(a: Assessment) -> dict[str, Any]:
    return {
        "country_iso3": a.country_iso3,
        "risk_factor": a.risk_factor,
        "score": a.score,
        "scale_label": a.scale_label,
        "confidence": a.confidence.value,
        "valid_from": a.valid_from.isoformat(),
        "valid_until": a.valid_until.isoformat(),
        "status": a.status.value,
        "reviewer": a.reviewer,
        "supersedes_id": a.supersedes_id,
    }


def _log(
    session: Session, a: Assessment, kind: AssessmentEventKind, actor: str, reason: str | None
) -> None:
    repository.add_event(
        session,
        AssessmentEvent(
            assessment_id=a.id, kind=kind, actor=actor, reason=reason, snapshot=_snapshot(a)
        ),
    )


def _score(config: AssessmentsConfig, body: AssessmentIn) -> tuple[float, str | None]:
    if body.score is not None:
        return float(body.score), None
    label = (body.level or "").strip().lower().replace(" ", "_")
    if label not in config.ordinal_scale:
        raise AssessmentError(
            f"unknown level '{body.level}': use one of {list(config.ordinal_scale)} "
            "or a score from 0 to 1"
        )
    return config.ordinal_scale[label], label


def _check_period(config: AssessmentsConfig, start: date, end: date, today: date) -> None:
    if end < start:
        raise AssessmentError(f"valid_until {end} is before valid_from {start}")
    if end < today:
        raise AssessmentError(f"valid_until {end} is in the past: the assessment would never count")
    if (end - start).days > config.max_validity_days:
        raise AssessmentError(
            f"valid for {(end - start).days} days; at most {config.max_validity_days} "
            "(config/assessments.yaml max_validity_days): record a new one when it runs out"
        )


def create(
    session: Session,
    config: AssessmentsConfig,
    body: AssessmentIn,
    principal: Actor,
    *,
    today: date | None = None,
) -> Assessment:
    today = today or utc_now().date()
    iso3 = body.country_iso3.upper()
    if countries_repository.get(session, iso3) is None:
        raise AssessmentError(f"unknown country '{iso3}' (see GET /countries)")
    score, label = _score(config, body)
    start = body.valid_from or today
    _check_period(config, start, body.valid_until, today)
    if body.supersedes_id is not None:
        old = repository.get(session, body.supersedes_id)
        if old is None:
            raise AssessmentError(f"supersedes_id: no assessment {body.supersedes_id}")
        if (old.country_iso3, old.risk_factor) != (iso3, body.risk_factor):
            raise AssessmentError(
                f"supersedes_id: assessment {old.id} is of {old.country_iso3}, factor "
                f"{old.risk_factor}, not {iso3}, factor {body.risk_factor}"
            )
        if old.status is not AssessmentStatus.APPROVED:
            raise AssessmentConflict(
                f"supersedes_id: assessment {old.id} is {old.status.value}; only an approved "
                "one can be superseded"
            )
    assessment = repository.add(
        session,
        Assessment(
            country_iso3=iso3,
            risk_factor=body.risk_factor,
            score=score,
            scale_label=label,
            confidence=body.confidence,
            evidence=body.evidence,
            links={"urls": [str(u) for u in body.links]},
            valid_from=start,
            valid_until=body.valid_until,
            status=AssessmentStatus.PENDING,
            author=principal.actor,
            author_key_id=principal.key_id,
            supersedes_id=body.supersedes_id,
        ),
    )
    _log(session, assessment, AssessmentEventKind.CREATED, principal.actor, None)
    return assessment


def _same_person(a: Assessment, principal: Actor) -> bool:
    """The author, by key, by account, or by the name on another key (one person may hold two
    keys)."""
    if a.author == principal.actor:
        return True
    if a.author_key_id is not None and a.author_key_id == principal.key_id:
        return True
    _, _, author_name = a.author.partition(":")[2].partition(":")
    return author_name.strip().casefold() == principal.name.strip().casefold()


def _pending(session: Session, assessment_id: int) -> Assessment:
    a = repository.get(session, assessment_id, for_update=True)
    if a is None:
        raise LookupError(f"no assessment {assessment_id}")
    if a.status is not AssessmentStatus.PENDING:
        raise AssessmentConflict(
            f"assessment {a.id} is {a.status.value}, not pending: only a pending assessment "
            "can be approved or rejected"
        )
    return a


def approve(
    session: Session, assessment_id: int, principal: Actor, *, note: str | None = None
) -> Assessment:
    """Four-eyes: a second analyst or an administrator, never the author, approves."""
    a = _pending(session, assessment_id)
    if _same_person(a, principal):
        raise AssessmentForbidden(
            f"assessment {a.id} was recorded by {a.author}: a second analyst or an "
            "administrator must approve it (four-eyes)"
        )
    now = utc_now()
    if a.supersedes_id is not None:
        old = repository.get(session, a.supersedes_id, for_update=True)
        if old is not None and old.status is AssessmentStatus.APPROVED:
            old.status = AssessmentStatus.SUPERSEDED
            old.ended_at = now
            session.flush()
            _log(
                session,
                old,
                AssessmentEventKind.SUPERSEDED,
                principal.actor,
                f"superseded by assessment {a.id}",
            )
    a.status = AssessmentStatus.APPROVED
    a.reviewer = principal.actor
    a.reviewed_at = now
    a.review_note = note
    session.flush()
    _log(session, a, AssessmentEventKind.APPROVED, principal.actor, note)
    return a


def reject(session: Session, assessment_id: int, principal: Actor, *, reason: str) -> Assessment:
    a = _pending(session, assessment_id)
    if _same_person(a, principal):
        raise AssessmentForbidden(
            f"assessment {a.id} was recorded by {a.author}: withdraw it instead of rejecting it"
        )
    a.status = AssessmentStatus.REJECTED
    a.reviewer = principal.actor
    a.reviewed_at = utc_now()
    a.review_note = reason
    session.flush()
    _log(session, a, AssessmentEventKind.REJECTED, principal.actor, reason)
    return a


def withdraw(session: Session, assessment_id: int, principal: Actor, *, reason: str) -> Assessment:
    """The author or an administrator takes back a pending or approved assessment."""
    a = repository.get(session, assessment_id, for_update=True)
    if a is None:
        raise LookupError(f"no assessment {assessment_id}")
    if not _same_person(a, principal) and principal.role is not Role.ADMIN:
        raise AssessmentForbidden(
            f"assessment {a.id} was recorded by {a.author}: only its author or an "
            "administrator may withdraw it"
        )
    if a.status not in (AssessmentStatus.PENDING, AssessmentStatus.APPROVED):
        raise AssessmentConflict(f"assessment {a.id} is {a.status.value}: nothing to withdraw")
    a.status = AssessmentStatus.WITHDRAWN
    a.ended_at = utc_now()
    session.flush()
    _log(session, a, AssessmentEventKind.WITHDRAWN, principal.actor, reason)
    return a


# --- reading --------------------------------------------------------------------------------


def out(a: Assessment, today: date | None = None) -> AssessmentOut:
    today = today or utc_now().date()
    approved = a.status is AssessmentStatus.APPROVED
    return AssessmentOut(
        id=a.id,
        country_iso3=a.country_iso3,
        risk_factor=a.risk_factor,
        score=a.score,
        scale_label=a.scale_label,
        confidence=a.confidence,
        evidence=a.evidence,
        links=list(a.links.get("urls", [])),
        valid_from=a.valid_from,
        valid_until=a.valid_until,
        status=a.status,
        expired=approved and a.valid_until < today,
        counts_today=approved and a.valid_from <= today <= a.valid_until,
        author=a.author,
        reviewer=a.reviewer,
        reviewed_at=a.reviewed_at,
        review_note=a.review_note,
        ended_at=a.ended_at,
        supersedes_id=a.supersedes_id,
        created_at=a.created_at,
    )


def detail(session: Session, a: Assessment) -> AssessmentDetail:
    return AssessmentDetail(
        **out(a).model_dump(),
        events=[AssessmentEventOut.model_validate(e) for e in repository.events(session, a.id)],
    )


def search(
    session: Session,
    *,
    iso3: str | None,
    risk_factor: int | None,
    status: str | None,
    approved_only: bool,
    limit: int,
    today: date | None = None,
) -> list[AssessmentOut]:
    """``status`` is a status, or 'expired' (approved, past valid_until) or 'current'
    (approved and valid today). Callers who may not assess see approved ones only."""
    today = today or utc_now().date()
    statuses: list[AssessmentStatus] | None = None
    until_before: date | None = None
    valid_after: date | None = None
    if status in ("expired", "current"):
        statuses = [AssessmentStatus.APPROVED]
        until_before = today if status == "expired" else None
        valid_after = today if status == "current" else None
    elif status is not None:
        statuses = [AssessmentStatus(status)]
    if approved_only:
        if statuses is not None and AssessmentStatus.APPROVED not in statuses:
            return []
        statuses = [AssessmentStatus.APPROVED]
    rows = repository.search(
        session,
        iso3=iso3,
        risk_factor=risk_factor,
        statuses=statuses,
        valid_until_before=until_before,
        valid_on_or_after=valid_after,
        limit=limit,
    )
    found = [out(a, today) for a in rows]
    if status == "current":
        found = [a for a in found if a.counts_today]
    return found


def counted(
    session: Session,
    config: AssessmentsConfig,
    as_of: date,
    *,
    vintage_as_of: datetime | None = None,
) -> list[CountedAssessment]:
    """The assessments a score dated ``as_of`` counts (see ``repository.counted_on``)."""
    return [
        CountedAssessment(
            id=a.id,
            iso3=a.country_iso3,
            risk_factor=a.risk_factor,
            score=a.score,
            confidence=a.confidence.value,
            confidence_weight=config.confidence_weights[a.confidence.value],
            author=a.author,
            reviewer=a.reviewer or "",
            approved_at=a.reviewed_at or a.created_at,
            valid_from=a.valid_from,
            valid_until=a.valid_until,
            evidence=a.evidence,
            links=list(a.links.get("urls", [])),
        )
        for a in repository.counted_on(session, as_of, vintage_as_of=vintage_as_of)
    ]
