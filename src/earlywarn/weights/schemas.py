"""Shapes of the weight-set administration API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from earlywarn.framework.schemas import WeightSetOut
from earlywarn.types import RiskLevel
from earlywarn.weights.models import WeightSetEventKind

# Range and finiteness are checked by the service, whose message names the key (a validation
# error would echo a NaN input, which JSON cannot carry back). Strict: a boolean or a string is
# not a weight (lax parsing would read true as 1.0).
Weight = Annotated[float, Strict()]
MAX_WEIGHT = 1000.0
# Free text goes into the audit log on either backend; PostgreSQL cannot store a NUL byte, so
# neither accepts one.
_NO_NUL = r"^[^\x00]*$"


class WeightProposal(BaseModel):
    """New weights, relative to the active set: ids left out keep their active weight.

    Weights are relative. Inside a risk factor only the ratios of its indicators' weights
    matter; across factors only the ratios of the factor weights. Multiplying every weight by
    the same number changes no score. A weight of 0 leaves an indicator or factor out. A
    factor with a positive weight must keep at least one indicator with a positive weight
    (set the factor's weight to 0 to drop it), and at least one factor must have one.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "factor_weights": {"1": 2.0},
                    "indicator_weights": {"battle_deaths": 1.5},
                    "note": "More weight on armed conflict",
                }
            ]
        },
        extra="forbid",
    )

    indicator_weights: dict[str, Weight] = Field(
        default_factory=dict,
        description="Indicator ids, and 'assessment.1' to 'assessment.14': the weight of the "
        "approved analyst assessments of that factor beside its indicators (0, the default, "
        "leaves them out wherever the factor has indicator data)",
    )
    factor_weights: dict[str, Weight] = Field(
        default_factory=dict, description="Keys are risk-factor numbers '1' to '14'"
    )
    note: str | None = Field(default=None, max_length=2000, pattern=_NO_NUL)


class ApplyRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"reason": "Weigh recent violence more, as the methodology review agreed."}
            ]
        },
        extra="forbid",
    )

    # Stripped first: a reason of blanks is no reason.
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=3, max_length=2000, pattern=_NO_NUL),
    ] = Field(description="Why; kept in the audit log")


class RollbackRequest(ApplyRequest):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "to_weight_set_id": 4,
                    "reason": "Levels moved that nobody could explain; back to the reviewed set.",
                }
            ]
        }
    )

    to_weight_set_id: int = Field(ge=1, le=2_147_483_647)


class WeightSetEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    weight_set_id: int
    kind: WeightSetEventKind
    previous_weight_set_id: int | None
    actor: str
    reason: str
    diff: dict[str, Any]
    created_at: datetime


class WeightSetDetail(WeightSetOut):
    active: bool
    ever_active: bool
    score_runs: int = Field(description="Scoring runs that used this set (it is immutable)")
    events: list[WeightSetEventOut]


class LevelChange(BaseModel):
    iso3: str
    composite_before: float | None
    composite_after: float | None
    level_before: RiskLevel | None
    level_after: RiskLevel | None


class RankMove(BaseModel):
    iso3: str
    rank_before: int | None
    rank_after: int | None
    move: int | None = Field(description="Positive: moves up (towards rank 1)")


class AlertChange(BaseModel):
    """An alert whose state after the next run depends on the weights."""

    rule_id: str
    iso3: str
    level: RiskLevel | None = Field(description="The level it would have while open")
    open_now: bool = Field(
        description="Open now: closing means it would resolve, opening that it would stay "
        "open where the current weights would resolve it"
    )


class WeightPreview(BaseModel):
    weight_set_id: int
    compared_with_weight_set_id: int
    score_run_id: int = Field(description="The run whose stored contributions were re-scored")
    countries: int
    level_changes: list[LevelChange]
    rank_moves: list[RankMove]
    alerts_opening: list[AlertChange]
    alerts_reopening: list[AlertChange] = Field(
        description="Alerts that would fire again: the condition returns within the rule's "
        "cooldown_days of the alert resolving (for a run dated today), so the resolved alert "
        "reopens instead of a new one opening"
    )
    alerts_closing: list[AlertChange]


class ProposalOut(BaseModel):
    weight_set: WeightSetDetail
    created: bool = Field(description="False when identical weights already had a set")
    preview: WeightPreview | None
