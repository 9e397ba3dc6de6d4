"""The ``priority`` section of ``config/action_map.yaml``: how an alert's first actions are
ranked (the model is described in docs/priority-actions.md).

Kept apart from ``framework.schemas`` so the ranking can change without touching the rest of
the configuration schema; ``ActionMapConfig`` embeds it and checks it against ``by_factor``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

_Code = Annotated[str, Field(pattern=r"^[1-4]\.\d{1,2}$")]


class PriorityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_actions: int = Field(
        default=7, ge=1, le=20, description="At most this many priority actions per alert."
    )
    strong_mapping_weight: float = Field(
        default=1.0,
        gt=0,
        le=10,
        description="Weight of a heading listed under 'strong' for a triggering factor.",
    )
    mapped_weight: float = Field(
        default=0.4,
        ge=0,
        le=10,
        description="Weight of a heading only mapped (by_factor) to a triggering factor.",
    )
    level_weight: float = Field(
        default=0.05,
        ge=0,
        le=10,
        description="Added for a heading that by_level recommends at the alert's level.",
    )
    rows_per_heading: int = Field(
        default=2,
        ge=1,
        le=5,
        description="At most this many priority actions from one heading.",
    )
    further_row_factor: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A heading's second table's lead row scores this share of the first's.",
    )
    strong: dict[int, list[_Code]] = Field(
        default_factory=dict,
        description="Per risk factor, the mapped headings that answer it most directly.",
    )

    @model_validator(mode="after")
    def _weights_ordered(self) -> PriorityConfig:
        if self.mapped_weight > self.strong_mapping_weight:
            raise ValueError("mapped_weight must not exceed strong_mapping_weight")
        return self
