"""Request and response shapes of early action and the warning-response report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from earlywarn.alerting.response_models import ActionStatus
from earlywarn.types import RiskLevel, Sphere

_CODE = r"^[1-4]\.\d{1,2}\.\d{1,3}$"


class ActionIn(BaseModel):
    """A recommended row (``catalogue_code``, e.g. "4.3.1", from the alert's
    ``priority_actions`` or ``actions``) or a free-text action (``text`` and ``sphere``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "catalogue_code": "4.1.2",
                    "who_acts": "Permanent Mission in New York",
                    "status": "planned",
                    "due_date": "2026-12-20",
                },
                {
                    "text": "Brief the EU Political and Security Committee on the alert",
                    "sphere": "regional",
                    "who_acts": "Desk officer, Horn of Africa",
                    "status": "under_way",
                },
            ]
        },
        extra="forbid",
    )

    catalogue_code: str | None = Field(default=None, pattern=_CODE)
    text: str | None = Field(default=None, min_length=1, max_length=4000)
    sphere: Sphere | None = None
    who_acts: str = Field(min_length=1, max_length=200, description="Who carries it out")
    status: ActionStatus = ActionStatus.PLANNED
    dropped_reason: str | None = Field(default=None, min_length=1, max_length=2000)
    due_date: date | None = None
    outcome_note: str | None = Field(default=None, max_length=4000)

    @model_validator(mode="after")
    def _row_or_text(self) -> ActionIn:
        if self.catalogue_code is None and (self.text is None or self.sphere is None):
            raise ValueError("give a catalogue_code, or a free-text action with text and sphere")
        if self.status is ActionStatus.DROPPED and not self.dropped_reason:
            raise ValueError("a dropped action needs a dropped_reason")
        return self


class ActionPatch(BaseModel):
    """The fields to change; those left out stay as they are."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "done",
                    "outcome_note": "Council consultations held on 18 December.",
                },
                {
                    "status": "dropped",
                    "dropped_reason": "Superseded by a joint démarche with regional partners.",
                },
            ]
        },
        extra="forbid",
    )

    who_acts: str | None = Field(default=None, min_length=1, max_length=200)
    status: ActionStatus | None = None
    dropped_reason: str | None = Field(default=None, min_length=1, max_length=2000)
    due_date: date | None = None
    outcome_note: str | None = Field(default=None, max_length=4000)


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    alert_id: int
    catalogue_code: str | None
    text: str
    sphere: Sphere
    who_acts: str
    status: ActionStatus
    dropped_reason: str | None
    due_date: date | None
    outcome_note: str | None
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class ResponseRow(BaseModel):
    alert_id: int
    rule_id: str
    country_iso3: str | None
    region: str | None
    level: RiskLevel
    state: str
    opened_at: datetime
    acknowledged_at: datetime | None
    first_action_at: datetime | None
    resolved_at: datetime | None
    hours_to_acknowledgement: float | None
    hours_to_first_action: float | None
    hours_to_resolution: float | None
    actions: int
    actions_done: int


class MedianHours(BaseModel):
    alerts: int
    to_acknowledgement: float | None
    to_first_action: float | None
    to_resolution: float | None


class WarningResponseReport(BaseModel):
    generated_at: datetime
    open_days: int
    alerts: list[ResponseRow]
    overall: MedianHours
    by_region: dict[str, MedianHours]
    by_level: dict[str, MedianHours]
    open_without_action: list[ResponseRow] = Field(
        description="Open alerts older than open_days with no recorded action"
    )
    totals: dict[str, Any]
