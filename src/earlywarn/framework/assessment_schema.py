"""Validated shape of ``config/assessments.yaml``: how analyst assessments are scored."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Score = Annotated[float, Field(ge=0, le=1)]


class AssessmentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Ordinal labels an analyst may give instead of a number, and the 0-1 score each stands for.
    ordinal_scale: dict[str, Score] = Field(
        default_factory=lambda: {
            "none": 0.0,
            "low": 0.25,
            "moderate": 0.5,
            "high": 0.75,
            "very_high": 1.0,
        }
    )
    # Weight of one assessment among the others of the same country and factor.
    confidence_weights: dict[str, Annotated[float, Field(gt=0, le=100)]] = Field(
        default_factory=lambda: {"low": 0.5, "medium": 1.0, "high": 2.0}
    )
    # Factors whose assessments count where no indicator has fresh data, whatever the weight set.
    evidence_factors: list[int] = Field(default_factory=lambda: [10, 12, 14])
    # Weight of the assessments inside a factor (beside its indicators) in the weight set that
    # the configuration defines, as weight-set entries "assessment.<factor>". A factor left
    # out has 0: its assessments do not blend into indicator data.
    blend_weights: dict[int, Annotated[float, Field(ge=0, le=1000)]] = Field(default_factory=dict)
    # Longest validity an assessment may have (valid_until - valid_from).
    max_validity_days: int = Field(default=730, ge=1, le=3660)

    @field_validator("confidence_weights")
    @classmethod
    def _three_levels(cls, weights: dict[str, float]) -> dict[str, float]:
        if set(weights) != {"low", "medium", "high"}:
            raise ValueError(f"expected exactly low, medium and high, got {sorted(weights)}")
        return weights

    @field_validator("evidence_factors")
    @classmethod
    def _factors(cls, factors: list[int]) -> list[int]:
        unknown = sorted(n for n in factors if not 1 <= n <= 14)
        if unknown:
            raise ValueError(f"unknown risk factor numbers {unknown}")
        return factors

    @field_validator("blend_weights")
    @classmethod
    def _blend_factors(cls, weights: dict[int, float]) -> dict[int, float]:
        unknown = sorted(n for n in weights if not 1 <= n <= 14)
        if unknown:
            raise ValueError(f"unknown risk factor numbers {unknown}")
        return weights

    @field_validator("ordinal_scale")
    @classmethod
    def _labels(cls, scale: dict[str, float]) -> dict[str, float]:
        if not scale:
            raise ValueError("give at least one label")
        return scale


def assessment_weight_key(factor: int) -> str:
    """The weight-set entry (in ``indicator_weights``) of a factor's assessments."""
    return f"assessment.{factor}"


def assessment_weight_factor(key: str) -> int | None:
    """The factor of an ``assessment.<n>`` weight-set key, None for any other key."""
    prefix, _, number = key.partition(".")
    if prefix != "assessment" or not number.isdigit() or not 1 <= int(number) <= 14:
        return None
    return int(number)
