from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from earlywarn.scoring.models import ScoreRunStatus
from earlywarn.types import RiskLevel


class ScoreRunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    status: ScoreRunStatus
    as_of: date
    weight_set_id: int
    methodology_version: str
    started_at: datetime
    finished_at: datetime | None
    countries_scored: int
    error: str | None


class FactorSummary(BaseModel):
    number: int
    name: str
    score: float | None
    coverage: float


class CountryScoreOut(BaseModel):
    rank: int | None
    iso3: str
    name: str
    composite: float | None
    level: RiskLevel | None
    coverage: float
    factors_with_data: int
    factors: list[FactorSummary]
    score_run_id: int
    as_of: date
    weight_set_id: int
    methodology_version: str


class RankedScores(BaseModel):
    run: ScoreRunOut
    count: int
    scores: list[CountryScoreOut]


class CountryScoreDetail(CountryScoreOut):
    """One score with the full breakdown: every factor and every indicator behind it."""

    breakdown: dict[str, Any]
