"""Per-consumer CAP feed tokens, for readers that cannot send an API-key header (many feed
readers and alerting hubs only take a URL). A token is a random secret in the feed's URL,
stored as its SHA-256 digest (like API keys: high-entropy secrets need no slow hash), shown
once at creation, revocable; it reads the restricted feed and nothing else."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from earlywarn.db import Base, utc_now

TOKEN_PREFIX = "ewcap_"


class CapFeedToken(Base):
    __tablename__ = "cap_feed_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(128))
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def create_token(session: Session, *, name: str, actor: str) -> tuple[CapFeedToken, str]:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = CapFeedToken(name=name, token_hash=_digest(raw), created_at=utc_now(), created_by=actor)
    session.add(token)
    session.flush()
    return token, raw


def list_tokens(session: Session) -> list[CapFeedToken]:
    return list(session.scalars(select(CapFeedToken).order_by(CapFeedToken.id)))


def revoke(session: Session, token_id: int) -> CapFeedToken | None:
    token = session.get(CapFeedToken, token_id)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utc_now()
    return token


def valid_token(session: Session, raw: str) -> CapFeedToken | None:
    """The active token ``raw`` is, recording its use; None for unknown or revoked ones."""
    token = session.scalars(
        select(CapFeedToken).where(CapFeedToken.token_hash == _digest(raw))
    ).one_or_none()
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = utc_now()
    return token
