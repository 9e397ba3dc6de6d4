from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from earlywarn.auth.models import ApiKey, FocalPoint
from earlywarn.types import Role


def get_by_hash(session: Session, key_hash: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).one_or_none()


def get(session: Session, key_id: int) -> ApiKey | None:
    return session.get(ApiKey, key_id)


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def count_active_with_role(session: Session, role: Role) -> int:
    return len(
        list(
            session.scalars(
                select(ApiKey.id).where(ApiKey.role == role, ApiKey.revoked_at.is_(None))
            )
        )
    )


def add(session: Session, key: ApiKey) -> ApiKey:
    session.add(key)
    session.flush()
    return key


def list_active_for_focal_point(session: Session, focal_point_id: int) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.focal_point_id == focal_point_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.id)
        )
    )


def get_focal_point(session: Session, focal_point_id: int) -> FocalPoint | None:
    return session.get(FocalPoint, focal_point_id)
