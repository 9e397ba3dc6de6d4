"""The ``early_action`` section of ``config/alerting.yaml``: when an acknowledged alert with no
recorded action escalates again, and what the warning-response report calls overdue."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EarlyActionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report_open_days: int = Field(
        default=14,
        ge=1,
        le=3650,
        description="The warning-response report lists open alerts older than this with no "
        "recorded action.",
    )
