"""Human accounts for the web interface: users, their sessions and failed logins.

API keys stay for machines; people sign in with an e-mail and a password. A user has the same
roles as a key, and a focal-point user acts for its focal point.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now
from earlywarn.types import Role, enum_column


class User(Base):
    """A person. Only an argon2 hash of the password is stored."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Stored lower-cased, so one address cannot be registered twice in different cases.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"))
    focal_point_id: Mapped[int | None] = mapped_column(ForeignKey("focal_points.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    password_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    last_login_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 digest is kept,
    so a stolen database cannot be replayed as a cookie, and logging out really ends it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Every form of this session carries this token (CSRF); it is random per session.
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]


class LoginFailure(Base):
    """One failed sign-in, kept for the throttling window (by address and by client)."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_email_at", "email", "attempted_at"),
        Index("ix_login_failures_client_at", "client", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(default=utc_now)
