from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import RiskLevel, enum_column


class Channel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class FocalPoint(Base):
    """A person or office that receives alerts and is expected to act on them."""

    __tablename__ = "focal_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Subscription(Base):
    """Which alerts a focal point receives: one country (or all), from a minimum level."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    focal_point_id: Mapped[int] = mapped_column(ForeignKey("focal_points.id"), index=True)
    country_iso3: Mapped[str | None] = mapped_column(ForeignKey("countries.iso3"))
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
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    alert_event_id: Mapped[int] = mapped_column(ForeignKey("alert_events.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
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
