from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import RiskLevel, enum_column


class AlertState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertEventKind(StrEnum):
    OPENED = "opened"
    ESCALATED = "escalated"
    DEESCALATED = "deescalated"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Alert(Base):
    """At most one open (not resolved) alert per dedup key ``{rule}:{iso3}``."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("state <> 'resolved'"),
            postgresql_where=text("state <> 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    country_iso3: Mapped[str] = mapped_column(ForeignKey("countries.iso3"), index=True)
    dedup_key: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[AlertState] = mapped_column(
        enum_column(AlertState, "state"), default=AlertState.FIRING
    )
    level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel, "level"))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column()
    actions: Mapped[dict[str, Any]] = mapped_column()
    opened_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None]
    opened_score_run_id: Mapped[int] = mapped_column(ForeignKey("score_runs.id"))
    latest_score_id: Mapped[int] = mapped_column(ForeignKey("country_scores.id"))


class AlertEvent(Base):
    """Append-only audit trail of every change to an alert."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    kind: Mapped[AlertEventKind] = mapped_column(enum_column(AlertEventKind, "kind"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(128), default="system")
    from_level: Mapped[RiskLevel | None] = mapped_column(enum_column(RiskLevel, "from_level"))
    to_level: Mapped[RiskLevel | None] = mapped_column(enum_column(RiskLevel, "to_level"))
    score_run_id: Mapped[int | None] = mapped_column(ForeignKey("score_runs.id"))
    note: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
