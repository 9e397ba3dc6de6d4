from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, JSONType, utc_now
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
    REOPENED = "reopened"
    # Nobody acknowledged in time: the next tier of the frozen escalation chain was notified.
    TIER_ESCALATED = "tier_escalated"
    REMINDED = "reminded"
    # An administrator re-queued deliveries of the alert that had failed (details: message ids).
    DELIVERY_REQUEUED = "delivery_requeued"
    # Early action (alerting.responses): an action recorded on the alert, or changed.
    ACTION_RECORDED = "action_recorded"
    ACTION_UPDATED = "action_updated"
    # Acknowledged, but no action recorded in time: escalating again (alerting.no_action).
    ACTION_OVERDUE = "action_overdue"


class Alert(Base):
    """At most one open (not resolved) alert per dedup key ``{rule}:{subject}``.

    The subject is a country (ISO3) for risk rules and a data source id for the operational
    ``source_health`` rule; operational alerts have no country and no score.
    """

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
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"), index=True)
    subject: Mapped[str] = mapped_column(String(64), default="")
    rule_kind: Mapped[str] = mapped_column(String(32), default="")
    operational: Mapped[bool] = mapped_column(Boolean, default=False)
    dedup_key: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[AlertState] = mapped_column(
        enum_column(AlertState, "state"), default=AlertState.FIRING
    )
    level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel, "level"))
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column()
    actions: Mapped[dict[str, Any]] = mapped_column()
    # The few rows to take first, ranked (framework.priority); [] for operational alerts.
    priority_actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    opened_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    opened_score_run_id: Mapped[int | None] = mapped_column(ForeignKey("score_runs.id"))
    latest_score_id: Mapped[int | None] = mapped_column(ForeignKey("country_scores.id"))
    # Frozen when the alert opens (Grafana OnCall's raw_escalation_snapshot): editing the
    # configuration or the focal points later does not change who an open alert escalates to.
    escalation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(index=True)

    @property
    def country_level(self) -> RiskLevel | None:
        """The country's level on the ladder when the alert was last written; ``level`` is
        the alert's severity, which a risk_factor rule sets above it."""
        value = (self.evidence or {}).get("level")
        return RiskLevel(value) if value else None


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


class AlertRuleState(Base):
    """Per rule and subject, how many consecutive runs the enter (or exit) condition held.

    This is what ``for_runs`` and ``exit_for_runs`` count, so hysteresis survives restarts and
    does not depend on re-reading history.
    """

    __tablename__ = "alert_rule_states"

    dedup_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    enter_streak: Mapped[int] = mapped_column(Integer, default=0)
    exit_streak: Mapped[int] = mapped_column(Integer, default=0)
    last_value: Mapped[float | None] = mapped_column(Float)
    # For cooldown_days: when (by the run's as-of date) and which alert last resolved.
    last_resolved_on: Mapped[date | None]
    last_alert_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
