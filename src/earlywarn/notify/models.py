from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import RiskLevel, enum_column


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class Purpose(StrEnum):
    """Why an outbox message exists."""

    ALERT = "alert"  # an alert event, to the subscribers it matches
    ESCALATION = "escalation"  # unacknowledged: the next tier of the frozen chain
    REMINDER = "reminder"  # still unacknowledged: everyone notified so far, again
    OPERATIONAL = "operational"  # to administrators: operational alerts, disabled endpoints
    # Acknowledged: the escalation tiers already paged, who are not subscribers, learn it.
    ACKNOWLEDGEMENT = "acknowledgement"
    # A new subscription: the alerts already open that it matches, each sent once.
    ALREADY_OPEN = "already_open"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Subscription(Base):
    """Which alerts a focal point receives. Every criterion that is set must match (AND):
    country, region, minimum level and rule kinds; an unset one matches everything."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    focal_point_id: Mapped[int] = mapped_column(ForeignKey("focal_points.id"), index=True)
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
    region: Mapped[str | None] = mapped_column(String(64))
    rule_kinds: Mapped[list[str] | None] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
    min_level: Mapped[RiskLevel] = mapped_column(
        enum_column(RiskLevel, "min_level"), default=RiskLevel.WARNING
    )
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class OutboxMessage(Base):
    """A notification owed to a focal point, written in the same transaction as the alert
    change that caused it. Delivery workers read pending rows; the row is the contract."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    alert_event_id: Mapped[int | None] = mapped_column(ForeignKey("alert_events.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    purpose: Mapped[str] = mapped_column(String(16), default=Purpose.ALERT.value)
    focal_point_id: Mapped[int] = mapped_column(ForeignKey("focal_points.id"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column(OutboxStatus, "status"), default=OutboxStatus.PENDING, index=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]
    # A worker that claims the row owns it until then; a worker killed mid-delivery leaves a
    # lease that expires, and the row is claimed again (at-least-once).
    lease_until: Mapped[datetime | None]

    @property
    def webhook_id(self) -> str:
        """The Standard Webhooks ``webhook-id``: the same on every attempt, so receivers dedup."""
        return f"msg_earlywarn_{self.id}"


class DeliveryAttempt(Base):
    """One try at delivering one outbox message: who can prove who was told what, and when."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    # delivered | retry (will try again) | permanent (refused, e.g. 4xx) | exhausted | held
    outcome: Mapped[str] = mapped_column(String(16))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class OutboxMessageAlert(Base):
    """The other alerts one message carries when several rules fire for a country in one run
    (one message per recipient, country and run); the message row names the lead alert and
    event itself. Queries about "who was told about alert X" read both."""

    __tablename__ = "outbox_message_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    alert_event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"), index=True)
