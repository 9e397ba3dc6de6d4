from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from earlywarn.alerting.models import AlertEventKind, AlertState
from earlywarn.types import RiskLevel


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


class AlertSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    rule_id: str
    country_iso3: str
    dedup_key: str
    state: AlertState
    level: RiskLevel
    summary: str
    opened_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


class AlertOut(AlertSummaryOut):
    """An alert with its evidence, its recommended actions by sphere, and its history."""

    evidence: dict[str, Any]
    actions: dict[str, Any]
    events: list[AlertEventOut]


class AcknowledgeIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
