"""Queries for users, web sessions and failed logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from earlywarn.auth.account_models import LoginFailure, User, WebSession


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email)).one_or_none()


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def add(session: Session, row: User | WebSession | LoginFailure) -> None:
    session.add(row)
    session.flush()


def session_by_token_hash(session: Session, token_hash: str) -> WebSession | None:
    return session.scalars(
        select(WebSession).where(WebSession.token_hash == token_hash)
    ).one_or_none()


def delete_sessions(session: Session, user_id: int, *, keep_id: int | None = None) -> None:
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if keep_id is not None:
        query = query.where(WebSession.id != keep_id)
    session.execute(query)


def delete_session(session: Session, session_id: int) -> None:
    session.execute(delete(WebSession).where(WebSession.id == session_id))


def delete_expired_sessions(session: Session, now: datetime) -> None:
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))


def failures_since(
    session: Session, *, email: str, client: str, since: datetime
) -> tuple[int, int]:
    """Failed logins since ``since``: (for this address, from this client)."""
    by_email = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email == email, LoginFailure.attempted_at > since)
    )
    by_client = session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.client == client, LoginFailure.attempted_at > since)
    )
    return int(by_email or 0), int(by_client or 0)


def oldest_failure_since(
    session: Session, *, email: str, client: str, since: datetime
) -> datetime | None:
    return session.scalar(
        select(func.min(LoginFailure.attempted_at)).where(
            (LoginFailure.email == email) | (LoginFailure.client == client),
            LoginFailure.attempted_at > since,
        )
    )


def clear_failures(session: Session, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))


def forget_failures_before(session: Session, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.attempted_at <= before))
