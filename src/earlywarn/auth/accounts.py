"""Human accounts: passwords (argon2), sign-in with throttling, sessions and CSRF tokens.

The rules of who may do what are the API keys' (``ROLE_PERMISSIONS``); a user only differs
from a key in how it proves who it is. Services never commit: the request does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwdlib import PasswordHash
from sqlalchemy.orm import Session

from earlywarn.auth import account_repository as repository
from earlywarn.auth.account_models import LoginFailure, User, WebSession
from earlywarn.auth.models import FocalPoint
from earlywarn.auth.service import ROLE_PERMISSIONS
from earlywarn.db import utc_now
from earlywarn.types import Role

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 1024  # argon2 takes any length; this only bounds the work per request
SESSION_LIFETIME = timedelta(hours=12)
# Throttling: after this many failures in the window, sign-in is refused until the oldest
# failure leaves the window. Per address (guessing one password) and per client (spraying).
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20

_hasher = PasswordHash.recommended()
# Verified against when the address is unknown, so a wrong address costs the same time as a
# wrong password and does not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A request about an account that cannot be honoured; the message says why."""


class LoginFailed(AccountError):
    """Wrong address or password (never says which)."""


class LoginThrottled(AccountError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            f"too many failed sign-ins; try again in {max(1, retry_after_seconds // 60)} minutes"
        )
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class WebUser:
    """The signed-in person of a request."""

    user_id: int
    email: str
    role: Role
    focal_point_id: int | None
    session_id: int
    csrf_token: str

    def can(self, permission: str) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    @property
    def actor(self) -> str:
        """How audit trails name this person (keys are ``key:<id>:<name>``)."""
        return f"user:{self.user_id}:{self.email}"


def normalise_email(email: str) -> str:
    address = email.strip().lower()
    local, _, domain = address.partition("@")
    if not local or not domain or len(address) > 320 or any(c.isspace() for c in address):
        raise AccountError(f"{email!r} is not an e-mail address")
    return address


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AccountError(f"a password needs at least {PASSWORD_MIN_LENGTH} characters")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise AccountError(f"a password may have at most {PASSWORD_MAX_LENGTH} characters")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    focal_point_id: int | None = None,
) -> User:
    """A new account. A focal-point user must name an existing focal point; others none."""
    address = normalise_email(email)
    check_password_rules(password)
    if role is Role.FOCAL_POINT:
        if focal_point_id is None:
            raise AccountError("a focal_point user needs a focal point (--focal-point-id)")
        if session.get(FocalPoint, focal_point_id) is None:
            raise AccountError(f"focal point {focal_point_id} does not exist")
    elif focal_point_id is not None:
        raise AccountError(f"only a focal_point user is linked to a focal point, not '{role}'")
    if repository.user_by_email(session, address) is not None:
        raise AccountError(f"a user with the address {address} already exists")
    user = User(
        email=address,
        password_hash=_hasher.hash(password),
        role=role,
        focal_point_id=focal_point_id,
    )
    repository.add(session, user)
    return user


def _web_user(user: User, web_session: WebSession) -> WebUser:
    return WebUser(
        user_id=user.id,
        email=user.email,
        role=user.role,
        focal_point_id=user.focal_point_id,
        session_id=web_session.id,
        csrf_token=web_session.csrf_token,
    )


def login(
    session: Session, *, email: str, password: str, client: str, now: datetime | None = None
) -> tuple[WebUser, str]:
    """Check the password and open a session; returns the user and the cookie token.

    Raises LoginThrottled before looking at the password when the window is full, and
    LoginFailed (recording the failure) for a wrong address, password or a disabled account.
    """
    now = now or utc_now()
    address = email.strip().lower()[:320]
    client = client[:64]
    since = now - THROTTLE_WINDOW
    by_email, by_client = repository.failures_since(
        session, email=address, client=client, since=since
    )
    if by_email >= MAX_FAILURES_PER_EMAIL or by_client >= MAX_FAILURES_PER_CLIENT:
        oldest = repository.oldest_failure_since(session, email=address, client=client, since=since)
        retry = int(((oldest or now) + THROTTLE_WINDOW - now).total_seconds()) + 1
        raise LoginThrottled(retry)
    user = repository.user_by_email(session, address)
    valid, new_hash = _hasher.verify_and_update(
        password[:PASSWORD_MAX_LENGTH], user.password_hash if user else _DUMMY_HASH
    )
    if user is None or not valid or user.disabled_at is not None:
        repository.add(session, LoginFailure(email=address, client=client, attempted_at=now))
        raise LoginFailed("wrong e-mail address or password")
    if new_hash is not None:  # the hashing parameters were raised since it was stored
        user.password_hash = new_hash
    repository.clear_failures(session, address)
    repository.forget_failures_before(session, since)
    repository.delete_expired_sessions(session, now)
    token = secrets.token_urlsafe(32)
    web_session = WebSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
    )
    repository.add(session, web_session)
    user.last_login_at = now
    return _web_user(user, web_session), token


def user_for_token(session: Session, token: str, now: datetime | None = None) -> WebUser | None:
    """The user a session cookie belongs to, or None when it is unknown, expired or disabled."""
    now = now or utc_now()
    web_session = repository.session_by_token_hash(session, _token_hash(token))
    if web_session is None or web_session.expires_at <= now:
        return None
    user = repository.get_user(session, web_session.user_id)
    if user is None or user.disabled_at is not None:
        return None
    return _web_user(user, web_session)


def logout(session: Session, session_id: int) -> None:
    repository.delete_session(session, session_id)


def change_password(session: Session, web_user: WebUser, *, current: str, new: str) -> None:
    """Replace the password; every other session of the user ends (this one stays)."""
    user = repository.get_user(session, web_user.user_id)
    if user is None:
        raise AccountError("this account no longer exists")
    if not _hasher.verify(current[:PASSWORD_MAX_LENGTH], user.password_hash):
        raise AccountError("the current password is wrong")
    check_password_rules(new)
    if new == current:
        raise AccountError("the new password must differ from the current one")
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = utc_now()
    repository.delete_sessions(session, user.id, keep_id=web_user.session_id)


def set_disabled(session: Session, user_id: int, *, disabled: bool, by: WebUser) -> User:
    """Disable (ending its sessions) or re-enable an account; nobody disables themself."""
    user = repository.get_user(session, user_id)
    if user is None:
        raise AccountError(f"user {user_id} does not exist")
    if user.id == by.user_id:
        raise AccountError("you cannot disable your own account")
    if disabled and user.disabled_at is None:
        user.disabled_at = utc_now()
        repository.delete_sessions(session, user.id)
    elif not disabled:
        user.disabled_at = None
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return repository.list_users(session)
