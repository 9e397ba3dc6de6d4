"""Analyst assessments and their append-only audit log."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Mapper, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import enum_column


class AssessmentStatus(StrEnum):
    PENDING = "pending"  # recorded, waiting for a second person
    APPROVED = "approved"  # counts in scores between valid_from and valid_until
    REJECTED = "rejected"  # the reviewer said why; never counts
    WITHDRAWN = "withdrawn"  # taken back by its author or an administrator
    SUPERSEDED = "superseded"  # replaced by a newer approved assessment


class Confidence(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class AssessmentEventKind(StrEnum):
    CREATED = "created"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"


class Assessment(Base):
    """One analyst's judgement of one risk factor in one country, for a period."""

    __tablename__ = "assessments"
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 1", name="score_range"),
        CheckConstraint("risk_factor >= 1 AND risk_factor <= 14", name="risk_factor_range"),
        CheckConstraint("valid_until >= valid_from", name="valid_period"),
        Index("ix_assessments_country_factor", "country_iso3", "risk_factor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    country_iso3: Mapped[str] = mapped_column(ForeignKey("countries.iso3"))
    risk_factor: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    # The ordinal label the analyst chose (config/assessments.yaml ordinal_scale), if any.
    scale_label: Mapped[str | None] = mapped_column(String(32))
    confidence: Mapped[Confidence] = mapped_column(enum_column(Confidence, "confidence"))
    evidence: Mapped[str] = mapped_column(Text)
    links: Mapped[dict[str, Any]] = mapped_column()  # {"urls": [...]}
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    status: Mapped[AssessmentStatus] = mapped_column(
        enum_column(AssessmentStatus, "status"), index=True
    )
    author: Mapped[str] = mapped_column(String(128))
    author_key_id: Mapped[int | None] = mapped_column(Integer)
    reviewer: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)  # the reason of a rejection
    # When it stopped counting (withdrawn or superseded); scores of an earlier data vintage
    # still see it.
    ended_at: Mapped[datetime | None]
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("assessments.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AssessmentEvent(Base):
    """One change of an assessment: who, when, why, and the assessment as it was after."""

    __tablename__ = "assessment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    kind: Mapped[AssessmentEventKind] = mapped_column(enum_column(AssessmentEventKind, "kind"))
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    snapshot: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class AuditEventIsAppendOnly(RuntimeError):
    """An attempt to change an assessment event in place."""


@event.listens_for(AssessmentEvent, "before_update")
def _append_only(_mapper: Mapper[Any], _conn: Connection, target: AssessmentEvent) -> None:
    raise AuditEventIsAppendOnly(f"assessment event {target.id} is part of the audit log")
