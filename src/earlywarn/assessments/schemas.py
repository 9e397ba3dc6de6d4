"""Shapes of the assessments API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from earlywarn.assessments.models import AssessmentEventKind, AssessmentStatus, Confidence

# Free text goes into the audit log on either backend; PostgreSQL cannot store a NUL byte.
_NO_NUL = r"^[^\x00]*$"
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000, pattern=_NO_NUL)
]


class AssessmentIn(BaseModel):
    """A new assessment. Give either ``score`` (0 to 1) or ``level`` (a word of the ordinal
    scale in config/assessments.yaml, e.g. 'moderate'), not both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "country_iso3": "MMR",
                    "risk_factor": 12,
                    "level": "high",
                    "confidence": "medium",
                    "evidence": "UN special rapporteur's report of 3 November: curfews and "
                    "checkpoints isolate Rakhine townships ahead of the military operation.",
                    "links": ["https://www.ohchr.org/en/special-procedures/sr-myanmar"],
                    "valid_until": "2027-06-30",
                }
            ]
        },
    )

    country_iso3: str = Field(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3")
    risk_factor: int = Field(ge=1, le=14, description="Risk factor of the Framework, 1 to 14")
    score: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    level: str | None = Field(default=None, max_length=32)
    confidence: Confidence
    evidence: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=20, max_length=20_000, pattern=_NO_NUL),
    ] = Field(description="What the judgement rests on: sources, events, reasoning")
    links: list[AnyHttpUrl] = Field(default_factory=list, max_length=50)
    valid_from: date | None = Field(default=None, description="Default: today")
    valid_until: date
    supersedes_id: int | None = Field(
        default=None,
        ge=1,
        le=2_147_483_647,
        description="An approved assessment of the same country and factor that this one "
        "replaces once approved",
    )

    @model_validator(mode="after")
    def _score_or_level(self) -> AssessmentIn:
        if (self.score is None) == (self.level is None):
            raise ValueError("give either 'score' (0 to 1) or 'level' (an ordinal word)")
        return self


class ReviewIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"note": "Sources checked; the level is supported."}]},
    )

    note: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000, pattern=_NO_NUL)]
        | None
    ) = None


class ReasonIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"reason": "The cited report was withdrawn by its authors."}]
        },
    )

    reason: Reason = Field(description="Why; kept in the audit log")


class AssessmentEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    assessment_id: int
    kind: AssessmentEventKind
    actor: str
    reason: str | None
    created_at: datetime


class AssessmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    country_iso3: str
    risk_factor: int
    score: float
    scale_label: str | None
    confidence: Confidence
    evidence: str
    links: list[str]
    valid_from: date
    valid_until: date
    status: AssessmentStatus
    expired: bool = Field(description="Approved but past valid_until: it no longer counts")
    counts_today: bool = Field(description="Approved and valid today: scoring runs use it")
    author: str
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str | None
    ended_at: datetime | None
    supersedes_id: int | None
    created_at: datetime


class AssessmentDetail(AssessmentOut):
    events: list[AssessmentEventOut]
