"""Validated shapes of the files in ``config/``. Loading and error reporting: ``config.py``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from earlywarn.types import RiskLevel, Sphere

ActionCode = Annotated[str, Field(pattern=r"^[1-4]\.\d{1,2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- framework.yaml -------------------------------------------------------------------------


class RiskFactorConfig(_Strict):
    number: int = Field(ge=1, le=14)
    name: str
    kind: Literal["common", "specific"]
    crime: Literal["genocide", "crimes_against_humanity", "war_crimes"] | None = None
    description: str

    @model_validator(mode="after")
    def _crime_only_for_specific(self) -> RiskFactorConfig:
        if self.kind == "specific" and self.crime is None:
            raise ValueError("a specific risk factor must name its crime")
        if self.kind == "common" and self.crime is not None:
            raise ValueError("a common risk factor applies to all crimes; remove 'crime'")
        return self


class FrameworkConfig(_Strict):
    risk_factors: list[RiskFactorConfig]

    @field_validator("risk_factors")
    @classmethod
    def _all_fourteen(cls, factors: list[RiskFactorConfig]) -> list[RiskFactorConfig]:
        numbers = sorted(f.number for f in factors)
        if numbers != list(range(1, 15)):
            raise ValueError(f"expected risk factors 1..14 exactly once each, got {numbers}")
        return factors


# --- indicators.yaml ------------------------------------------------------------------------


class Direction(StrEnum):
    INCREASES_RISK = "increases_risk"
    DECREASES_RISK = "decreases_risk"


class Transform(StrEnum):
    IDENTITY = "identity"
    LOG1P = "log1p"  # natural log of (1 + x), for counts
    SQRT = "sqrt"


class BoundsNormalisation(_Strict):
    """Linear map of the transformed value from [lower, upper] onto [0, 1], clipped."""

    method: Literal["bounds"]
    lower: float
    upper: float

    @model_validator(mode="after")
    def _ordered(self) -> BoundsNormalisation:
        if not self.upper > self.lower:
            raise ValueError(f"upper ({self.upper}) must be greater than lower ({self.lower})")
        return self


class PercentileNormalisation(_Strict):
    """Share of countries in the same scoring run with a lower value (ties count half)."""

    method: Literal["percentile"]


Normalisation = Annotated[
    BoundsNormalisation | PercentileNormalisation, Field(discriminator="method")
]


class IndicatorConfig(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    risk_factor: int = Field(ge=1, le=14)
    variable: str = Field(min_length=1, description="Observation variable, e.g. ewp.discrimpop")
    source: str
    framework_indicators: list[str] = Field(default_factory=list)
    transform: Transform = Transform.IDENTITY
    direction: Direction
    normalisation: Normalisation
    weight: float = Field(gt=0, le=10)
    max_age_days: int = Field(gt=0)
    description: str = ""


class IndicatorsConfig(_Strict):
    indicators: list[IndicatorConfig]

    @field_validator("indicators")
    @classmethod
    def _unique_ids(cls, indicators: list[IndicatorConfig]) -> list[IndicatorConfig]:
        seen: set[str] = set()
        for ind in indicators:
            if ind.id in seen:
                raise ValueError(f"indicator id {ind.id!r} is used twice")
            seen.add(ind.id)
        return indicators


# --- actions.yaml ---------------------------------------------------------------------------


class ActionGroupConfig(_Strict):
    title: str
    for_imminent_risk: bool
    actions: list[str] = Field(min_length=1)


class ActionHeadingConfig(_Strict):
    code: ActionCode
    sphere: Sphere
    title: str
    groups: list[ActionGroupConfig] = Field(min_length=1)


class ActionsConfig(_Strict):
    source: str
    headings: list[ActionHeadingConfig]

    @field_validator("headings")
    @classmethod
    def _unique_codes(cls, headings: list[ActionHeadingConfig]) -> list[ActionHeadingConfig]:
        codes = [h.code for h in headings]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"action codes used twice: {duplicates}")
        return headings


# --- action_map.yaml ------------------------------------------------------------------------


class ActionMapConfig(_Strict):
    by_factor: dict[int, list[ActionCode]]
    by_level: dict[RiskLevel, list[ActionCode]] = Field(default_factory=dict)
    imminent_rows_from_level: RiskLevel = RiskLevel.EMERGENCY


# --- scoring.yaml ---------------------------------------------------------------------------


class LevelThresholds(_Strict):
    """Lower bound of the composite (0..1) for each rung of the ladder above 'low'."""

    concern: float = Field(gt=0, lt=1)
    warning: float = Field(gt=0, lt=1)
    emergency: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _increasing(self) -> LevelThresholds:
        if not self.concern < self.warning < self.emergency:
            raise ValueError("thresholds must increase: concern < warning < emergency")
        return self


class ScoringConfig(_Strict):
    methodology_version: str
    factor_weights: dict[int, float]
    min_factors_with_data: int = Field(ge=1, le=14)
    levels: LevelThresholds

    @field_validator("factor_weights")
    @classmethod
    def _known_factors(cls, weights: dict[int, float]) -> dict[int, float]:
        unknown = sorted(n for n in weights if not 1 <= n <= 14)
        if unknown:
            raise ValueError(f"unknown risk factor numbers {unknown}")
        negative = sorted(n for n, w in weights.items() if w < 0)
        if negative:
            raise ValueError(f"factor weights must be >= 0 (factors {negative})")
        return weights


# --- alerting.yaml --------------------------------------------------------------------------


class LevelAtLeastRule(_Strict):
    """Fires while the country's level is at least ``level``."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["level_at_least"]
    level: RiskLevel


class LevelRiseRule(_Strict):
    """Fires when the level rises above the previous run's level (and is at least
    ``min_level``); resolves when it falls back to the level it rose from."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["level_rise"]
    min_level: RiskLevel


AlertRule = Annotated[LevelAtLeastRule | LevelRiseRule, Field(discriminator="kind")]


class AlertingConfig(_Strict):
    rules: list[AlertRule] = Field(min_length=1)
    triggering_factor_min_score: float = Field(ge=0, le=1)
    max_triggering_factors: int = Field(ge=1, le=14)


# --- API output (framework router) ----------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class RiskFactorOut(_Out):
    number: int
    name: str
    kind: Literal["common", "specific"]
    crime: Literal["genocide", "crimes_against_humanity", "war_crimes"] | None
    description: str


class IndicatorSummaryOut(_Out):
    id: str
    name: str
    variable: str
    source: str
    direction: Direction
    weight: float
    max_age_days: int
    framework_indicators: list[str]


class RiskFactorDetailOut(RiskFactorOut):
    indicators: list[IndicatorSummaryOut]
    action_codes: list[str] = Field(description="Headings action_map.yaml maps to this factor")


class ActionGroupOut(_Out):
    title: str
    for_imminent_risk: bool
    actions: list[str]


class ActionHeadingOut(_Out):
    code: str
    sphere: Sphere
    title: str
    addresses_factors: list[int] = Field(description="Risk factors mapped to this heading")
    groups: list[ActionGroupOut]


class WeightSetOut(_Out):
    id: int
    version: int
    content_digest: str
    indicator_weights: dict[str, float]
    factor_weights: dict[str, float]
    created_at: datetime
    created_by: str
    note: str | None


class RecommendedRow(_Out):
    """One recommended-action row as it is stored in an alert's ``actions``."""

    text: str
    group: str
    for_imminent_risk: bool


class RecommendedHeading(_Out):
    code: str
    title: str
    sphere: Sphere
    addresses_factors: list[int]
    recommended_because: str
    actions: list[RecommendedRow]
