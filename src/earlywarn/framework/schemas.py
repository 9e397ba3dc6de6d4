"""What the framework routes return: risk factors, actions, weight sets, and the recommended
actions stored on an alert. The configuration files' shapes are in ``config_schemas.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from earlywarn.framework.config_schemas import Direction
from earlywarn.types import Sphere


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
