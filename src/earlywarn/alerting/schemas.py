from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from earlywarn.alerting.models import AlertEventKind, AlertState
from earlywarn.types import RiskLevel, Sphere


class AlertEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: AlertEventKind
    at: datetime
    actor: str
    from_level: RiskLevel | None
    to_level: RiskLevel | None
    score_run_id: int | None
    note: str | None
    details: dict[str, Any]


class AlertSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    rule_kind: str
    operational: bool
    subject: str
    country_iso3: str | None
    dedup_key: str
    state: AlertState
    level: RiskLevel = Field(
        description="The alert's severity: the country's ladder level for level rules, the "
        "rule's own level for risk_factor and onset_probability rules"
    )
    country_level: RiskLevel | None = Field(
        default=None, description="The country's level on the ladder (what the scores say)"
    )
    summary: str
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    escalation_step: int
    next_escalation_at: datetime | None


class PriorityActionOut(BaseModel):
    """One of the few actions to take first (docs/priority-actions.md)."""

    rank: int
    sphere: Sphere
    code: str = Field(description="Catalogue row: heading code and row number, e.g. 4.3.1")
    heading_code: str
    heading_title: str
    group: str
    text: str
    imminent: bool = Field(description="From a table for an imminent risk or commission")
    score: float
    why: dict[str, Any] = Field(description="The factors (score, share, mapping) and level")


class AlertOut(AlertSummaryOut):
    """An alert with its priority actions, its evidence, its recommended actions by sphere
    (the whole catalogue selection), and its history."""

    priority_actions: list[PriorityActionOut]
    evidence: dict[str, Any]
    actions: dict[str, Any]
    escalation: dict[str, Any]
    events: list[AlertEventOut]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"note": "Seen; the desk is preparing a briefing for the Minister."}]
        }
    )

    note: str | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"reason": "Opened on thin evidence; reviewed with the country team."}]
        }
    )

    reason: str = Field(min_length=1, max_length=2000, description="Kept in the audit trail.")
