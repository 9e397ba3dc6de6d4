from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.encryption import EncryptedText
from earlywarn.types import Role, enum_column


class ApiKey(Base):
    """An API key. Only its SHA-256 digest is stored; the key is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    key_prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    focal_point_id: Mapped[int | None] = mapped_column(ForeignKey("focal_points.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class FocalPoint(Base):
    """A person or office that receives alerts and is expected to act on them.

    Its table sits here, below notify, because both stages use it: an API key acts for a
    focal point (auth), and notify delivers to it and escalates through it.
    """

    __tablename__ = "focal_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    # Escalation: the tier this focal point answers for (config/alerting.yaml escalation.tiers)
    # and the region it covers there (null: every region).
    escalation_tier: Mapped[str | None] = mapped_column(String(32))
    region: Mapped[str | None] = mapped_column(String(64))
    # Administrators receive operational alerts and notices about disabled endpoints.
    is_administrator: Mapped[bool] = mapped_column(Boolean, default=False)
    # Standard Webhooks secrets ("whsec_" + base64), stored encrypted (earlywarn.encryption).
    # During rotation the previous secret also signs, so a receiver can switch at its own pace.
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText)
    webhook_secret_previous: Mapped[str | None] = mapped_column(EncryptedText)
    webhook_previous_expires_at: Mapped[datetime | None]
    webhook_consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    webhook_disabled_at: Mapped[datetime | None]
    webhook_disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The same for the e-mail address: SMTP refusals and failures count like webhook ones.
    email_consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    email_disabled_at: Mapped[datetime | None]
    email_disabled_reason: Mapped[str | None] = mapped_column(Text)
