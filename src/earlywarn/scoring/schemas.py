from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    vintage_as_of: datetime | None = None
    max_ingest_run_id: int | None = None
    # False for a backfilled history run (or one scored for a date older than the newest
    # run's): alerts were not evaluated on it and alert rules do not read it.
    alerts_evaluated: bool = True


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
    insufficient_data: bool = Field(
        default=False,
        description="Coverage below min_coverage_for_level: the level is at most 'concern'",
    )
    insufficient_data_reason: str | None = None
    factors_with_data: int
    factors: list[FactorSummary]
    armed_conflict: bool | None = Field(
        default=None,
        description="In armed conflict (factors 13 and 14 apply); null when no conflict data "
        "is fresh",
    )
    points_to: list[str] = Field(
        default_factory=list,
        description="Crimes whose specific risk factors reach 'concern', strongest first "
        "(genocide, crimes_against_humanity, war_crimes)",
    )
    score_run_id: int
    as_of: date
    weight_set_id: int
    methodology_version: str


class FactorName(BaseModel):
    number: int
    name: str


class FactorScore(BaseModel):
    number: int
    score: float | None
    coverage: float


class RankedCountryScore(CountryScoreOut):
    """A row of ``GET /scores/latest``: the factors without their names, which the response
    gives once in ``factors`` (they were 14 repeated names in every row, most of the body)."""

    factors: list[FactorScore]  # type: ignore[assignment]


class RankedScores(BaseModel):
    run: ScoreRunOut
    factors: list[FactorName] = Field(
        description="The risk factors' numbers and names, once; rows refer to them by number."
    )
    count: int
    scores: list[RankedCountryScore]


class CountryScoreDetail(CountryScoreOut):
    """One score with the full breakdown: every factor and every indicator behind it."""

    breakdown: dict[str, Any]


class ScoreExplanation(BaseModel):
    """Terms that add up to the composite: each factor's term is its share of the composite
    times its score, and the sum of its indicators' terms (share x contribution) and of its
    approved analyst assessments' terms (each with author, reviewer, dates and evidence)."""

    iso3: str
    score_run_id: int
    as_of: date
    weight_set_id: int
    weight_set_version: int
    methodology_version: str
    composite: float | None
    level: RiskLevel | None
    sum_of_factor_terms: float
    sum_of_indicator_terms: float
    sum_of_assessment_terms: float = Field(
        default=0.0,
        description="With sum_of_indicator_terms, the composite: analyst assessments count "
        "as terms of their own",
    )
    factors: list[dict[str, Any]]
    change_since_previous: dict[str, Any] | None = Field(
        description="Change from the country's previous run: data per factor and weights"
    )
    previous_score_run_id: int | None


class RunComparisonRow(BaseModel):
    """One country in two runs; rows come largest absolute change first."""

    iso3: str
    name: str
    composite_before: float | None
    composite_after: float | None
    level_before: RiskLevel | None
    level_after: RiskLevel | None
    rank_before: int | None
    rank_after: int | None
    change: float | None
    data_change: float | None
    weights_change: float | None


class RunComparison(BaseModel):
    base: ScoreRunOut
    other: ScoreRunOut
    countries: list[RunComparisonRow]
