"""API keys: creation, hashing, verification and the role rules.

Keys are 256-bit random tokens, so a plain SHA-256 digest is enough to store them safely (a slow
password hash protects low-entropy secrets; these are not). Comparison happens on the digest
through an indexed lookup, so the key itself is never compared character by character.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from earlywarn.auth import cache, repository
from earlywarn.auth.models import ApiKey
from earlywarn.db import utc_now
from earlywarn.types import Role

KEY_PREFIX = "ew_"

# What each role may do. Acknowledging an alert is the one write a focal point may make;
# recording and reviewing analyst assessments ("assess") the one an analyst may make.
ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.ANALYST: frozenset({"read", "assess"}),
    Role.FOCAL_POINT: frozenset({"read", "acknowledge"}),
    Role.ADMIN: frozenset({"read", "acknowledge", "assess", "admin"}),
}


@dataclass(frozen=True)
class Principal:
    key_id: int
    name: str
    role: Role
    focal_point_id: int | None
    # As stored before this request; auth.usage decides from it whether a use is due.
    last_used_at: datetime | None = None

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}:{self.name}"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    focal_point_id: int | None = None,
    raw_key: str | None = None,
) -> tuple[ApiKey, str]:
    """Store a new key and return it with the raw key, which is never stored or shown again."""
    raw = raw_key or generate_key()
    if len(raw) < 24:
        raise ValueError("an API key must be at least 24 characters long")
    key = ApiKey(
        name=name,
        role=role,
        key_prefix=raw[:10],
        key_hash=hash_key(raw),
        focal_point_id=focal_point_id,
    )
    return repository.add(session, key), raw


def authenticate(session: Session, raw_key: str) -> Principal | None:
    return authenticate_hash(session, hash_key(raw_key))


def authenticate_hash(session: Session, key_hash: str) -> Principal | None:
    key = repository.get_by_hash(session, key_hash)
    if key is None or key.revoked_at is not None:
        return None
    # No write here: a read must not need a writable database (auth.usage records the use).
    return Principal(key.id, key.name, key.role, key.focal_point_id, key.last_used_at)


def ensure_bootstrap_admin(session: Session, raw_key: str | None) -> bool:
    """Register the configured bootstrap admin key once, when no admin key exists yet."""
    if not raw_key:
        return False
    if repository.get_by_hash(session, hash_key(raw_key)) is not None:
        return False
    if repository.count_active_with_role(session, Role.ADMIN) > 0:
        return False
    create_key(session, name="bootstrap-admin", role=Role.ADMIN, raw_key=raw_key)
    return True


# --- key management through the API ---------------------------------------------------------
# The functions below enforce the rules an admin must follow when managing keys over HTTP;
# ``create_key`` above stays unconditional for the bootstrap key, the CLI and tests.


class KeyRequestError(ValueError):
    """A key request that cannot be honoured as asked; the message says why."""


class InvalidKeyRequest(KeyRequestError):
    """The request itself is inconsistent (e.g. a focal point key without a focal point)."""


class KeyNotFound(KeyRequestError):
    """No key has the given id."""


class KeyConflict(KeyRequestError):
    """The request conflicts with the current state (inactive focal point, last admin key)."""


def issue_key(
    session: Session, *, name: str, role: Role, focal_point_id: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key after checking that its focal point link fits its role.

    A focal point key acts (acknowledges) on behalf of one focal point, so it must name an
    existing, active focal point; analyst and admin keys act for no one and must not name one.
    """
    if role is Role.FOCAL_POINT:
        if focal_point_id is None:
            raise InvalidKeyRequest("a focal_point key needs focal_point_id")
        focal_point = repository.get_focal_point(session, focal_point_id)
        if focal_point is None:
            raise InvalidKeyRequest(f"focal point {focal_point_id} does not exist")
        if not focal_point.active:
            raise KeyConflict(
                f"focal point {focal_point_id} is inactive; reactivate it before issuing keys"
            )
    elif focal_point_id is not None:
        raise InvalidKeyRequest(
            f"focal_point_id is only allowed for role 'focal_point', not '{role}'"
        )
    return create_key(session, name=name, role=role, focal_point_id=focal_point_id)


def revoke_key_checked(session: Session, key_id: int) -> ApiKey:
    """Revoke a key (idempotent), refusing to revoke the last active admin key.

    Without an admin key nobody could manage keys again over the API.
    """
    key = repository.get(session, key_id)
    if key is None:
        raise KeyNotFound(f"API key {key_id} does not exist")
    if key.revoked_at is not None:
        return key
    if key.role is Role.ADMIN and repository.count_active_with_role(session, Role.ADMIN) <= 1:
        raise KeyConflict(
            f"API key {key_id} is the last active admin key; create another admin key first"
        )
    key.revoked_at = utc_now()
    session.flush()
    cache.forget_on_revoke(session)
    return key


def revoke_keys_for_focal_point(session: Session, focal_point_id: int) -> list[ApiKey]:
    """Revoke every active key of a focal point; returns the keys revoked."""
    keys = repository.list_active_for_focal_point(session, focal_point_id)
    revoked_at = utc_now()
    for key in keys:
        key.revoked_at = revoked_at
    session.flush()
    if keys:
        cache.forget_on_revoke(session)
    return keys
