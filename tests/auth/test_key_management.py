"""The key-management rules in ``auth.service`` that the admin API relies on."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from earlywarn.auth import service
from earlywarn.auth.models import FocalPoint
from earlywarn.types import Role


@pytest.fixture
def focal_point(session: Session) -> FocalPoint:
    focal_point = FocalPoint(name="Desk", email="desk@example.org", active=True)
    session.add(focal_point)
    session.flush()
    return focal_point


def test_issue_key_links_focal_point_keys(session: Session, focal_point: FocalPoint) -> None:
    key, raw = service.issue_key(
        session, name="desk", role=Role.FOCAL_POINT, focal_point_id=focal_point.id
    )
    principal = service.authenticate(session, raw)
    assert principal is not None
    assert principal.focal_point_id == focal_point.id
    assert principal.can("acknowledge")
    assert not principal.can("admin")
    assert key.key_hash == service.hash_key(raw) != raw


@pytest.mark.parametrize(
    ("role", "focal_point_given", "message"),
    [
        (Role.FOCAL_POINT, False, "needs focal_point_id"),
        (Role.ANALYST, True, "only allowed for role 'focal_point'"),
        (Role.ADMIN, True, "only allowed for role 'focal_point'"),
    ],
)
def test_issue_key_refuses_mismatched_focal_point_links(
    session: Session, focal_point: FocalPoint, role: Role, focal_point_given: bool, message: str
) -> None:
    with pytest.raises(service.InvalidKeyRequest, match=message):
        service.issue_key(
            session,
            name="x",
            role=role,
            focal_point_id=focal_point.id if focal_point_given else None,
        )
    assert service.repository.list_keys(session) == []


def test_issue_key_refuses_unknown_and_inactive_focal_points(
    session: Session, focal_point: FocalPoint
) -> None:
    with pytest.raises(service.InvalidKeyRequest, match="does not exist"):
        service.issue_key(session, name="x", role=Role.FOCAL_POINT, focal_point_id=10**6)
    focal_point.active = False
    with pytest.raises(service.KeyConflict, match="inactive"):
        service.issue_key(session, name="x", role=Role.FOCAL_POINT, focal_point_id=focal_point.id)


def test_revoke_key_checked_keeps_one_admin(session: Session) -> None:
    first, _ = service.create_key(session, name="a1", role=Role.ADMIN)
    second, second_raw = service.create_key(session, name="a2", role=Role.ADMIN)

    assert service.revoke_key_checked(session, second.id).revoked_at is not None
    assert service.authenticate(session, second_raw) is None
    with pytest.raises(service.KeyConflict, match="last active admin key"):
        service.revoke_key_checked(session, first.id)
    assert first.revoked_at is None
    with pytest.raises(service.KeyNotFound, match="does not exist"):
        service.revoke_key_checked(session, 10**6)


def test_revoke_keys_for_focal_point_leaves_other_keys(
    session: Session, focal_point: FocalPoint
) -> None:
    _, desk_raw = service.issue_key(
        session, name="desk", role=Role.FOCAL_POINT, focal_point_id=focal_point.id
    )
    _, analyst_raw = service.issue_key(session, name="analyst", role=Role.ANALYST)

    revoked = service.revoke_keys_for_focal_point(session, focal_point.id)

    assert [key.name for key in revoked] == ["desk"]
    assert service.authenticate(session, desk_raw) is None
    assert service.authenticate(session, analyst_raw) is not None
    assert service.revoke_keys_for_focal_point(session, focal_point.id) == []
